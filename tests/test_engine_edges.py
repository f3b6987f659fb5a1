"""Edges of the engine that the activation x loss matrix of test_gradients.py does not reach.

One layer's backward step on its own, the recursion's step as a parameter, the boundaries of
piecewise formulas (softplus at its threshold, L1 where o = t), softmax's Jacobian diagonal, the
outputs a loss over probabilities accepts or refuses, and the parameter catalogue. Each expected
value is worked by hand (the math module) or by central differences, never by the engine.
mutmut found each of these untested (docs/testing.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine
from engine import PRESETS, DenseLayer, Network, Preset, WeightLayout, losses, make_activation
from engine import activations as act
from engine.network import carry_back
from engine.types import FloatArray
from tests import reference

TEXTBOOK = PRESETS[Preset.TEXTBOOK]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_one_layers_backward_step_is_the_textbooks() -> None:
    """A sigmoid layer, one sample, upstream dL/da = 0.5 (no fused flag: the layer carries it):
    z = 1 * 0.1 + 2 * 0.2 + 0.3 = 0.8, delta = s(1 - s) 0.5, dL/dW = a_prev^T delta,
    dL/db = delta, W' = W - 0.1 dL/dW, dL/da_prev = delta W^T."""
    layer = DenseLayer(np.array([[0.1], [0.2]]), np.array([0.3]),
                       make_activation("sigmoid", {}, TEXTBOOK))  # fmt: skip
    a_prev = np.array([[1.0, 2.0]])
    z, a = layer.forward(a_prev, WeightLayout.IN_OUT)
    gradients, below = layer.backward(
        a_prev, z, a, np.array([[0.5]]), layout=WeightLayout.IN_OUT, step=-0.1
    )
    s = sigmoid(0.8)
    delta = s * (1.0 - s) * 0.5
    close = {"rtol": 1e-15, "atol": 0.0}
    np.testing.assert_allclose(z, [[0.8]], **close)
    np.testing.assert_allclose(gradients.delta, [[delta]], **close)
    np.testing.assert_allclose(gradients.weight_gradient, [[delta], [2.0 * delta]], **close)
    np.testing.assert_allclose(gradients.bias_gradient, [delta], **close)
    np.testing.assert_allclose(
        gradients.updated_weights, [[0.1 - 0.1 * delta], [0.2 - 0.2 * delta]], **close
    )
    np.testing.assert_allclose(gradients.updated_biases, [0.3 - 0.1 * delta], **close)
    np.testing.assert_allclose(below, [[0.1 * delta, 0.2 * delta]], **close)


def test_backprop_takes_the_recursion_step_it_is_given() -> None:
    """x = 1 -> w = 2 -> w = 3, linear, t = 0, 1/2-sum MSE: o = 6, delta^2 = 6. With the
    textbook's step delta^1 = 6 * 3 = 18 and dL/dx = 18 * 2 = 36; with a step that doubles
    (a grader's planted mistake), delta^1 = 2 * 18 = 36 and dL/dx = 2 * 36 * 2 = 144."""
    linear = make_activation("linear", {}, TEXTBOOK)
    network = Network((DenseLayer(np.array([[2.0]]), np.array([0.0]), linear),
                       DenseLayer(np.array([[3.0]]), np.array([0.0]), linear)))  # fmt: skip
    x, y = np.array([[1.0]]), np.array([[0.0]])
    mse = engine.make_loss("mse", {}, TEXTBOOK)

    def doubled(delta: FloatArray, W: FloatArray) -> FloatArray:
        return 2.0 * carry_back(delta, W)

    plain = engine.backprop(network, x, y, mse, learning_rate=0.1)
    assert [g.delta.tolist() for g in plain.layers] == [[[18.0]], [[6.0]]]
    assert plain.input_gradient.tolist() == [[36.0]]
    mistaken = engine.backprop(network, x, y, mse, learning_rate=0.1, carry=doubled)
    assert [g.delta.tolist() for g in mistaken.layers] == [[[36.0]], [[6.0]]]
    assert mistaken.input_gradient.tolist() == [[144.0]]


@pytest.mark.parametrize(("beta", "threshold"), [(1.0, 2.0), (2.0, 3.0)])
def test_softplus_turns_linear_only_above_its_threshold(beta: float, threshold: float) -> None:
    """PyTorch: f(z) = ln(1 + e^(beta z)) / beta, and z only where beta z > threshold; at
    beta z = threshold exactly the curve still holds (f = 2.127, not 2, for beta 1, t 2)."""
    f = act.Softplus(beta=beta, threshold=threshold)
    at, above = threshold / beta, threshold / beta + 0.5
    z = np.array([[at, above]])
    value = f.forward(z)
    assert value[0, 0] == pytest.approx(math.log1p(math.exp(threshold)) / beta, rel=1e-15)
    assert value[0, 1] == above
    derivative = f.derivative(z, value)
    assert derivative[0, 0] == pytest.approx(sigmoid(threshold), rel=1e-15)
    assert derivative[0, 1] == 1.0


