"""POST /v1/gradcheck: finite differences agree with backprop, and the check can fail."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest

from engine import PRESETS, BackpropProblem, DenseLayer, Network, Preset, make_activation
from engine.gradcheck import DEFAULT_EPSILON, gradcheck, relative_error, verdict
from engine.losses import MSE
from engine.types import FloatArray
from schemas import SPEC_EXAMPLE

pytestmark = pytest.mark.anyio

GRADCHECK_EXAMPLE = {k: v for k, v in SPEC_EXAMPLE.items() if k != "learning_rate"}


def test_verdicts_follow_the_cs231n_thresholds() -> None:
    assert [verdict(e) for e in (1e-9, 1e-6, 1e-3, 0.5)] == [
        "good",
        "acceptable",
        "suspicious",
        "wrong",
    ]


@dataclass(frozen=True)
class _WrongGradient(MSE):
    """An MSE whose gradient is off by 10%: a bug the check must catch."""

    name: ClassVar[str] = "mse"

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return 1.1 * super().gradient(o, y)


def test_a_wrong_gradient_is_found_wrong() -> None:
    textbook = PRESETS[Preset.TEXTBOOK]
    sigmoid = make_activation("sigmoid", {}, textbook)
    network = Network(
        (
            DenseLayer(np.array([[0.1, 0.3], [0.2, 0.4]]), np.array([0.1, 0.1]), sigmoid),
            DenseLayer(np.array([[0.7], [0.9]]), np.array([0.2]), sigmoid),
        )
    )
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    right = gradcheck(BackpropProblem(network, x, y, MSE(reduction="sum", half=True), 0.0))
    wrong = gradcheck(
        BackpropProblem(network, x, y, _WrongGradient(reduction="sum", half=True), 0.0)
    )
    assert right.verdict == "good"
    assert wrong.verdict == "wrong"
    assert wrong.max_relative_error == pytest.approx(0.1 / 1.1, rel=1e-4)


BODIES: dict[str, dict[str, Any]] = {
    "sigmoid mse": GRADCHECK_EXAMPLE,
    "tanh softmax cross-entropy, mean, pytorch": {
        "network": {
            "layers": [
                {
                    "weights": [[0.2, -0.4], [0.5, 0.3], [0.1, 0.1]],
                    "biases": [0.1, -0.1, 0.0],
                    "activation": "tanh",
                },
                {
                    "weights": [[0.6, -0.2, 0.3], [0.1, 0.7, -0.3]],
                    "biases": [0.0, 0.2],
                    "activation": "softmax",
                },
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [1, 0],
        "loss": "cross_entropy",
        "conventions": "pytorch",
    },
    "gelu silu elu, huber": {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, -0.1], "activation": "gelu"},
                {"weights": [[0.6, -0.2], [0.1, 0.7]], "biases": [0.0, 0.2], "activation": "silu"},
                {"weights": [[0.3], [-0.5]], "biases": [0.1], "activation": "elu"},
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [[3.0], [-0.25]],
        "loss": {"name": "huber", "delta": 0.5},
    },
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_backprop_passes_its_own_gradient_check(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["verdict"] == "good"
    assert result["max_relative_error"] < 1e-7
    assert len(result["parameters"]) == 2 * len(body["network"]["layers"])
    assert result["thresholds"] == {"good": 1e-7, "acceptable": 1e-4, "suspicious": 1e-2}


async def test_a_relu_at_its_kink_is_a_kink_not_wrong(client: httpx.AsyncClient) -> None:
    """z = 0.5 * 1 - 0.5 * 1 = 0: a step of either weight or the bias moves z to +-h (right
    slope dL/dW = (0.3 relu(z) + 0.1 - 1) 0.3 x = -0.27, left slope 0: the unit is off)."""
    body = {
        "network": {
            "layers": [
                {"weights": [[0.5], [-0.5]], "biases": [0.0], "activation": "relu"},
                {"weights": [[0.3]], "biases": [0.1], "activation": "linear"},
            ]
        },
        "inputs": [[1.0, 1.0]],
        "targets": [[1.0]],
    }
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["near_kink"] is True
    assert result["kinks"] == 3
    assert result["verdict"] == "good"  # the other entries: dL/dW2 = a1 delta = 0, dL/db2
    weights, biases, *_ = result["parameters"]
    assert weights["verdict"] == biases["verdict"] == "kink"
    assert weights["max_relative_error"] is None
    assert weights["worst_index"] is None
    first = weights["kinks"][0]
    assert first["index"] == [0, 0]
    assert first["message"] == "kink: finite differences do not apply here"
    assert first["analytic"] == pytest.approx(-0.27, rel=1e-12)  # textbook: ReLU'(0) = 1
    assert first["left"] == 0.0
    assert first["right"] == pytest.approx(-0.27, abs=1e-6)
    assert first["numeric"] == pytest.approx((first["left"] + first["right"]) / 2, abs=1e-9)


EXTERNAL_04 = {
    "network": {
        "layers": [
            {"weights": [[1.0, -1.0], [0.5, 0.5]], "biases": [0.0, 0.0], "activation": "relu"},
            {"weights": [[1.0], [1.0]], "biases": [0.0], "activation": "linear"},
        ]
    },
    "inputs": [[1.0, 2.0]],
    "targets": [[0.0]],
    "loss": "mse",
}
"""shared/cases/external/04-gradcheck-relu-kink (CS231n, "kinks in the objective"): hidden
unit 2 has z = 1 * (-1) + 2 * 0.5 = 0 exactly, and the service answered "wrong"."""


@pytest.mark.parametrize(("relu_grad_at_zero", "side"), [(1, "right"), (0, "left")])
async def test_the_external_relu_kink_case_is_not_wrong(
    client: httpx.AsyncClient, relu_grad_at_zero: int, side: str
) -> None:
    """By hand: o = relu(2) + relu(0) = 2, L = o^2 / 2 = 2, dL/do = 2. The entries that move
    z_2 (w_(1,2) with x_1 = 1, w_(2,2) with x_2 = 2, b_2) straddle the kink: left slope 0
    (unit off), right slope 2 x_j (+ h x_j^2 / 2 of curvature); backprop gives the side its
    convention takes. Everything else is smooth and agrees."""
    body = {**EXTERNAL_04, "relu_grad_at_zero": relu_grad_at_zero}
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["verdict"] == "good"
    assert result["max_relative_error"] < 1e-7
    assert result["near_kink"] is True
    assert result["kinks"] == 3
    weights, biases, weights_2, biases_2 = result["parameters"]
    kinked = {(p["layer"], p["parameter"], tuple(k["index"])): k for p in result["parameters"]
              for k in p["kinks"]}  # fmt: skip
    assert set(kinked) == {(0, "weights", (0, 1)), (0, "weights", (1, 1)), (0, "biases", (1,))}
    for key, x_j in [((0, "weights", (0, 1)), 1.0), ((0, "weights", (1, 1)), 2.0),
                     ((0, "biases", (1,)), 1.0)]:  # fmt: skip
        entry = kinked[key]
        assert entry["verdict"] == "kink"
        assert entry["left"] == 0.0
        assert entry["right"] == pytest.approx(2.0 * x_j + 1e-6 * x_j**2 / 2, rel=1e-8)
        assert entry["analytic"] == {"left": 0.0, "right": 2.0 * x_j}[side]
    assert weights["verdict"] == biases["verdict"] == "good"  # the entries of unit 1
    assert weights["worst_index"] in ([0, 0], [1, 0])
    assert weights_2["kinks"] == biases_2["kinks"] == []
    assert weights_2["verdict"] == biases_2["verdict"] == "good"


async def test_without_a_kink_the_verdict_is_the_plain_relative_error(
    client: httpx.AsyncClient,
) -> None:
    """A ReLU network whose every z is far from 0: no entry is set apart, and each tensor's
    error is |a - n| / max(|a|, |n|) of its worst entry, as before kinks were looked for."""
    body = {**EXTERNAL_04, "inputs": [[1.0, 3.0]]}  # z = (2.5, 0.5)
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["near_kink"] is False
    assert result["kinks"] == 0
    assert result["verdict"] == "good"
    for tensor in result["parameters"]:
        assert tensor["kinks"] == []
        a, n = tensor["analytic"], tensor["numeric"]
        plain = abs(a - n) / max(abs(a), abs(n))
        assert plain < 1e-7
        assert tensor["max_relative_error"] in (0.0, plain)  # 0: within the rounding floor
        assert abs(a - n) <= (result["rounding_floor"] or 0.0) or (
            tensor["max_relative_error"] == plain
        )


def test_a_wrong_gradient_away_from_the_kink_is_still_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """External case 04 with dL/dW^2_(1,1) off by 10% (a non-kink entry): the kinks are still
    set apart, and the headline is wrong."""
    from app.services import gradcheck as service
    from engine import gradcheck as module
    from schemas.gradcheck import GradcheckRequest

    right = module.backprop

    def planted(*args: Any, **kwargs: Any) -> Any:
        result = right(*args, **kwargs)
        result.layers[1].weight_gradient[0, 0] *= 1.1
        return result

    monkeypatch.setattr(module, "backprop", planted)
    answer = service(GradcheckRequest.model_validate(EXTERNAL_04))
    assert isinstance(answer, dict)
    assert answer["verdict"] == "wrong"
    assert answer["kinks"] == 3
    worst = answer["parameters"][2]
    assert (worst["verdict"], worst["worst_index"]) == ("wrong", [0, 0])
    assert worst["max_relative_error"] == pytest.approx(0.1 / 1.1, rel=1e-6)


def _single_layer(activation: Any, weights: Any, biases: Any, *, x: Any, y: Any, loss: Any) -> Any:
    return {
        "network": {"layers": [{"weights": weights, "biases": biases, "activation": activation}]},
        "inputs": x, "targets": y, "loss": loss,
    }  # fmt: skip


@pytest.mark.parametrize("loss", ["l1", {"name": "smooth_l1", "beta": 0.0}])
async def test_l1_at_o_equal_t_is_a_kink(client: httpx.AsyncClient, loss: Any) -> None:
    """o = 2 * 0.5 + 0 = 1 = t: l1's |o - t| has slopes -x and +x either side."""
    body = _single_layer("linear", [[0.5]], [0.0], x=[[2.0]], y=[[1.0]], loss=loss)
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["verdict"] == "kink"  # every entry is at the kink
    assert result["max_relative_error"] is None
    (weight,) = result["parameters"][0]["kinks"]
    assert (weight["left"], weight["right"]) == pytest.approx((-2.0, 2.0), rel=1e-9)
    assert weight["analytic"] == 0.0  # sign(0) = 0, as PyTorch


