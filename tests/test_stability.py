"""Numerics at |z| = 1000 and beyond: no overflow, no warning (warnings are errors here), finite,
correct values; and a result that would not be finite is a 422 naming the quantity."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import engine
from engine import ACTIVATIONS, PRESETS, Preset, activations, losses, make_activation
from schemas import SPEC_EXAMPLE
from tests.test_gradients import answer

pytestmark = pytest.mark.anyio

EXTREMES = np.array([[-1e4, -1000.0, -745.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 710.0, 1000.0,
                      1e4]])  # fmt: skip
TEXTBOOK = PRESETS[Preset.TEXTBOOK]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_and_derivative_are_finite_at_extreme_z(name: str) -> None:
    f = make_activation(name, {}, TEXTBOOK)
    a = f.forward(EXTREMES)
    d = f.derivative(EXTREMES, a)
    g = f.vjp(EXTREMES, a, np.ones_like(EXTREMES))
    assert np.isfinite(a).all()
    assert np.isfinite(d).all()
    assert np.isfinite(g).all()


@pytest.mark.parametrize(
    ("name", "at_minus_1000", "at_plus_1000"),
    [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0), ("relu", 0.0, 1000.0), ("silu", -0.0, 1000.0),
     ("elu", -1.0, 1000.0), ("softplus", 0.0, 1000.0), ("gelu", -0.0, 1000.0)],
)  # fmt: skip
def test_activations_saturate_to_their_limits(
    name: str, at_minus_1000: float, at_plus_1000: float
) -> None:
    a = make_activation(name, {}, TEXTBOOK).forward(np.array([[-1000.0, 1000.0]]))
    assert a.tolist() == [[at_minus_1000, at_plus_1000]]


def test_softplus_with_a_huge_threshold_does_not_overflow() -> None:
    f = activations.Softplus(beta=1.0, threshold=1e6)
    assert f.forward(np.array([[1000.0]])).tolist() == [[1000.0]]


def test_softmax_cross_entropy_at_z_1000_is_exact() -> None:
    """Logits [1000, -1000], class 1: log p_1 = -2000, p = [1, 0]: L = 2000, dL/dz = [1, -1]."""
    loss = losses.CrossEntropy(reduction="sum")
    z, y = np.array([[1000.0, -1000.0]]), np.array([[0.0, 1.0]])
    assert loss.value_from_logits(z, y) == 2000.0
    assert loss.delta_from_logits(z, y).tolist() == [[1.0, -1.0]]


@pytest.mark.parametrize(("z", "y", "value", "delta"),
                         [(1000.0, 0.0, 1000.0, 1.0), (-1000.0, 1.0, 1000.0, -1.0),
                          (1000.0, 1.0, 0.0, 0.0), (-1000.0, 0.0, 0.0, 0.0)])  # fmt: skip
def test_sigmoid_binary_cross_entropy_at_z_1000_is_exact(
    z: float, y: float, value: float, delta: float
) -> None:
    loss = losses.BinaryCrossEntropy(reduction="sum")
    assert loss.value_from_logits(np.array([[z]]), np.array([[y]])) == value
    assert loss.delta_from_logits(np.array([[z]]), np.array([[y]])).tolist() == [[delta]]


def test_binary_cross_entropy_of_saturated_probabilities_clamps_like_pytorch() -> None:
    """An output of exactly 1 for target 0: log(1 - 1) is clamped at -100, as BCELoss does."""
    loss = losses.BinaryCrossEntropy(reduction="sum")
    assert loss.value(np.array([[1.0]]), np.array([[0.0]])) == 100.0
    assert np.isfinite(loss.gradient(np.array([[1.0]]), np.array([[0.0]]))).all()


def saturated(activation: str, loss: Any) -> dict[str, Any]:
    """A network whose last layer has |z| = 1000."""
    return {
        "network": {"layers": [
            {"weights": [[1.0, -1.0]], "biases": [0.0, 0.0], "activation": "linear"},
            {"weights": [[1.0, -1.0], [-1.0, 1.0]], "biases": [0.0, 0.0], "activation": activation},
        ]},
        "inputs": [[500.0]], "targets": [[0.0, 1.0]], "loss": loss, "learning_rate": 0.1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("activation", "loss"),
    [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("linear",
     {"name": "cross_entropy", "from_logits": True}), ("linear", {"name": "binary_cross_entropy",
     "from_logits": True}), ("tanh", "mse"), ("softplus", "huber"), ("gelu", "l1"),
     ("silu", {"name": "smooth_l1", "beta": 0.5})],
)  # fmt: skip
def test_whole_network_at_z_1000_gives_finite_answers(activation: str, loss: Any) -> None:
    got = answer(saturated(activation, loss))
    assert got["layers"][1]["pre_activations"] == [[1000.0, -1000.0]]
    values = [got["loss"], *(v for layer in got["layers"] for f in layer.values()
                             for v in np.ravel(f))]  # fmt: skip
    assert np.isfinite(values).all()


def test_softmax_cross_entropy_gradient_at_z_1000_is_p_minus_y() -> None:
    got = answer(saturated("softmax", "cross_entropy"))
    assert got["loss"] == 2000.0
    assert got["layers"][1]["deltas"] == [[1.0, -1.0]]


async def test_overflowing_step_is_a_422_that_names_the_quantity(client: Any) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["learning_rate"] = 1e308
    request["targets"] = [[1e10, -1e10]]
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["type"] == "non_finite_result"
    assert problem["loc"] == ["result", "layers", 0, "updated_weights"]
    assert "learning_rate" in problem["msg"]
    assert "1e+308" in problem["msg"]


async def test_overflowing_error_signal_is_a_422_at_the_delta(client: Any) -> None:
    """The deltas are not checked on their own (their updates vouch for them), yet an overflow
    in one is still caught, and named there: the loss is finite, delta^1 = 1e150 * 1e200 is not."""
    request = {
        "network": {"layers": [
            {"weights": [[1.0]], "biases": [0.0], "activation": "linear"},
            {"weights": [[1e200]], "biases": [0.0], "activation": "linear"},
        ]},
        "inputs": [[1e-50]], "targets": [[0.0]], "learning_rate": 0.0,
    }  # fmt: skip
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["result", "layers", 0, "deltas"]
    assert "error signal" in problem["msg"]


async def test_overflowing_weighted_sum_is_a_422_that_names_the_layer(client: Any) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["network"]["layers"][0]["weights"] = [[1e308, 1.0, 1.0], [1e308, 1.0, 1.0]]
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["result", "layers", 0, "pre_activations"]
    assert "too large" in problem["msg"]


async def test_overflowing_loss_is_a_422_not_a_null(client: Any) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["network"]["layers"][1]["activation"] = "linear"
    request["network"]["layers"][1]["weights"] = [[1e200, 0.0], [0.0, 0.0], [0.0, 0.0]]
    response = await client.post("/v1/forward", json={k: v for k, v in request.items()
                                                      if k != "learning_rate"})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["result", "loss"]
    assert b"null" not in response.content


def dense(*layers: tuple[list[list[float]], list[float], str]) -> engine.Network:
    """A network in the textbook's in_out layout: (weights, biases, activation) per layer."""
    return engine.Network(
        tuple(
            engine.DenseLayer(np.array(W), np.array(b), make_activation(f, {}, TEXTBOOK))
            for W, b, f in layers
        )
    )


