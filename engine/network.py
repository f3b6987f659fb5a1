"""Forward pass and backpropagation through a stack of dense layers, as the textbook writes them.

With a^0 = x (ndarray of shape (n_samples, n_0)) and layers l = 1..L:

    z^l = a^(l-1) W^l + b^l                     pre-activations, (n_samples, n_l)
    a^l = f_l(z^l)                              activations, (n_samples, n_l)
    delta^L = f_L'(z^L) * dL/da^L               or the fused / softmax-Jacobian form
    delta^l = (delta^(l+1) W^(l+1)^T) * f_l'(z^l)
    dL/dW^l = a^(l-1)^T delta^l                 (n_(l-1), n_l) in the in_out layout
    dL/db^l = sum over samples of delta^l       (n_l,)
    dL/dx   = delta^1 W^1^T                     (n_samples, n_0)
    W' = W - eta dL/dW, b' = b - eta dL/db      (+ for gradient ascent)

Every quantity is float64. Nothing overflows for |z| up to 1000; a quantity that still comes out
inf or nan (from a learning rate of 1e308, say) raises NonFiniteError naming it, and no warning
is ever emitted. Shapes are the caller's responsibility (schemas/ checks them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from engine.activations import Activation
from engine.conventions import WeightLayout
from engine.errors import NonFiniteError
from engine.losses import Loss
from engine.types import FloatArray, matmul

CarryBack = Callable[[FloatArray, FloatArray], FloatArray]
"""How delta^(l+1) is carried back through W^(l+1) (in_out, (n_l, n_(l+1))) to layer l."""


def carry_back(delta_above: FloatArray, W_above: FloatArray) -> FloatArray:
    """delta^(l+1) W^(l+1)^T, of shape (n_samples, n_l): the textbook's recursion step."""
    return matmul(delta_above, W_above.T)


LayerQuantity = Literal[
    "pre_activations",
    "activations",
    "deltas",
    "weight_gradients",
    "bias_gradients",
    "updated_weights",
    "updated_biases",
]
LAYER_QUANTITIES: tuple[LayerQuantity, ...] = get_args(LayerQuantity)
"""What backprop answers for each layer, under the names of SPEC.md's answer, in order."""


@dataclass(frozen=True)
class DenseLayer:
    """One fully connected layer: z = a_prev W + b, a = f(z).

    weights : ndarray of shape (n_in, n_out), or (n_out, n_in) in the out_in layout
    biases : ndarray of shape (n_out,)
    """

    weights: FloatArray
    biases: FloatArray
    activation: Activation


@dataclass(frozen=True)
class Network:
    """Dense layers in order, with the layout their weight matrices are stored in."""

    layers: tuple[DenseLayer, ...]
    layout: WeightLayout = WeightLayout.IN_OUT


@dataclass(frozen=True)
class ForwardPass:
    """z^l and a^l of every layer, l = 1..L, each of shape (n_samples, n_l)."""

    pre_activations: tuple[FloatArray, ...]
    activations: tuple[FloatArray, ...]

    @property
    def outputs(self) -> FloatArray:
        return self.activations[-1]


@dataclass(frozen=True)
class LayerGradients:
    """delta^l, dL/dW^l and dL/db^l of one layer, and its parameters after one step."""

    delta: FloatArray
    weight_gradient: FloatArray
    bias_gradient: FloatArray
    updated_weights: FloatArray
    updated_biases: FloatArray


@dataclass(frozen=True)
class Backprop:
    """Everything one step of backpropagation computes."""

    forward: ForwardPass
    loss: float
    layers: tuple[LayerGradients, ...]
    input_gradient: FloatArray


def forward(network: Network, x: FloatArray) -> ForwardPass:
    """The forward pass: z^l and a^l for every layer.

    x : ndarray of shape (n_samples, n_0)
    """
    with np.errstate(all="ignore"):
        fwd = _forward(network, x)
    if not _all_finite([*fwd.pre_activations, *fwd.activations]):
        _raise_first_non_finite(_forward_checks(fwd))
    return fwd