def test_softmax_derivative_is_the_diagonal_of_its_jacobian() -> None:
    """da_i/dz_i = a_i (1 - a_i), against central differences of a plain-Python softmax."""
    z = [0.3, -1.2, 2.0]
    a = np.array([reference.activate("softmax", z)])
    h = 1e-6
    numeric = []
    for i in range(len(z)):
        up, down = list(z), list(z)
        up[i] += h
        down[i] -= h
        numeric.append(
            (reference.activate("softmax", up)[i] - reference.activate("softmax", down)[i])
            / (2 * h)
        )
    got = act.Softmax().derivative(np.array([z]), a)
    np.testing.assert_allclose(got, [numeric], rtol=1e-8, atol=0.0)


def test_l1_gradient_is_zero_where_the_output_equals_the_target() -> None:
    """sign(o - t) with sign(0) = 0, as docs/api.md and PyTorch have it."""
    loss = losses.L1(reduction="sum")
    o, y = np.array([[0.5, 0.5, -2.0]]), np.array([[0.5, 0.0, 1.0]])
    assert loss.gradient(o, y).tolist() == [[0.0, 1.0, -1.0]]
    assert loss.value(o, y) == 3.5


CE_REFUSED = (
    "cross_entropy without from_logits takes the logarithm of the outputs, but output 0 of "
    "sample 1 is {}, which has no logarithm: use a softmax last layer, or set from_logits to true"
)


def test_cross_entropy_over_probabilities_takes_a_zero_output_where_the_target_is_zero() -> None:
    """o = [0, 0.5] for class 1: L = -ln 0.5 and dL/do = -t / o = [0, -2]; the term of the
    zero output is 0 ln 0 = 0, counted as nothing."""
    loss = losses.CrossEntropy(reduction="sum")
    o, y = np.array([[0.0, 0.5]]), np.array([[0.0, 1.0]])
    assert loss.value(o, y) == pytest.approx(math.log(2.0), rel=1e-15)
    assert loss.gradient(o, y).tolist() == [[0.0, -2.0]]