async def test_huber_and_smooth_l1_at_their_breakpoints_are_no_kink(
    client: httpx.AsyncClient,
) -> None:
    """|o - t| = delta exactly: the gradient is continuous there (clip(d, -delta, delta)), so a
    central difference is off by O(h) only and is judged like any other."""
    for loss in ({"name": "huber", "delta": 0.5}, {"name": "smooth_l1", "beta": 0.5}):
        body = _single_layer("linear", [[0.5]], [0.0], x=[[2.0]], y=[[0.5]], loss=loss)  # d = 0.5
        result = (await client.post("/v1/gradcheck", json=body)).json()
        assert result["kinks"] == 0
        assert result["verdict"] in ("good", "acceptable")
        assert result["max_relative_error"] < 1e-5


async def test_softplus_at_its_threshold_is_a_kink(client: httpx.AsyncClient) -> None:
    """beta z = 20 = threshold: softplus jumps from ln(1 + e^20) to z, by 2.1e-9, which a
    central difference over 2h = 2e-6 turns into an error of 1e-3."""
    softplus = {"name": "softplus", "beta": 1.0, "threshold": 20.0}
    body = _single_layer(softplus, [[10.0]], [0.0], x=[[2.0]], y=[[0.0]], loss="mse")
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["kinks"] == 2
    (weight,) = result["parameters"][0]["kinks"]
    assert abs(weight["numeric"] - weight["analytic"]) > 1e-4 * abs(weight["analytic"])