def evaluate_loss(network: Network, fwd: ForwardPass, y: FloatArray, loss: Loss) -> float:
    """The loss of a forward pass against targets y of shape (n_samples, n_L)."""
    last = network.layers[-1].activation
    with np.errstate(all="ignore"):
        if loss.fuses_with(last):
            value = loss.value_from_logits(fwd.pre_activations[-1], y)
        else:
            value = loss.value(fwd.outputs, y)
    if not math.isfinite(value):
        _raise_first_non_finite([_loss_check(value)])
    return value


def backprop(
    network: Network,
    x: FloatArray,
    y: FloatArray,
    loss: Loss,
    *,
    learning_rate: float,
    ascent: bool = False,
    carry: CarryBack = carry_back,
) -> Backprop:
    """One step of backpropagation and gradient descent (or ascent).

    x : ndarray of shape (n_samples, n_0)
    y : ndarray of shape (n_samples, n_L), targets (class indices made one-hot by the caller)
    carry : the recursion's step from delta^(l+1) to layer l; graders swap it to recompute
        an answer under a student's mistake (weights not transposed, say)
    """
    layout = network.layout
    with np.errstate(all="ignore"):
        fwd = _forward(network, x)
        loss_value, delta_L = _loss_and_output_delta(network.layers[-1].activation, fwd, y, loss)
        deltas = _deltas(network, fwd, delta_L, carry)
        input_gradient = matmul(deltas[0], layout.as_in_out(network.layers[0].weights).T)
        step = learning_rate if ascent else -learning_rate
        layers = tuple(
            _layer_step(layer, a, delta, layout, step)
            for layer, a, delta in zip(
                network.layers, (x, *fwd.activations[:-1]), deltas, strict=True
            )
        )
    result = Backprop(fwd, loss_value, layers, input_gradient)
    _require_finite_backprop(result, learning_rate)
    return result


def _forward(network: Network, x: FloatArray) -> ForwardPass:
    zs: list[FloatArray] = []
    activations: list[FloatArray] = []
    a = x
    for layer in network.layers:
        z = matmul(a, network.layout.as_in_out(layer.weights)) + layer.biases
        a = layer.activation.forward(z)
        zs.append(z)
        activations.append(a)
    return ForwardPass(tuple(zs), tuple(activations))


def _layer_step(
    layer: DenseLayer, a_prev: FloatArray, delta: FloatArray, layout: WeightLayout, step: float
) -> LayerGradients:
    """delta^l, dL/dW^l = a^(l-1)^T delta^l, dL/db^l and the parameters after one step."""
    grad_W = layout.gradient(a_prev, delta)
    grad_b = delta.sum(axis=0)
    return LayerGradients(
        delta, grad_W, grad_b, layer.weights + step * grad_W, layer.biases + step * grad_b
    )


def _loss_and_output_delta(
    activation: Activation, fwd: ForwardPass, y: FloatArray, loss: Loss
) -> tuple[float, FloatArray]:
    """L and delta^L = dL/dz^L: fused from the logits where the loss allows it."""
    z, a = fwd.pre_activations[-1], fwd.outputs
    if loss.fuses_with(activation):
        return loss.value_from_logits(z, y), loss.delta_from_logits(z, y)
    return loss.value(a, y), activation.vjp(z, a, loss.gradient(a, y))


def _deltas(
    network: Network, fwd: ForwardPass, delta_L: FloatArray, carry: CarryBack
) -> list[FloatArray]:
    """delta^l for l = 1..L by the recursion delta^l = (delta^(l+1) W^(l+1)^T) * f_l'(z^l)."""
    deltas = [delta_L]
    for layer, layer_above, z, a in _downward(network, fwd):
        upstream = carry(deltas[-1], network.layout.as_in_out(layer_above.weights))
        deltas.append(layer.activation.vjp(z, a, upstream))
    deltas.reverse()
    return deltas


