"""smooth_l1: PyTorch's SmoothL1Loss, worked by hand at both branches and at |o - t| = beta.

With d = o - t: L = sum of d^2 / (2 beta) where |d| < beta, |d| - beta/2 elsewhere, and
dL/do = d / beta inside, sign(d) outside (torch.nn.SmoothL1Loss's documentation). The figures
below are chosen to be exact in binary, so most comparisons are exact; PyTorch float64 parity
is in tests/test_torch_oracle.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from engine import losses
from engine.losses import Huber, SmoothL1
from engine.types import FloatArray
from tests import reference
from tests.test_gradients import answer, check_against_oracle

pytestmark = pytest.mark.anyio


def probe(loss: Any, targets: Any, **extra: Any) -> dict[str, Any]:
    """One linear layer with zero weights: the outputs are the biases, o = (1.5, -0.25, 3),
    for every sample; the input 2 makes dL/dW = 2 delta exactly."""
    return {
        "network": {"layers": [
            {"weights": [[0.0, 0.0, 0.0]], "biases": [1.5, -0.25, 3.0], "activation": "linear"},
        ]},
        "inputs": [[2.0]] * len(targets), "targets": targets, "loss": loss,
        "learning_rate": 0.5, **extra,
    }  # fmt: skip


# d = o - t = (0.25, -0.5, 2.0) with beta = 0.5: inside, exactly at -beta, outside.
TARGETS = [[1.25, 0.25, 1.0]]
INSIDE = 0.5 * 0.25**2 / 0.5  # d^2 / (2 beta) = 0.0625, gradient d / beta = 0.5
AT_BETA = 0.5 - 0.5 / 2  # |d| - beta / 2 = 0.25 (the quadratic side gives 0.25 too), gradient -1
OUTSIDE = 2.0 - 0.5 / 2  # 1.75, gradient 1


def test_hand_worked_values_inside_at_beta_and_outside() -> None:
    got = answer(probe({"name": "smooth_l1", "beta": 0.5}, TARGETS))
    assert got["loss"] == INSIDE + AT_BETA + OUTSIDE == 2.0625
    assert got["layers"][0]["deltas"] == [[0.5, -1.0, 1.0]]
    assert got["layers"][0]["weight_gradients"] == [[1.0, -2.0, 2.0]]
    assert got["layers"][0]["updated_biases"] == [1.5 - 0.25, -0.25 + 0.5, 3.0 - 0.5]
    assert got["conventions"]["loss"] == {"name": "smooth_l1", "reduction": "sum", "beta": 0.5}


def test_the_mean_is_over_every_element_and_beta_defaults_to_1() -> None:
    # beta = 1: d = (0.25, -0.5, 2.0) and (0.5, 1.25, -1.0) are inside, inside, outside and
    # inside, outside, exactly at -beta.
    targets = [[1.25, 0.25, 1.0], [1.0, -1.5, 4.0]]
    got = answer(probe("smooth_l1", targets, conventions="pytorch", weight_layout="in_out"))
    total = (0.25**2 / 2 + 0.5**2 / 2 + (2.0 - 0.5)) + (0.5**2 / 2 + (1.25 - 0.5) + (1.0 - 0.5))
    assert got["loss"] == pytest.approx(total / 6, rel=1e-15)
    np.testing.assert_allclose(
        got["layers"][0]["deltas"],
        np.array([[0.25, -0.5, 1.0], [0.5, 1.0, -1.0]]) / 6,
        rtol=1e-15,
    )
    assert got["conventions"]["loss"] == {"name": "smooth_l1", "reduction": "mean", "beta": 1.0}


def test_beta_0_is_l1_as_in_pytorch() -> None:
    targets = [[1.5, 0.25, 1.0]]  # d = (0, -0.5, 2): sign(0) = 0, as l1's
    smooth = answer(probe({"name": "smooth_l1", "beta": 0.0}, targets))
    l1 = answer(probe("l1", targets))
    assert smooth["loss"] == l1["loss"] == 2.5
    assert smooth["layers"][0]["deltas"] == l1["layers"][0]["deltas"] == [[0.0, -1.0, 1.0]]


def _central_differences(loss: losses.Loss, o: FloatArray, y: FloatArray) -> FloatArray:
    h = 1e-6
    numeric = np.empty_like(o)
    for index in np.ndindex(o.shape):
        up, down = o.copy(), o.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (loss.value(up, y) - loss.value(down, y)) / (2 * h)
    return numeric


def _max_relative_error(loss: losses.Loss, o: FloatArray, y: FloatArray) -> float:
    analytic, numeric = loss.gradient(o, y), _central_differences(loss, o, y)
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(numeric), 1e-12)))


def _away_from_the_breakpoints(rng: np.random.Generator, beta: float) -> tuple[Any, Any]:
    o, y = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    d = np.abs(o - y)
    o = np.where(np.abs(d - beta) < 1e-3, o + 0.01, o)  # no |o - t| within 1e-3 of beta
    return o, y


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.5])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_the_gradient_matches_central_differences_in_float64(beta: float, reduction: Any) -> None:
    """Away from |d| = beta the loss is smooth: central differences with h = 1e-6 agree with
    dL/do to about 1e-10 (truncation h^2 L''' = 0, rounding eps |L| / h); 1e-7 is the bound."""
    rng = np.random.default_rng(20261130)
    loss = SmoothL1(reduction=reduction, beta=beta)
    o, y = _away_from_the_breakpoints(rng, beta)
    assert np.any(np.abs(o - y) < beta)  # both branches
    assert np.any(np.abs(o - y) > beta)
    assert _max_relative_error(loss, o, y) < 1e-7


def test_the_check_fails_on_huber_gradient_beta_times_too_large() -> None:
    """Negative control: Huber(delta = beta)'s gradient clip(d, -beta, beta), the mistake of
    issue 14 (SmoothL1 = Huber / beta), is beta times SmoothL1's: off by 50% at beta = 0.5."""
    rng = np.random.default_rng(7)
    right = SmoothL1(reduction="sum", beta=0.5)
    o, y = _away_from_the_breakpoints(rng, 0.5)

    class Wrong(SmoothL1):
        def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
            return Huber(reduction="sum", delta=0.5).gradient(o, y)

    assert _max_relative_error(right, o, y) < 1e-7
    assert _max_relative_error(Wrong(reduction="sum", beta=0.5), o, y) >= 0.5 - 1e-6


def test_smooth_l1_is_huber_divided_by_beta() -> None:
    """Huber(delta) = delta SmoothL1(beta = delta), value and gradient (PyTorch's docs)."""
    rng = np.random.default_rng(3)
    o, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for beta in (0.3, 1.0, 4.0):
        smooth, huber = SmoothL1(reduction="mean", beta=beta), Huber(reduction="mean", delta=beta)
        assert huber.value(o, y) == pytest.approx(beta * smooth.value(o, y), rel=1e-14)
        np.testing.assert_allclose(huber.gradient(o, y), beta * smooth.gradient(o, y), rtol=1e-15)


def test_the_network_check_fails_on_a_wrong_smooth_l1_gradient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The finite-difference oracle of tests/reference.py catches the same wrong gradient
    through a whole network: every delta is off, layer 1's first."""
    request = {
        "network": {"layers": [
            {"weights": [[0.3, -0.8], [0.5, 0.1]], "biases": [0.1, -0.2], "activation": "tanh"},
            {"weights": [[0.7], [-0.4]], "biases": [0.05], "activation": "linear"},
        ]},
        "inputs": [[0.5, -1.5], [1.0, 2.0]], "targets": [[1.0], [-0.1]], "learning_rate": 0.1,
        "loss": {"name": "smooth_l1", "beta": 0.5},
    }  # fmt: skip
    check_against_oracle(request, answer(request))
    monkeypatch.setattr(
        losses.SmoothL1, "gradient", lambda self, o, y: np.clip(o - y, -self.beta, self.beta)
    )
    with pytest.raises(AssertionError, match=r"deltas\[0\]"):
        check_against_oracle(request, answer(request))


def test_the_reference_oracle_agrees_with_the_hand_values() -> None:
    request = probe({"name": "smooth_l1", "beta": 0.5}, TARGETS)
    _, activations = reference.forward(request)
    assert reference.loss_value(request, activations[-1]) == 2.0625


# The request: validation, the catalogue, the worked formula ---------------------------------


@pytest.mark.parametrize(
    ("beta", "message"),
    [
        (-0.5, "Input should be greater than or equal to 0"),
        ("1", "Input should be a valid number"),
        (None, "Input should be a valid number"),
        (True, "Input should be a valid number"),
    ],
)
async def test_a_bad_beta_is_a_422_that_says_where(
    client: httpx.AsyncClient, beta: Any, message: str
) -> None:
    body = probe({"name": "smooth_l1", "beta": beta}, TARGETS)
    response = await client.post("/v1/backprop", json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "loss", "beta"]
    assert message in error["msg"]


async def test_smooth_l1_takes_no_batch_mean_nor_delta(client: httpx.AsyncClient) -> None:
    for loss in ({"name": "smooth_l1", "reduction": "batch_mean"},
                 {"name": "smooth_l1", "delta": 0.5}):  # fmt: skip
        response = await client.post("/v1/backprop", json=probe(loss, TARGETS))
        assert response.status_code == 422, loss
        assert response.json()["detail"][0]["loc"][:2] == ["body", "loss"]


async def test_the_catalogue_lists_smooth_l1(client: httpx.AsyncClient) -> None:
    catalog = {loss["name"]: loss for loss in (await client.get("/v1/losses")).json()["losses"]}
    smooth = catalog["smooth_l1"]
    assert smooth["reductions"] == ["sum", "mean"]
    assert smooth["class_indices"] is False
    assert smooth["fused_with"] is None
    parameters = {p["name"]: p["defaults"] for p in smooth["parameters"]}
    assert parameters["beta"] == dict.fromkeys(parameters["beta"], 1.0)
    assert parameters["reduction"]["textbook"] == "sum"
    assert parameters["reduction"]["pytorch"] == "mean"
    assert "|o - t| < beta" in smooth["gradient"]


async def test_the_worked_formula_names_the_case_that_applies(client: httpx.AsyncClient) -> None:
    body = {**probe({"name": "smooth_l1", "beta": 0.5}, TARGETS), "explain": True}
    response = await client.post("/v1/backprop", json=body)
    assert response.status_code == 200, response.text
    inside, at_beta, outside = response.json()["explanation"]["layers"][0]["deltas"]
    assert inside["text"] == (
        "delta^1_1 = (o_1 - t_1) / beta if |o_1 - t_1| < beta = (1.5 - 1.25) / 0.5 = 0.5"
    )
    assert inside["latex"] == (
        r"\delta^{1}_{1} = (o_{1} - t_{1}) / \beta \quad \text{if } \left|o_{1} - t_{1}\right| "
        r"< \beta = (1.5 - 1.25) / 0.5 = 0.5"
    )
    assert at_beta["text"] == (
        "delta^1_2 = sign(o_2 - t_2) if |o_2 - t_2| >= beta = sign((-0.25) - 0.25) = -1"
    )
    assert outside["text"] == "delta^1_3 = sign(o_3 - t_3) if |o_3 - t_3| >= beta = sign(3 - 1) = 1"


async def test_a_mean_and_an_output_activation_carry_into_the_worked_formula(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "network": {"layers": [{"weights": [[0.0]], "biases": [0.0], "activation": "sigmoid"}]},
        "inputs": [[1.0], [1.0]], "targets": [[0.25], [0.25]], "learning_rate": 0.5,
        "loss": {"name": "smooth_l1", "reduction": "mean", "beta": 0.5}, "explain": True,
    }  # fmt: skip
    answer_ = (await client.post("/v1/backprop", json=body)).json()
    (entry,) = answer_["explanation"]["layers"][0]["deltas"]
    # o = sigmoid(0) = 1/2, d = 1/4 < beta: delta = o(1 - o) (1/2) d / beta = 1/16
    assert entry["text"] == (
        "delta^1_1 = o_1(1 - o_1)(1/2) (o_1 - t_1) / beta if |o_1 - t_1| < beta = "
        "0.5 * (1 - 0.5) * (1/2) * (0.5 - 0.25) / 0.5 = 0.0625"
    )
    assert answer_["layers"][0]["deltas"] == [[0.0625], [0.0625]]


async def test_a_network_with_smooth_l1_passes_its_gradient_check(
    client: httpx.AsyncClient,
) -> None:
    body = {k: v for k, v in probe({"name": "smooth_l1", "beta": 0.5}, TARGETS).items()
            if k != "learning_rate"}  # fmt: skip
    body["network"]["layers"][0]["weights"] = [[0.1, -0.2, 0.3]]
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["verdict"] == "good"
    assert result["max_relative_error"] < 1e-7


def test_beta_zero_is_l1_under_either_reduction() -> None:
    """beta = 0 is the L1 loss, PyTorch's special case, averaged as well as summed."""
    targets = [[1.25, 0.25, 1.0], [1.5, 0.0, 4.0]]  # d = (0.25, -0.5, 2), (0, -0.25, -1)
    for reduction, divisor in (("sum", 1.0), ("mean", 6.0)):
        got = answer(probe({"name": "smooth_l1", "beta": 0.0, "reduction": reduction}, targets))
        assert got["loss"] == (0.25 + 0.5 + 2.0 + 0.0 + 0.25 + 1.0) / divisor
        signs = [[1.0, -1.0, 1.0], [0.0, -1.0, -1.0]]
        assert got["layers"][0]["deltas"] == [[s / divisor for s in row] for row in signs]


def test_a_huge_difference_is_on_the_linear_side_without_overflow() -> None:
    """|d| = 1e200: d^2 / (2 beta) would overflow, but it is the linear side, |d| - beta/2, and
    no warning is raised (pytest turns warnings into errors here)."""
    got = answer(probe({"name": "smooth_l1", "beta": 0.5}, [[1.5, -0.25, -1e200]]))
    assert got["loss"] == 1e200  # 3 + 1e200 - 0.25 rounds to 1e200
    assert got["layers"][0]["deltas"] == [[0.0, 0.0, 1.0]]


def test_only_beta_zero_has_a_kink() -> None:
    """gradcheck's kinks (engine/gradcheck.py): the gradient jumps at o = t only for beta = 0."""
    assert SmoothL1(reduction="sum", beta=0.0).kinks() == (0.0,)
    assert SmoothL1(reduction="sum", beta=1.0).kinks() == ()
    assert SmoothL1(reduction="mean", beta=1e-12).kinks() == ()
