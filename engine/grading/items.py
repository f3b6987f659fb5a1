"""The quantities a backprop answer consists of, and the graded items they make.

An item is one quantity of the whole network ("loss", "outputs") or of one layer ("layer 2
deltas"). Its id is its path in a /v1/backprop answer, layers indexed from 0 as in JSON
("layers[1].deltas"); its name numbers layers from 1, as the textbook does.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from engine import network
from engine.network import Backprop
from engine.types import FloatArray

Quantity = Literal["loss", "outputs", network.LayerQuantity]  # one flat Literal

NETWORK_QUANTITIES: tuple[Quantity, ...] = ("loss", "outputs")
LAYER_QUANTITIES: tuple[Quantity, ...] = network.LAYER_QUANTITIES
QUANTITIES: tuple[Quantity, ...] = (*NETWORK_QUANTITIES, *LAYER_QUANTITIES)

PER_SAMPLE: frozenset[Quantity] = frozenset({"outputs", "pre_activations", "activations", "deltas"})
"""Quantities with one row per sample, shape (n_samples, n_units)."""

_WORDS: dict[Quantity, str] = {
    "loss": "loss",
    "outputs": "outputs",
    "pre_activations": "pre-activations z",
    "activations": "activations a",
    "deltas": "deltas",
    "weight_gradients": "weight gradients dL/dW",
    "bias_gradients": "bias gradients dL/db",
    "updated_weights": "updated weights",
    "updated_biases": "updated biases",
}


class ItemKey(NamedTuple):
    """One graded quantity: of the network (layer None) or of layers[layer] (0-based).

    A named tuple, not a dataclass: graders look items up in dicts thousands of times.
    """

    quantity: Quantity
    layer: int | None = None

    @property
    def id(self) -> str:
        """The item's path in a /v1/backprop answer: "loss", "layers[1].deltas"."""
        return self.quantity if self.layer is None else f"layers[{self.layer}].{self.quantity}"

    @property
    def name(self) -> str:
        """The item in words, layers numbered from 1: "layer 2 deltas"."""
        words = _WORDS[self.quantity]
        return words if self.layer is None else f"layer {self.layer + 1} {words}"


def all_items(n_layers: int, quantities: tuple[Quantity, ...] = QUANTITIES) -> list[ItemKey]:
    """The items of a network with n_layers layers for the given quantities, in answer order."""
    keys = [ItemKey(q) for q in NETWORK_QUANTITIES if q in quantities]
    keys += [
        ItemKey(q, layer) for layer in range(n_layers) for q in LAYER_QUANTITIES if q in quantities
    ]
    return keys


def answer_arrays(result: Backprop) -> dict[ItemKey, FloatArray]:
    """Every item of a backprop result as an array: per-sample ones as (n_samples, n) rows."""
    fwd = result.forward
    arrays: dict[ItemKey, FloatArray] = {
        ItemKey("loss"): np.asarray(result.loss, dtype=np.float64),
        ItemKey("outputs"): fwd.outputs,
    }
    for i, (z, a, grads) in enumerate(
        zip(fwd.pre_activations, fwd.activations, result.layers, strict=True)
    ):
        arrays[ItemKey("pre_activations", i)] = z
        arrays[ItemKey("activations", i)] = a
        arrays[ItemKey("deltas", i)] = grads.delta
        arrays[ItemKey("weight_gradients", i)] = grads.weight_gradient
        arrays[ItemKey("bias_gradients", i)] = grads.bias_gradient
        arrays[ItemKey("updated_weights", i)] = grads.updated_weights
        arrays[ItemKey("updated_biases", i)] = grads.updated_biases
    return arrays
