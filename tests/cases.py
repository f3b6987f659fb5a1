"""Random but valid /v1/backprop requests, drawn by Hypothesis, for every activation and loss.

A case fixes the activation under test and the loss; Hypothesis draws the depth, the widths, the
batch size, the conventions and a seed, and the values come from NumPy's generator seeded with it
(continuous values: a weight of exactly 0.0 would only test the kinks, which have tests of their
own in test_conventions.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

ACTIVATIONS: list[Any] = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    {"name": "leaky_relu", "negative_slope": 0.2},
    {"name": "elu", "alpha": 0.7},
    "selu",
    {"name": "gelu", "approximate": "none"},
    {"name": "gelu", "approximate": "tanh"},
    {"name": "softplus", "beta": 2.0, "threshold": 3.0},
    "silu",
    "softmax",
]

LOSSES: list[Any] = [
    "mse",
    {"name": "mse", "reduction": "mean", "half": False},
    {"name": "mse", "reduction": "batch_mean"},
    "l1",
    {"name": "huber", "delta": 0.5},
    {"name": "smooth_l1", "beta": 0.5},
    "cross_entropy",
    {"name": "cross_entropy", "from_logits": True, "label_smoothing": 0.1},
    "binary_cross_entropy",
    {"name": "binary_cross_entropy", "from_logits": True},
]

CONVENTIONS: list[dict[str, Any]] = [
    {"conventions": "textbook"},
    {"conventions": "pytorch"},
    {"conventions": "textbook", "weight_layout": "out_in"},
    {"conventions": "pytorch", "weight_layout": "in_out", "relu_grad_at_zero": 1},
    {"conventions": "keras"},
]


def name_of(spec: Any) -> str:
    return str(spec if isinstance(spec, str) else spec["name"])


def label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    params = ",".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec['name']}({params})"


def layer_activations(activation: Any, loss: Any, depth: int) -> list[Any]:
    """The activation under test in every layer it may take, the output layer made fit the loss.

    Softmax may only be last, so hidden layers take tanh. A loss over probabilities (without
    from_logits) needs outputs in (0, 1): the output layer takes softmax for cross-entropy and
    sigmoid for binary cross-entropy, unless the activation under test already gives such outputs.
    """
    loss_name = name_of(loss)
    from_logits = isinstance(loss, dict) and loss.get("from_logits", False)
    hidden = "tanh" if name_of(activation) == "softmax" else activation
    last = activation
    if not from_logits and loss_name == "cross_entropy" and name_of(activation) not in (
        "softmax", "sigmoid"
    ):  # fmt: skip
        last = "softmax"
    if not from_logits and loss_name == "binary_cross_entropy" and name_of(activation) not in (
        "softmax", "sigmoid"
    ):  # fmt: skip
        last = "sigmoid"
    return [*([hidden] * (depth - 1)), last]


@st.composite
def backprop_requests(draw: st.DrawFn, activation: Any, loss: Any) -> dict[str, Any]:
    """A valid /v1/backprop request (as JSON data) with this activation and loss."""
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    if name_of(layer_activations(activation, loss, depth)[-1]) == "softmax":
        widths[-1] = max(widths[-1], 2)  # a softmax over one unit is the constant 1
    n_samples = draw(st.integers(1, 3))
    conventions = draw(st.sampled_from(CONVENTIONS))
    flat = n_samples == 1 and draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    own_layout = {"textbook": "in_out", "pytorch": "out_in", "keras": "in_out"}
    out_in = conventions.get("weight_layout", own_layout[conventions["conventions"]]) == "out_in"
    layers = []
    for n_in, n_out, act in zip(
        widths, widths[1:], layer_activations(activation, loss, depth), strict=False
    ):
        shape = (n_out, n_in) if out_in else (n_in, n_out)
        layers.append({
            "weights": rng.normal(0.0, 1.0, shape).tolist(),
            "biases": rng.normal(0.0, 0.5, n_out).tolist(),
            "activation": act,
        })  # fmt: skip
    inputs = rng.normal(0.0, 1.0, (n_samples, widths[0]))
    request: dict[str, Any] = {
        "network": {"layers": layers},
        "inputs": inputs[0].tolist() if flat else inputs.tolist(),
        "targets": _targets(draw, rng, loss, n_samples, widths[-1], flat=flat),
        "loss": loss,
        "learning_rate": float(draw(st.sampled_from([0.1, 0.5, 1.0]))),
        **conventions,
    }
    if draw(st.booleans()):
        request["ascent"] = True
    return request


def _targets(
    draw: st.DrawFn, rng: np.random.Generator, loss: Any, n: int, n_out: int, *, flat: bool
) -> Any:
    name = name_of(loss)
    if name == "cross_entropy":
        kind = draw(st.sampled_from(["classes", "one_hot", "probabilities"]))
        classes = rng.integers(0, n_out, n)
        if kind == "classes":
            return int(classes[0]) if flat else classes.tolist()
        rows = np.eye(n_out)[classes] if kind == "one_hot" else rng.dirichlet(np.ones(n_out), n)
    elif name == "binary_cross_entropy":
        rows = rng.uniform(0.0, 1.0, (n, n_out))
    else:
        rows = rng.normal(0.0, 1.0, (n, n_out))
    return rows[0].tolist() if flat else rows.tolist()
