"""Properties of the engine over random networks (Hypothesis):

- finite inputs within the limits give finite answers, whatever the activations and losses
  (one exception, by design: a loss over probabilities, not fused with the last layer, refuses
  with a DomainError an output that has underflowed to exactly 0, whose log is -inf);
- a small enough step of gradient descent lowers the loss of a smooth network, and ascent
  raises it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import engine
from engine import losses
from tests.cases import ACTIVATIONS, LOSSES, layer_activations, name_of

SMOOTH = ["linear", "sigmoid", "tanh", "gelu", "silu", {"name": "softplus", "beta": 1.0,
          "threshold": 1e6}, "softmax"]  # fmt: skip
SMOOTH_LOSSES = [
    "mse",
    "cross_entropy",
    "binary_cross_entropy",
    {"name": "cross_entropy", "from_logits": True},
    {"name": "huber", "delta": 0.5},
]


def build(
    draw: st.DrawFn, activation: Any, loss: Any, scale: float
) -> tuple[engine.Network, Any, Any, engine.Loss]:
    preset = draw(st.sampled_from(list(engine.Preset)))
    conventions = engine.PRESETS[preset]
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(2, 5), min_size=depth + 1, max_size=depth + 1))
    n = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers = []
    for n_in, n_out, act in zip(widths, widths[1:], layer_activations(activation, loss, depth),
                                strict=False):  # fmt: skip
        spec = {"name": act} if isinstance(act, str) else act
        W = rng.uniform(-scale, scale, (n_in, n_out))
        layers.append(engine.DenseLayer(
            conventions.weight_layout.as_in_out(W.T).T if preset == "pytorch" else W,
            rng.uniform(-scale, scale, n_out),
            engine.make_activation(spec["name"], {k: v for k, v in spec.items() if k != "name"},
                                   conventions),
        ))  # fmt: skip
    network = engine.Network(tuple(layers), conventions.weight_layout)
    x = rng.uniform(-100 * scale, 100 * scale, (n, widths[0]))
    if name_of(loss) == "cross_entropy":
        y = engine.one_hot(rng.integers(0, widths[-1], n), widths[-1])
    else:
        y = rng.uniform(0.0, 1.0, (n, widths[-1]))
    spec = {"name": loss} if isinstance(loss, str) else loss
    made = engine.make_loss(spec["name"], {k: v for k, v in spec.items() if k != "name"},
                            conventions)  # fmt: skip
    return network, x, y, made


@st.composite
def extreme_cases(draw: st.DrawFn) -> tuple[engine.Network, Any, Any, engine.Loss]:
    activation = draw(st.sampled_from(ACTIVATIONS))
    loss = draw(st.sampled_from(LOSSES))
    return build(draw, activation, loss, scale=draw(st.sampled_from([1.0, 10.0, 30.0])))


@given(extreme_cases())
def test_finite_inputs_give_finite_answers(case: tuple[Any, Any, Any, engine.Loss]) -> None:
    network, x, y, loss = case
    last = network.layers[-1].activation
    probabilities = (losses.CrossEntropy, losses.BinaryCrossEntropy)
    over_probabilities = isinstance(loss, probabilities) and not loss.from_logits
    try:
        result = engine.backprop(network, x, y, loss, learning_rate=1.0)
    except engine.DomainError:
        assert over_probabilities
        assert not loss.fuses_with(last)
        return
    arrays = [result.input_gradient, *result.forward.pre_activations,
              *result.forward.activations]  # fmt: skip
    for grads in result.layers:
        arrays += [grads.delta, grads.weight_gradient, grads.bias_gradient,
                   grads.updated_weights, grads.updated_biases]  # fmt: skip
    assert np.isfinite(result.loss)
    assert all(np.isfinite(a).all() for a in arrays)


@st.composite
def smooth_cases(draw: st.DrawFn) -> tuple[engine.Network, Any, Any, engine.Loss]:
    return build(draw, draw(st.sampled_from(SMOOTH)), draw(st.sampled_from(SMOOTH_LOSSES)), 1.0)


def loss_after(network: engine.Network, result: engine.Backprop, x: Any, y: Any,
               loss: engine.Loss) -> float:  # fmt: skip
    stepped = engine.Network(
        tuple(engine.DenseLayer(g.updated_weights, g.updated_biases, layer.activation)
              for layer, g in zip(network.layers, result.layers, strict=True)),
        network.layout,
    )  # fmt: skip
    return engine.evaluate_loss(stepped, engine.forward(stepped, x), y, loss)


@given(smooth_cases())
def test_a_small_descent_step_lowers_the_loss_and_ascent_raises_it(
    case: tuple[Any, Any, Any, engine.Loss],
) -> None:
    network, x, y, loss = case
    probe = engine.backprop(network, x, y, loss, learning_rate=0.0)
    squared_norm = sum(float(np.sum(g.weight_gradient**2) + np.sum(g.bias_gradient**2))
                       for g in probe.layers)  # fmt: skip
    assume(squared_norm > 1e-6)
    eta = 1e-4 / max(1.0, squared_norm)
    # first-order change eta |g|^2 must stand well above the loss's rounding
    assume(eta * squared_norm > 1e-10 * max(1.0, abs(probe.loss)))
    down = engine.backprop(network, x, y, loss, learning_rate=eta)
    up = engine.backprop(network, x, y, loss, learning_rate=eta, ascent=True)
    assert loss_after(network, down, x, y, loss) < probe.loss < loss_after(network, up, x, y, loss)
