"""Gradient checking: backprop's analytic gradient against central finite differences.

For every weight and bias theta, with a step h:

    numeric  n = (L(theta + h) - L(theta - h)) / (2 h)
    analytic a = dL/dtheta from backprop
    relative error |a - n| / max(|a|, |n|)          (0 where both are 0)

Each parameter tensor is judged by its largest relative error, with the thresholds of the
CS231n notes: below 1e-7 good, below 1e-4 acceptable (usual near kinks such as ReLU's), below
1e-2 suspicious, above 1e-2 probably wrong. In float64 with h = 1e-6 a smooth network's error
is about 1e-9 to 1e-10. A kink (ReLU, LeakyReLU, ELU, SELU at z = 0) within reach of the step
makes the numeric gradient meaningless there: ``near_kink`` says when that may have happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from engine.activations import follows_kink_convention
from engine.losses import Loss
from engine.network import Network, backprop, evaluate_loss, forward
from engine.problem import BackpropProblem
from engine.types import FloatArray

Verdict = Literal["good", "acceptable", "suspicious", "wrong"]

THRESHOLDS: tuple[tuple[float, Verdict], ...] = (
    (1e-7, "good"),
    (1e-4, "acceptable"),
    (1e-2, "suspicious"),
)
"""(upper bound, verdict) in increasing order; anything from 1e-2 up is "wrong"."""

DEFAULT_EPSILON = 1e-6


def verdict(relative_error: float) -> Verdict:
    for bound, name in THRESHOLDS:
        if relative_error < bound:
            return name
    return "wrong"


@dataclass(frozen=True)
class TensorCheck:
    """One parameter tensor of one layer: its worst entry and the verdict on it."""

    layer: int
    parameter: Literal["weights", "biases"]
    max_relative_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float

    @property
    def verdict(self) -> Verdict:
        return verdict(self.max_relative_error)


@dataclass(frozen=True)
class GradientCheck:
    checks: tuple[TensorCheck, ...]
    near_kink: bool
    epsilon: float

    @property
    def max_relative_error(self) -> float:
        return max(c.max_relative_error for c in self.checks)

    @property
    def verdict(self) -> Verdict:
        return verdict(self.max_relative_error)


def relative_error(analytic: FloatArray, numeric: FloatArray) -> FloatArray:
    """|a - n| / max(|a|, |n|), entry by entry, 0 where both are 0."""
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    error = np.abs(analytic - numeric)
    return np.divide(error, scale, out=np.zeros_like(error), where=scale > 0.0)


def gradcheck(problem: BackpropProblem, *, epsilon: float = DEFAULT_EPSILON) -> GradientCheck:
    """Check every weight and bias of a problem's network by central differences.

    The problem's step is not taken (its learning rate plays no part). Costs two forward
    passes per parameter.
    """
    network, x, y, loss = problem.network, problem.x, problem.y, problem.loss
    result = backprop(network, x, y, loss, learning_rate=0.0)
    checks: list[TensorCheck] = []
    for i, grads in enumerate(result.layers):
        for parameter, analytic in (
            ("weights", grads.weight_gradient),
            ("biases", grads.bias_gradient),
        ):
            numeric = _numeric_gradient(network, x, y, loss, at=(i, parameter), h=epsilon)
            error = relative_error(analytic, numeric)
            worst = np.unravel_index(int(np.argmax(error)), error.shape)
            checks.append(
                TensorCheck(
                    layer=i,
                    parameter=parameter,  # type: ignore[arg-type]
                    max_relative_error=float(error[worst]),
                    worst_index=tuple(int(k) for k in worst),
                    analytic=float(analytic[worst]),
                    numeric=float(numeric[worst]),
                )
            )
    return GradientCheck(tuple(checks), _near_kink(network, x, epsilon), epsilon)


def _numeric_gradient(
    network: Network,
    x: FloatArray,
    y: FloatArray,
    loss: Loss,
    *,
    at: tuple[int, str],
    h: float,
) -> FloatArray:
    """(L(theta + h) - L(theta - h)) / 2h for every entry of one layer's weights or biases."""
    i, parameter = at
    layer = network.layers[i]
    if parameter == "weights":
        theta = layer.weights.copy()
        changed = replace(layer, weights=theta)
    else:
        theta = layer.biases.copy()
        changed = replace(layer, biases=theta)
    layers = list(network.layers)
    layers[i] = changed
    perturbed = replace(network, layers=tuple(layers))

    def loss_at(value: float, index: tuple[int, ...]) -> float:
        theta[index] = value
        return evaluate_loss(perturbed, forward(perturbed, x), y, loss)

    numeric = np.empty_like(theta)
    for index in np.ndindex(theta.shape):
        original = float(theta[index])
        numeric[index] = (loss_at(original + h, index) - loss_at(original - h, index)) / (2 * h)
        theta[index] = original
    return numeric


def _near_kink(network: Network, x: FloatArray, h: float) -> bool:
    """Whether some z of a kinked activation is close enough to 0 for a step to cross it."""
    fwd = forward(network, x)
    a_prev = x
    for layer, z, a in zip(network.layers, fwd.pre_activations, fwd.activations, strict=True):
        reach = h * (1.0 + float(np.abs(a_prev).sum(axis=1).max()))
        if follows_kink_convention(type(layer.activation)) and np.any(np.abs(z) <= reach):
            return True
        a_prev = a
    return False
