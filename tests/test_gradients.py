"""Every activation x loss x convention against the independent oracle (tests/reference.py).

The service's answer (schemas -> engine -> JSON, as a route computes it) must match:
  - the oracle's forward pass (z, a, outputs, loss) to rtol 1e-10, atol 1e-12 (only the order of
    the float64 sums differs);
  - the oracle's central differences (deltas, dL/dW, dL/db, dL/dx, and the gradient implied by
    the updated parameters) to FD_RTOL = 1e-6, FD_ATOL = 1e-8 (see reference.py for why).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import assume, given

from app.services import backprop, dumps
from engine import activations
from schemas import BackpropRequest
from tests import reference
from tests.cases import ACTIVATIONS, LOSSES, backprop_requests, label, name_of

FORWARD_RTOL = 1e-10
FORWARD_ATOL = 1e-12
KINKED = {"relu", "leaky_relu", "elu", "selu"}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The service's answer as a client reads it: computed, written as JSON, parsed back."""
    parsed: dict[str, Any] = orjson.loads(dumps(backprop(BackpropRequest.model_validate(request))))
    return parsed


def rows(value: Any) -> Any:
    return value if isinstance(value[0], list) else [value]


def away_from_kinks(request: dict[str, Any]) -> bool:
    """Whether every z and output is further than 1e-3 from a kink (where FD is meaningless)."""
    zs, acts = reference.forward(request)
    for layer, z_rows in zip(request["network"]["layers"], zs, strict=True):
        spec = layer["activation"]
        name = name_of(spec)
        if name in KINKED and any(abs(z) < 1e-3 for row in z_rows for z in row):
            return False
        if name == "softplus":
            beta, threshold = spec["beta"], spec["threshold"]
            if any(abs(beta * z - threshold) < 1e-3 for row in z_rows for z in row):
                return False
    loss = reference.conventions_of(request).loss
    targets = reference.target_rows(request, len(acts[-1][0]))
    gaps = [abs(o - t) for o_row, t_row in zip(acts[-1], targets, strict=True)
            for o, t in zip(o_row, t_row, strict=True)]  # fmt: skip
    if loss["name"] == "l1" and min(gaps) < 1e-3:
        return False
    fused = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
    last = name_of(request["network"]["layers"][-1]["activation"])
    if loss["name"] in fused and not loss.get("from_logits") and fused[loss["name"]] != last:
        # log(o) and log(1 - o) of outputs within 1e-6 of 0 or 1 have too few digits left for a
        # finite difference (the fused sigmoid and softmax cases take logs from z and are safe)
        outputs = [o for row in acts[-1] for o in row]
        if min(*outputs, 1 - max(outputs)) < 1e-6:
            return False
    if loss["name"] == "smooth_l1" and min(abs(g - loss.get("beta", 1.0)) for g in gaps) < 1e-3:
        return False  # L'' jumps at |o - t| = beta: a central difference there is O(h), not O(h^2)
    return not (loss["name"] == "huber" and min(abs(g - loss["delta"]) for g in gaps) < 1e-3)


def check_against_oracle(request: dict[str, Any], got: dict[str, Any]) -> None:
    zs, acts = reference.forward(request)
    flat = not isinstance(request["inputs"][0], list)
    close = {"rtol": FORWARD_RTOL, "atol": FORWARD_ATOL}
    reference.assert_close(got["loss"], reference.loss_value(request, acts[-1], zs[-1]), **close,
                           what="loss")  # fmt: skip
    reference.assert_close(rows(got["outputs"]), acts[-1], **close, what="outputs")
    for i, (layer, z, a) in enumerate(zip(got["layers"], zs, acts, strict=True)):
        assert isinstance(layer["pre_activations"][0], list) != flat, "flat in, flat out"
        reference.assert_close(rows(layer["pre_activations"]), z, **close, what=f"z[{i}]")
        reference.assert_close(rows(layer["activations"]), a, **close, what=f"a[{i}]")

    numeric = reference.numeric_gradients(request)
    fd = {"rtol": reference.FD_RTOL, "atol": reference.FD_ATOL}
    lr = request["learning_rate"]
    sign = -1.0 if request.get("ascent") else 1.0
    for i, (layer, spec) in enumerate(
        zip(got["layers"], request["network"]["layers"], strict=True)
    ):
        reference.assert_close(
            rows(layer["deltas"]), numeric["deltas"][i], **fd, what=f"deltas[{i}]"
        )
        reference.assert_close(layer["weight_gradients"], numeric["weight_gradients"][i], **fd,
                               what=f"weight_gradients[{i}]")  # fmt: skip
        reference.assert_close(layer["bias_gradients"], numeric["bias_gradients"][i], **fd,
                               what=f"bias_gradients[{i}]")  # fmt: skip
        implied_W = [
            [sign * (w - u) / lr for w, u in zip(w_row, u_row, strict=True)]
            for w_row, u_row in zip(spec["weights"], layer["updated_weights"], strict=True)
        ]
        implied_b = [
            sign * (b - u) / lr
            for b, u in zip(spec["biases"], layer["updated_biases"], strict=True)
        ]
        reference.assert_close(implied_W, numeric["weight_gradients"][i], **fd,
                               what=f"updated_weights[{i}]")  # fmt: skip
        reference.assert_close(implied_b, numeric["bias_gradients"][i], **fd,
                               what=f"updated_biases[{i}]")  # fmt: skip
    reference.assert_close(rows(got["input_gradients"]), numeric["input_gradients"], **fd,
                           what="input_gradients")  # fmt: skip


