"""Every last-layer activation x every loss form: grading and worked formulas hold up.

For each combination (the hidden activation taken in turn, both layouts) the reference answer
gets full marks, a slip in one delta fails that item only, and every worked formula ends in
the answer's value with numbers that evaluate to it (where they are plain arithmetic).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import orjson
import pytest

from app import services
from engine import DomainError
from schemas import BackpropRequest
from schemas.grading import GradeRequest

HIDDEN: list[Any] = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    {"name": "leaky_relu", "negative_slope": 0.2},
    "elu",
    "selu",
    "gelu",
    {"name": "gelu", "approximate": "tanh"},
    "softplus",
    "silu",
]
LAST = [*HIDDEN, "softmax"]
LOSSES: list[Any] = [
    "mse",
    {"name": "mse", "reduction": "mean"},
    {"name": "mse", "reduction": "batch_mean", "half": False},
    "cross_entropy",
    {"name": "cross_entropy", "from_logits": True, "reduction": "mean"},
    {"name": "cross_entropy", "label_smoothing": 0.1},
    "binary_cross_entropy",
    {"name": "binary_cross_entropy", "from_logits": True},
    "l1",
    {"name": "huber", "delta": 0.3},
    {"name": "smooth_l1", "beta": 0.5},
]
ARITHMETIC = re.compile(r"^[0-9eE.+\-*/() ^]+$")

CASES = [
    (HIDDEN[i % len(HIDDEN)], last, loss, ("textbook", "pytorch")[i % 2])
    for i, (last, loss) in enumerate(itertools.product(LAST, LOSSES))
]


def body_for(hidden: Any, last: Any, loss: Any, conventions: str) -> dict[str, Any]:
    W1 = [[0.1, -0.3, 0.5], [0.2, 0.4, -0.6]]
    W2 = [[0.7, -0.8], [0.9, 1.0], [-1.1, 0.2]]
    if conventions == "pytorch":
        W1, W2 = [list(r) for r in zip(*W1, strict=True)], [list(r) for r in zip(*W2, strict=True)]
    return {
        "network": {
            "layers": [
                {"weights": W1, "biases": [0.1, 0.0, -0.1], "activation": hidden},
                {"weights": W2, "biases": [0.2, -0.2], "activation": last},
            ]
        },
        "inputs": [[1.0, 2.0], [0.5, -1.0]],
        "targets": [[0.0, 1.0], [1.0, 0.0]],
        "loss": loss,
        "learning_rate": 0.5,
        "conventions": conventions,
    }


def _at(value: Any, index: list[int]) -> float:
    for i in index:
        value = value[i]
    return float(value)


@pytest.mark.parametrize(("hidden", "last", "loss", "conventions"), CASES, ids=str)
def test_grading_and_formulas_hold_for_every_combination(
    hidden: Any, last: Any, loss: Any, conventions: str
) -> None:
    body = body_for(hidden, last, loss, conventions)
    request = BackpropRequest.model_validate_json(
        orjson.dumps({**body, "explain": True, "explain_sample": 1})
    )
    try:
        answer = orjson.loads(
            orjson.dumps(services.backprop(request), option=orjson.OPT_SERIALIZE_NUMPY)
        )
    except DomainError:  # a last layer whose outputs the loss cannot take: a 422 elsewhere
        return
    for layer, explanation in zip(answer["layers"], answer["explanation"]["layers"], strict=True):
        for quantity, entries in explanation.items():
            for entry in entries:
                value = _at(layer[quantity], entry["index"])
                *_, numbers, result = entry["text"].split(" = ")
                assert result == f"{value:.4g}", entry["text"]
                if ARITHMETIC.match(numbers) and "/ (0 * (1 - 0))" not in numbers:
                    evaluated = eval(numbers.replace("^", "**"), {"e": math.e})
                    assert math.isclose(evaluated, value, rel_tol=2e-2, abs_tol=2e-3), entry["text"]

    submission = {
        "loss": answer["loss"],
        "layers": [
            {"deltas": la["deltas"], "weight_gradients": la["weight_gradients"]}
            for la in answer["layers"]
        ],
    }
    options = {"problem": body, "quantities": ["loss", "deltas", "weight_gradients"]}
    right = services.grade(
        GradeRequest.model_validate_json(orjson.dumps({**options, "submission": submission}))
    )
    assert right["score"] == right["max_score"] == 5.0
    submission["layers"][1]["deltas"][0][0] += 1.0
    slip = services.grade(
        GradeRequest.model_validate_json(orjson.dumps({**options, "submission": submission}))
    )
    failed = [item["id"] for item in slip["items"] if item["status"] == "failed"]
    assert failed == ["layers[1].deltas"]