L1_SUM = engine.make_loss("l1", {}, TEXTBOOK)  # dL/do = sign(o - t): the deltas stay small

# Each network overflows first at one quantity, in the order the answer lists them; worked out by
# hand with the L1 loss (delta^L = sign(o - t) = 1 here) and float64's largest value 1.8e308.
FIRST_OVERFLOW = {
    # z = 1.79e308 is finite, a = 1.0507 z is not
    "activations": (dense(([[1.0]], [0.0], "selu")), [[1.79e308]], 0.1, 0),
    # z = 1e8 each, delta = [1, 1], dL/dx = delta W^T = 1e308 + 1e308
    "input_gradients": (dense(([[1e308, 1e308]], [0.0, 0.0], "linear")), [[1e-300]], 0.1, None),
    # z = 1e8 per sample, dL/dW = sum over samples of x delta = 1e308 + 1e308
    "weight_gradients": (dense(([[1e-300]], [0.0], "linear")), [[1e308], [1e308]], 0.1, 0),
    # delta^1 = delta^2 w^2 = 1e308 per sample, finite; dL/db^1 = their sum is not, while
    # dL/dW^1 = sum x delta^1 = 2e298 and dL/dx = delta^1 w^1 = 1e8 are finite
    "bias_gradients": (
        dense(([[1e-300]], [0.0], "linear"), ([[1e308]], [0.0], "linear")),
        [[1e-10], [1e-10]],
        0.1,
        0,
    ),
    # dL/dW = 2e-300 and dL/db = 2: eta dL/dW = 2e8 is finite, eta dL/db = 2e308 is not
    "updated_biases": (dense(([[1.0]], [0.0], "linear")), [[1e-300], [1e-300]], 1e308, 0),
}


