"""The "explanation" of a /v1/backprop answer asked for with "explain": true.

    "explanation": {"sample": 0, "layers": [{"deltas": [
        {"index": [1], "text": "delta^2_2 = o_2(1 - o_2)(o_2 - t_2) = ...",
         "latex": "\\\\delta^{2}_{2} = ..."}, ...], ...}, ...]}

Each entry's index is its place in the answer's array of the same name (for a flat single
sample, per-sample arrays are flat and so is the index).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from engine.explain import PER_SAMPLE, Entry
from schemas.worked import written

_PER_SAMPLE = frozenset({"pre_activations", "activations", "deltas"})


class WorkedEntry(BaseModel):
    index: list[int] = Field(description="the entry's place in the answer's array")
    text: str = Field(description="the formula, then the numbers, then the value")
    latex: str


class LayerExplanation(BaseModel):
    pre_activations: list[WorkedEntry]
    activations: list[WorkedEntry]
    deltas: list[WorkedEntry]
    weight_gradients: list[WorkedEntry]
    bias_gradients: list[WorkedEntry]
    updated_weights: list[WorkedEntry]
    updated_biases: list[WorkedEntry]


class Explanation(BaseModel):
    sample: int = Field(description="the sample whose per-sample quantities are worked")
    layers: list[LayerExplanation]


def explanation_payload(
    layers: list[dict[str, list[Entry]]], *, sample: int, single_sample: bool
) -> dict[str, Any]:
    """The "explanation" of an answer: engine/explain.py's equations, written out."""
    return {
        "sample": sample,
        "layers": [
            {
                quantity: [_worked_entry(entry, quantity, single_sample) for entry in entries]
                for quantity, entries in layer.items()
            }
            for layer in layers
        ],
    }


def _worked_entry(entry: Entry, quantity: str, single_sample: bool) -> dict[str, Any]:
    formula = written(entry.equation)
    flat = single_sample and quantity in PER_SAMPLE
    return {
        "index": list(entry.index[1:] if flat else entry.index),
        "text": formula.text,
        "latex": formula.latex,
    }