@pytest.mark.parametrize("loss", LOSSES, ids=label)
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=label)
def test_backprop_matches_finite_differences(activation: Any, loss: Any) -> None:
    @given(backprop_requests(activation, loss))
    def check(request: dict[str, Any]) -> None:
        assume(away_from_kinks(request))
        check_against_oracle(request, answer(request))

    check()


def test_the_check_fails_on_a_wrong_activation_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: tanh'(z) written as 1 - tanh(z) (a plausible slip) must be caught."""
    request = {
        "network": {"layers": [
            {"weights": [[0.3, -0.8], [0.5, 0.1]], "biases": [0.1, -0.2], "activation": "tanh"},
            {"weights": [[0.7], [-0.4]], "biases": [0.05], "activation": "sigmoid"},
        ]},
        "inputs": [[0.5, -1.5]], "targets": [[1.0]], "learning_rate": 0.1,
    }  # fmt: skip
    check_against_oracle(request, answer(request))
    monkeypatch.setattr(activations.Tanh, "derivative", lambda self, z, a: 1.0 - a)
    with pytest.raises(AssertionError, match=r"deltas\[0\]"):
        check_against_oracle(request, answer(request))


def test_the_check_fails_on_a_wrong_loss_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: the MSE gradient without its factor 2 (half forgotten) must be caught."""
    from engine import losses

    request = {
        "network": {"layers": [
            {"weights": [[0.3], [0.5]], "biases": [0.1], "activation": "linear"},
        ]},
        "inputs": [[0.5, -1.5]], "targets": [[1.0]], "learning_rate": 0.1,
        "loss": {"name": "mse", "half": False},
    }  # fmt: skip
    check_against_oracle(request, answer(request))
    monkeypatch.setattr(losses.MSE, "gradient", lambda self, o, y: o - y)
    with pytest.raises(AssertionError, match=r"deltas\[0\]"):
        check_against_oracle(request, answer(request))


def test_finite_differences_resolve_the_tolerance_they_claim() -> None:
    """The oracle's own error on a case with a known derivative is far below FD_RTOL."""
    request = {
        "network": {"layers": [{"weights": [[1.3]], "biases": [0.2], "activation": "sigmoid"}]},
        "inputs": [[0.7]], "targets": [[0.0]], "learning_rate": 0.1,
    }  # fmt: skip
    z = 1.3 * 0.7 + 0.2
    o = 1.0 / (1.0 + math.exp(-z))
    exact_delta = o * (1.0 - o) * o  # textbook: (o - t) o (1 - o), t = 0
    numeric = reference.numeric_gradients(request)["deltas"][0][0][0]
    assert abs(numeric - exact_delta) < 1e-3 * reference.FD_RTOL * abs(exact_delta) + 1e-12


@pytest.mark.parametrize("loss", [
    "cross_entropy", {"name": "cross_entropy", "from_logits": True, "reduction": "mean"},
])  # fmt: skip
def test_cross_entropy_of_targets_that_do_not_sum_to_one_matches_finite_differences(
    loss: Any,
) -> None:
    """Weights over classes, not a distribution: dL/dz = p sum(t) - t, not p - t (which is right
    only when the row sums to 1). Softmax last layer (the fused form), or logits."""
    last = "softmax" if loss == "cross_entropy" else "linear"
    request = {
        "network": {"layers": [
            {"weights": [[0.3, -0.8], [0.5, 0.1]], "biases": [0.1, -0.2], "activation": "tanh"},
            {"weights": [[0.7, -0.4, 0.2], [-0.3, 0.6, 0.9]], "biases": [0.05, 0.0, -0.1],
             "activation": last},
        ]},
        "inputs": [[0.5, -1.5], [1.0, 0.25]], "targets": [[0.2, 0.3, 0.1], [0.5, 0.0, 0.9]],
        "loss": loss, "learning_rate": 0.1,
    }  # fmt: skip
    check_against_oracle(request, answer(request))
