"""Forward pass and backpropagation through a stack of dense layers, as the textbook writes them.

With a^0 = x (ndarray of shape (n_samples, n_0)) and layers l = 1..L:

    z^l = a^(l-1) W^l + b^l                     pre-activations, (n_samples, n_l)
    a^l = f_l(z^l)                              activations, (n_samples, n_l)
    delta^L = f_L'(z^L) * dL/da^L               or the fused form of the loss (p - y)
    delta^l = f_l'(z^l) * (delta^(l+1) W^(l+1)^T)
    dL/dW^l = a^(l-1)^T delta^l                 (n_(l-1), n_l) in the in_out layout
    dL/db^l = sum over samples of delta^l       (n_l,)
    dL/dx   = delta^1 W^1^T                     (n_samples, n_0)
    W' = W - eta dL/dW, b' = b - eta dL/db      (+ for gradient ascent)

One layer's whole backward step is ``DenseLayer.backward`` (numpy-ml's FullyConnected._bwd has
the same four lines); ``backprop`` runs the forward pass, asks the loss for dL/da^L, and walks
the layers from L down to 1 with a plain index loop, as Nielsen's network.py does.

Matrix products are written a.dot(b), not a @ b: the same BLAS product at a third of the
overhead on the tiny arrays of a small network (0.3 against 0.9 microseconds).

Every quantity is float64. Nothing overflows for |z| up to 1000; a quantity that still comes out
inf or nan (from a learning rate of 1e308, say) raises NonFiniteError naming it, and no warning
is ever emitted. Shapes are the caller's responsibility (schemas/ checks them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from engine.activations import Activation
from engine.conventions import WeightLayout
from engine.errors import NonFiniteError
from engine.losses import Loss
from engine.types import FloatArray

CarryBack = Callable[[FloatArray, FloatArray], FloatArray]
"""How delta^l is carried back through W^l (in_out, (n_(l-1), n_l)) to dL/da^(l-1)."""


def carry_back(delta: FloatArray, W: FloatArray) -> FloatArray:
    """dL/da^(l-1) = delta^l W^l^T, of shape (n_samples, n_(l-1)): the recursion's step."""
    upstream: FloatArray = delta.dot(W.T)
    return upstream


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
"""What backprop answers for each layer, under the names of the answer (docs/api.md), in order."""


@dataclass(frozen=True, slots=True)
class LayerGradients:
    """delta^l, dL/dW^l and dL/db^l of one layer, and its parameters after one step."""

    delta: FloatArray
    weight_gradient: FloatArray
    bias_gradient: FloatArray
    updated_weights: FloatArray
    updated_biases: FloatArray


@dataclass(frozen=True)
class DenseLayer:
    """One fully connected layer: z = a_prev W + b, a = f(z).

    weights : ndarray of shape (n_in, n_out), or (n_out, n_in) in the out_in layout
    biases : ndarray of shape (n_out,)
    """

    weights: FloatArray
    biases: FloatArray
    activation: Activation

    def forward(self, a_prev: FloatArray, layout: WeightLayout) -> tuple[FloatArray, FloatArray]:
        """z = a_prev W + b and a = f(z), each of shape (n_samples, n_out).

        a_prev : ndarray of shape (n_samples, n_in), the activations of the layer below
        """
        z: FloatArray = a_prev.dot(layout.as_in_out(self.weights)) + self.biases
        return z, self.activation.forward(z)

    def backward(
        self,
        a_prev: FloatArray,
        z: FloatArray,
        a: FloatArray,
        upstream: FloatArray,
        *,
        layout: WeightLayout,
        step: float,
        fused: bool = False,
        carry: CarryBack = carry_back,
    ) -> tuple[LayerGradients, FloatArray]:
        """This layer's backward step, given upstream = dL/da from the layer above:

            delta   = f'(z) * upstream            (upstream is delta itself when ``fused``)
            dL/dW   = a_prev^T delta              (in the weights' layout)
            dL/db   = sum over samples of delta
            W' = W + step dL/dW, b' = b + step dL/db        (step = -eta; +eta for ascent)

        and dL/da_prev = delta W^T, the upstream of the layer below (dL/dx below layer 1).

        fused : the loss has already carried dL/da through f' (softmax with cross-entropy:
            delta = p - y), so upstream is this output layer's delta
        carry : the step from delta to dL/da_prev; graders swap it to recompute an answer
            under a student's mistake (weights not transposed, say)
        Returns the layer's gradients and dL/da_prev, of shape (n_samples, n_in).
        """
        delta = upstream if fused else self.activation.vjp(z, a, upstream)
        grad_W = layout.gradient(a_prev, delta)
        # the sum over one sample is its row (a view, not a reduction: a third of the cost)
        grad_b: FloatArray = delta[0] if delta.shape[0] == 1 else np.add.reduce(delta, axis=0)
        gradients = LayerGradients(
            delta,
            grad_W,
            grad_b,
            self.weights + step * grad_W,
            self.biases + step * grad_b,
        )
        return gradients, carry(delta, layout.as_in_out(self.weights))