@pytest.mark.parametrize(("output", "printed"), [(0.0, "0"), (-0.25, "-0.25")])
def test_cross_entropy_over_probabilities_refuses_an_output_with_no_logarithm(
    output: float, printed: str
) -> None:
    """Sample 1 has target class 0 and output o_0 <= 0, whose logarithm is -inf or nan."""
    loss = losses.CrossEntropy(reduction="sum")
    o = np.array([[0.5, 0.5], [output, 1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    for compute in (loss.value, loss.gradient):
        with pytest.raises(engine.DomainError) as raised:
            compute(o, y)
        assert raised.value.argument == "loss"
        assert str(raised.value) == CE_REFUSED.format(printed)


def test_binary_cross_entropy_over_probabilities_takes_outputs_of_exactly_0_and_1() -> None:
    """o = [0, 1] against t = [1, 0]: each log is clamped at -100 (PyTorch's BCELoss), L = 200;
    dL/do = (o - t) / max(o (1 - o), eps) = [-1, 1] / eps."""
    loss = losses.BinaryCrossEntropy(reduction="sum")
    o, y = np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])
    assert loss.value(o, y) == 200.0
    eps = float(np.float32(1e-12))
    assert loss.gradient(o, y).tolist() == [[-1.0 / eps, 1.0 / eps]]


@pytest.mark.parametrize("output", [-0.5, 1.5])
def test_binary_cross_entropy_over_probabilities_refuses_an_output_outside_0_1(
    output: float,
) -> None:
    loss = losses.BinaryCrossEntropy(reduction="sum")
    o, y = np.array([[0.5, 0.5], [0.5, output]]), np.array([[1.0, 0.0], [1.0, 0.0]])
    for compute in (loss.value, loss.gradient):
        with pytest.raises(engine.DomainError) as raised:
            compute(o, y)
        assert raised.value.argument == "loss"
        assert str(raised.value) == (
            "binary_cross_entropy without from_logits needs outputs in [0, 1], but output 1 "
            f"of sample 1 is {output:g}: use a sigmoid last layer, or set from_logits to true"
        )


def test_a_loss_refuses_a_reduction_it_does_not_define() -> None:
    with pytest.raises(ValueError, match=r"^cross_entropy takes reduction sum or mean$"):
        losses.CrossEntropy(reduction="batch_mean")


def test_a_loss_without_a_fused_form_says_so() -> None:
    mse = losses.MSE(reduction="sum", half=True)
    z = np.zeros((1, 2))
    for fused in (mse.value_from_logits, mse.delta_from_logits):
        with pytest.raises(NotImplementedError, match=r"^mse has no fused form$"):
            fused(z, z)


# docs/api.md's tables of parameters and their defaults
ACTIVATION_DEFAULTS: dict[str, dict[str, Any]] = {
    "leaky_relu": {"negative_slope": 0.01},
    "elu": {"alpha": 1.0},
    "gelu": {"approximate": "none"},
    "softplus": {"beta": 1.0, "threshold": 20.0},
}
LOSS_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "mse": {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
            "half": {"textbook": True, "pytorch": False, "keras": False}},
    "cross_entropy": {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
                      "from_logits": {"textbook": False, "pytorch": False, "keras": False},
                      "label_smoothing": {"textbook": 0.0, "pytorch": 0.0, "keras": 0.0},
                      "epsilon": {"textbook": None, "pytorch": None, "keras": 1e-7}},
    "binary_cross_entropy": {
        "reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
        "from_logits": {"textbook": False, "pytorch": False, "keras": False},
        "epsilon": {"textbook": None, "pytorch": None, "keras": 1e-7}},
    "l1": {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"}},
    "huber": {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
              "delta": {"textbook": 1.0, "pytorch": 1.0, "keras": 1.0}},
    "smooth_l1": {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
                  "beta": {"textbook": 1.0, "pytorch": 1.0, "keras": 1.0}},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(engine.ACTIVATIONS))
def test_an_activations_parameters_are_the_documented_ones(name: str) -> None:
    """The catalogue (GET /v1/activations) is built at import; this calls it at test time."""
    parameters = act.parameters_of(engine.ACTIVATIONS[name])
    assert {p["name"]: p["default"] for p in parameters} == ACTIVATION_DEFAULTS.get(name, {})
    assert all(isinstance(p["description"], str) and p["description"] for p in parameters)


@pytest.mark.parametrize("name", sorted(engine.LOSSES))
def test_a_losss_parameters_have_each_presets_documented_default(name: str) -> None:
    parameters = losses.parameters_of(engine.LOSSES[name])
    assert {p["name"]: p["defaults"] for p in parameters} == LOSS_DEFAULTS[name]
    assert all(isinstance(p["description"], str) and p["description"] for p in parameters)


# Kinks: where gradcheck must not trust a central difference (engine/gradcheck.py) -----------

KINKS: list[tuple[str, dict[str, Any], tuple[float, ...]]] = [
    ("relu", {}, (0.0,)),
    ("leaky_relu", {}, (0.0,)),
    ("leaky_relu", {"negative_slope": 1.0}, ()),  # the identity: no kink
    ("elu", {}, ()),  # alpha = 1: f' is 1 on both sides of 0
    ("elu", {"alpha": 2.0}, (0.0,)),  # f'(0-) = 2, f'(0+) = 1
    ("selu", {}, (0.0,)),  # f'(0-) = scale alpha, f'(0+) = scale
    ("softplus", {}, (20.0,)),  # the switch to z at beta z = threshold
    ("softplus", {"beta": 2.0, "threshold": 10.0}, (5.0,)),
    ("sigmoid", {}, ()),
    ("tanh", {}, ()),
    ("gelu", {}, ()),
]


@pytest.mark.parametrize(("name", "params", "kinks"), KINKS, ids=[
    f"{name} {params}" for name, params, _ in KINKS
])  # fmt: skip
def test_each_activation_names_exactly_its_kinks(
    name: str, params: dict[str, Any], kinks: tuple[float, ...]
) -> None:
    activation = make_activation(name, params, PRESETS[Preset.TEXTBOOK])
    assert activation.kinks() == kinks
    for z in kinks:  # and there the one-sided slopes differ (or f jumps), by central differences
        h = 1e-6
        f = lambda x: float(activation.forward(np.array([x]))[0])  # noqa: E731
        left, right = (f(z) - f(z - h)) / h, (f(z + h) - f(z)) / h
        jump = abs(f(z + h / 2) - f(z - h / 2)) > 1e-9 * h
        assert abs(left - right) > 1e-3 or jump, (name, z, left, right)


def test_a_parameter_given_as_none_takes_its_default() -> None:
    """make_activation's contract: None is a parameter left out (the preset's default where it
    sets one, LeakyReLU's slope; else the activation's own)."""
    textbook, keras = PRESETS[Preset.TEXTBOOK], PRESETS[Preset.KERAS]
    assert make_activation("elu", {"alpha": None}, textbook) == act.ELU()
    assert make_activation("elu", {"alpha": 2.0}, textbook) == act.ELU(alpha=2.0)
    softplus = make_activation("softplus", {"beta": 2.0, "threshold": None}, textbook)
    assert (softplus.beta, softplus.threshold) == (2.0, 20.0)
    slope = make_activation("leaky_relu", {"negative_slope": None}, keras)
    assert slope.negative_slope == 0.3
    assert make_activation("leaky_relu", {}, textbook).negative_slope == 0.01