# Float64 cancellation in L(theta + h) - L(theta - h) ----------------------------------------


def _random_problem(widths: tuple[int, ...], n_samples: int, seed: int) -> BackpropProblem:
    rng = np.random.default_rng(seed)
    textbook = PRESETS[Preset.TEXTBOOK]
    layers = tuple(
        DenseLayer(
            rng.normal(size=(n_in, n_out)),
            rng.normal(size=n_out),
            make_activation("tanh" if i < len(widths) - 2 else "linear", {}, textbook),
        )
        for i, (n_in, n_out) in enumerate(pairwise(widths))
    )
    x, y = rng.normal(size=(n_samples, widths[0])), rng.normal(size=(n_samples, widths[-1]))
    return BackpropProblem(Network(layers), x, y, MSE(reduction="sum", half=True), 0.0)


@pytest.mark.parametrize(("widths", "seed"), [((10, 198, 14), 1), ((4, 50, 50, 2), 22)])
def test_rounding_in_a_large_loss_is_not_taken_for_an_error(
    widths: tuple[int, ...], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reports of issue 14: L ~ 1e4 is known to eps L ~ 2e-12, so its central difference
    over 2h = 2e-6 to ~1e-6, and an entry whose gradient is 1e-3 read 7e-4 "relative error"
    (suspicious; 2e-2, wrong, for this 4-50-50-2 network). Those differences are within the
    rounding floor; the verdict is good."""
    import engine.gradcheck as module

    problem = _random_problem(widths, 8, seed)
    check = gradcheck(problem)
    assert check.verdict == "good"
    floor = check.rounding_floor
    assert floor is not None
    assert 1e-7 < floor < 1e-4  # u = 16 eps M / h, M ~ 1e4 to 1e5
    monkeypatch.setattr(module, "_rounding_floor", lambda *args: 0.0)
    without = gradcheck(problem)  # the check as it was
    assert without.verdict == {(10, 198, 14): "suspicious", (4, 50, 50, 2): "wrong"}[widths]
    worst = max(without.checks, key=lambda c: c.max_relative_error or 0.0)
    assert worst.analytic is not None
    assert worst.numeric is not None
    assert abs(worst.analytic - worst.numeric) < floor  # nothing but rounding


@pytest.mark.parametrize(("widths", "seed"), [((10, 198, 14), 1), ((4, 50, 50, 2), 2)])
def test_the_floor_does_not_hide_a_one_percent_error(
    widths: tuple[int, ...], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same networks with one gradient entry of the middle layer 1% off: found."""
    import engine.gradcheck as module

    problem = _random_problem(widths, 8, seed)
    reference = module.backprop(
        problem.network, problem.x, problem.y, problem.loss, learning_rate=0.0
    )
    gradient = reference.layers[1].weight_gradient
    target = np.unravel_index(int(np.argmin(np.abs(np.abs(gradient) - 1e-2))), gradient.shape)
    assert abs(gradient[target]) > 2e-3  # an ordinary entry, neither the largest nor tiny
    right = module.backprop

    def planted(*args: Any, **kwargs: Any) -> Any:
        result = right(*args, **kwargs)
        result.layers[1].weight_gradient[target] *= 1.01
        return result

    monkeypatch.setattr(module, "backprop", planted)
    check = gradcheck(problem)
    assert check.verdict == "suspicious"
    worst = check.checks[2]
    assert worst.worst_index == tuple(int(i) for i in target)
    assert worst.max_relative_error == pytest.approx(0.01 / 1.01, rel=1e-2)  # n to ~1e-6


async def test_a_step_too_small_for_float64_forgives_nothing(client: httpx.AsyncClient) -> None:
    """h = 1e-300: theta + h == theta, every numeric gradient is 0, and u = 16 eps M / h is
    astronomical: the floor is not applied (null), and the verdict says they disagree."""
    response = await client.post("/v1/gradcheck", json={**GRADCHECK_EXAMPLE, "epsilon": 1e-300})
    assert response.status_code == 200
    result = response.json()
    assert result["rounding_floor"] is None
    assert result["verdict"] == "wrong"
    assert all(p["numeric"] == 0.0 for p in result["parameters"])


@pytest.mark.parametrize("seed", range(3))
def test_random_tanh_networks_are_good_with_a_quarter_of_the_floor(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The floor's factor 16 is no tighter than it looks: with 4 instead, random tanh networks
    are still good (2.1 eps M / h was the largest difference of 1,121 networks)."""
    import engine.gradcheck as module

    monkeypatch.setattr(module, "ROUNDING_FACTOR", 4.0)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        widths = tuple(int(w) for w in rng.integers(2, 20, int(rng.integers(2, 5))))
        problem = _random_problem(widths, int(rng.integers(1, 9)), int(rng.integers(2**32)))
        check = gradcheck(problem, epsilon=DEFAULT_EPSILON)
        assert check.verdict == "good", widths
        assert check.kinks == 0


def test_the_relative_error_counts_differences_within_the_floor_as_agreement() -> None:
    a, n = np.array([1e-3, 1.0, 0.0]), np.array([1e-3 + 5e-7, 1.001, 0.0])
    np.testing.assert_allclose(relative_error(a, n), [5e-7 / (1e-3 + 5e-7), 1e-3 / 1.001, 0.0])
    np.testing.assert_allclose(relative_error(a, n, floor=1e-6), [0.0, 1e-3 / 1.001, 0.0])


async def test_a_network_too_large_to_check_is_a_422(client: httpx.AsyncClient) -> None:
    width = 80
    body = {
        "network": {
            "layers": [
                {"weights": [[0.01] * width] * width, "biases": [0.0] * width, "activation": "relu"}
            ]
        },
        "inputs": [[1.0] * width],
        "targets": [[0.0] * width],
    }
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 422
    assert (
        "gradcheck perturbs each of the network's 6,480 weights and biases"
        in (response.json()["detail"][0]["msg"])
    )


async def test_gradcheck_needs_targets(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in GRADCHECK_EXAMPLE.items() if k != "targets"}
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "targets"]