@pytest.mark.parametrize("quantity", FIRST_OVERFLOW)
def test_the_first_quantity_that_overflows_is_the_one_named(quantity: str) -> None:
    network, x, learning_rate, layer = FIRST_OVERFLOW[quantity]
    targets = np.zeros((len(x), network.widths[-1]))
    with pytest.raises(engine.NonFiniteError) as raised:
        engine.backprop(network, np.array(x), targets, L1_SUM, learning_rate=learning_rate)
    assert (raised.value.quantity, raised.value.layer) == (quantity, layer)


def test_the_forward_pass_names_an_overflowing_weighted_sum_and_activation() -> None:
    """engine.forward (POST /v1/forward) checks what it computes, as backprop does."""
    with pytest.raises(engine.NonFiniteError, match="too large") as raised:
        engine.forward(dense(([[1e308]], [0.0], "linear")), np.array([[10.0]]))
    assert (raised.value.quantity, raised.value.layer) == ("pre_activations", 0)
    with pytest.raises(engine.NonFiniteError) as raised:
        engine.forward(dense(([[1.0]], [0.0], "linear"), ([[1.0]], [0.0], "selu")),
                       np.array([[1.79e308]]))  # fmt: skip
    assert (raised.value.quantity, raised.value.layer) == ("activations", 1)
    assert raised.value.reason == "the activation function overflowed float64"


def test_the_forward_pass_is_silent_where_an_intermediate_overflows() -> None:
    """GELU's tanh form cubes z: at z = 1e200 the cube overflows (a RuntimeWarning, an error
    here) but the activation is finite, z (1 + tanh(inf)) / 2 = z."""
    gelu = engine.Network((engine.DenseLayer(np.array([[1.0]]), np.array([0.0]),
                                             make_activation("gelu", {"approximate": "tanh"},
                                                             TEXTBOOK)),))  # fmt: skip
    assert engine.forward(gelu, np.array([[1e200]])).outputs.tolist() == [[1e200]]


def test_an_overflowing_loss_of_a_forward_pass_is_named_without_a_warning() -> None:
    """Two outputs of 1e308 and targets 0: the L1 sum overflows (a RuntimeWarning in NumPy)."""
    network = dense(([[1.0, 1.0]], [0.0, 0.0], "linear"))
    fwd = engine.forward(network, np.array([[1e308]]))
    with pytest.raises(engine.NonFiniteError) as raised:
        engine.evaluate_loss(network, fwd, np.zeros((1, 2)), L1_SUM)
    assert (raised.value.quantity, raised.value.layer) == ("loss", None)
    assert raised.value.reason == "the loss overflowed float64"