@dataclass(frozen=True)
class Network:
    """Dense layers in order, with the layout their weight matrices are stored in."""

    layers: tuple[DenseLayer, ...]
    layout: WeightLayout = WeightLayout.IN_OUT

    @property
    def widths(self) -> list[int]:
        """n_0 (inputs), n_1, ..., n_L."""
        shapes = [self.layout.as_in_out(layer.weights).shape for layer in self.layers]
        return [shapes[0][0], *(n_out for _, n_out in shapes)]


@dataclass(frozen=True, slots=True)
class ForwardPass:
    """z^l and a^l of every layer, l = 1..L, each of shape (n_samples, n_l)."""

    pre_activations: tuple[FloatArray, ...]
    activations: tuple[FloatArray, ...]

    @property
    def outputs(self) -> FloatArray:
        return self.activations[-1]


@dataclass(frozen=True, slots=True)
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
    output = network.layers[-1].activation
    with np.errstate(all="ignore"):
        value = loss.output_value(output, fwd.pre_activations[-1], fwd.outputs, y)
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
    carry : the recursion's step from delta^l to dL/da^(l-1) (see DenseLayer.backward)
    Raises NonFiniteError naming the first quantity that is not finite.
    """
    layers, layout = network.layers, network.layout
    step = learning_rate if ascent else -learning_rate
    with np.errstate(all="ignore"):
        fwd = _forward(network, x)
        zs, activations = fwd.pre_activations, fwd.activations
        loss_value, upstream, fused = loss.output_gradient(
            layers[-1].activation, zs[-1], activations[-1], y
        )
        gradients: list[LayerGradients] = [None] * len(layers)  # type: ignore[list-item]
        for l in reversed(range(len(layers))):  # noqa: E741 (l is the textbook's layer index)
            a_prev = activations[l - 1] if l > 0 else x
            gradients[l], upstream = layers[l].backward(
                a_prev, zs[l], activations[l], upstream,
                layout=layout, step=step, fused=fused, carry=carry,
            )  # fmt: skip
            fused = False  # only the output layer's delta can come from the loss
    result = Backprop(fwd, loss_value, tuple(gradients), upstream)
    _require_finite_backprop(result, learning_rate)
    return result


def _forward(network: Network, x: FloatArray) -> ForwardPass:
    zs: list[FloatArray] = []
    activations: list[FloatArray] = []
    a = x
    for layer in network.layers:
        z, a = layer.forward(a, network.layout)
        zs.append(z)
        activations.append(a)
    return ForwardPass(tuple(zs), tuple(activations))


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

    Every quantity is finite when these are, so only these are checked on the way out:
    - z^l: an activation of a finite z is finite (tests/test_stability.py holds every
      activation to it), so a^l needs no check of its own;
    - the updated parameters: an elementwise step carries any inf or nan of a delta or a
      gradient into them (delta^l into dL/db^l by a sum, dL/dW into W + step dL/dW, where even
      0 * inf is nan);
    - dL/dx and the loss, which nothing else is computed from.
    Only when one is not finite is every quantity checked, in order, to name the first.
    """
    layers = result.layers
    if math.isfinite(result.loss) and _all_finite(
        [
            *result.forward.pre_activations,
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
    return math.isfinite(sum(map(np.vdot, arrays, arrays))) or all(
        np.isfinite(a).all() for a in arrays
    )


def _raise_first_non_finite(checks: list[Check]) -> None:
    for array, quantity, layer, reason in checks:
        if not np.isfinite(array).all():
            raise NonFiniteError(quantity, layer, reason)