def _downward(
    network: Network, fwd: ForwardPass
) -> Iterator[tuple[DenseLayer, DenseLayer, FloatArray, FloatArray]]:
    """(layer l, layer l + 1, z^l, a^l) for l = L - 1 down to 1."""
    for i in reversed(range(len(network.layers) - 1)):
        yield network.layers[i], network.layers[i + 1], fwd.pre_activations[i], fwd.activations[i]


_Z_OVERFLOW = "the weighted sum overflowed float64: the weights, biases or inputs are too large"
_A_OVERFLOW = "the activation function overflowed float64"
_DELTA_OVERFLOW = "the error signal overflowed float64 on its way back through the layers"
_GRADIENT_OVERFLOW = "the gradient overflowed float64"

Check = tuple[FloatArray | np.float64, str, int | None, str]
"""A quantity that must be finite: (array, quantity, layer or None, what overflowed if not)."""


def _forward_checks(fwd: ForwardPass) -> list[Check]:
    return [
        check
        for i, (z, a) in enumerate(zip(fwd.pre_activations, fwd.activations, strict=True))
        for check in ((z, "pre_activations", i, _Z_OVERFLOW), (a, "activations", i, _A_OVERFLOW))
    ]


def _loss_check(value: float) -> Check:
    return np.float64(value), "loss", None, "the loss overflowed float64"


def _backprop_checks(result: Backprop, learning_rate: float) -> list[Check]:
    """Every quantity of a backprop, in the order a non-finite one is reported."""
    step_overflow = (
        f"learning_rate * gradient overflowed float64 (learning_rate = {learning_rate:g})"
    )
    layers = result.layers
    return [
        *_forward_checks(result.forward),
        _loss_check(result.loss),
        *((g.delta, "deltas", i, _DELTA_OVERFLOW) for i, g in reversed(list(enumerate(layers)))),
        (result.input_gradient, "input_gradients", None, _DELTA_OVERFLOW),
        *(
            check
            for i, g in enumerate(layers)
            for check in (
                (g.weight_gradient, "weight_gradients", i, _GRADIENT_OVERFLOW),
                (g.bias_gradient, "bias_gradients", i, _GRADIENT_OVERFLOW),
                (g.updated_weights, "updated_weights", i, step_overflow),
                (g.updated_biases, "updated_biases", i, step_overflow),
            )
        ),
    ]


def _require_finite_backprop(result: Backprop, learning_rate: float) -> None:
    """Raise NonFiniteError naming the first quantity of a backprop that is not all finite.

    Every quantity is finite when these are: the deltas and gradients are left out, because an
    elementwise step carries any inf or nan of theirs into a quantity that is checked (delta^l
    into dL/db^l by a sum, a gradient into the updated parameters by W + step g, where even
    0 * inf is nan). Only when one is not finite is every quantity checked, in order.
    """
    fwd, layers = result.forward, result.layers
    if math.isfinite(result.loss) and _all_finite(
        [
            *fwd.pre_activations,
            *fwd.activations,
            result.input_gradient,
            *(g.updated_weights for g in layers),
            *(g.updated_biases for g in layers),
        ]
    ):
        return
    _raise_first_non_finite(_backprop_checks(result, learning_rate))


def _all_finite(arrays: list[FloatArray]) -> bool:
    """Whether every entry of every array is finite.

    The sum of the arrays' sums of squares is finite exactly when every entry is, unless it
    overflows (entries beyond 1e154), and then the entries are checked one by one. np.vdot is
    one BLAS call with no temporary array: twice as fast as np.isfinite(array).all() on small
    arrays, faster on large ones, and every quantity of every request is checked.
    """
    return math.isfinite(sum(np.vdot(a, a) for a in arrays)) or all(
        np.isfinite(a).all() for a in arrays
    )


def _raise_first_non_finite(checks: list[Check]) -> None:
    for array, quantity, layer, reason in checks:
        if not np.isfinite(array).all():
            raise NonFiniteError(quantity, layer, reason)
