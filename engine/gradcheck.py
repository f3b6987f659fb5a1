"""Gradient checking: backprop's analytic gradient against central finite differences.

For every weight and bias theta, with a step h:

    numeric  n = (L(theta + h) - L(theta - h)) / (2 h)
    analytic a = dL/dtheta from backprop
    relative error |a - n| / max(|a|, |n|)          (0 where both are 0, and 0 where
                                                     |a - n| is within the rounding floor u)

Each parameter tensor is judged by its largest relative error, with the thresholds of the
CS231n notes: below 1e-7 good, below 1e-4 acceptable, below 1e-2 suspicious, from 1e-2 on
wrong. Two kinds of entries are treated apart, because there the difference says nothing about
backprop:

- **Kinks.** Where the step carries some pre-activation z across a kink of its activation
  (ReLU and LeakyReLU at 0, ELU with alpha != 1 and SELU at 0, softplus at its threshold) or
  the outputs across a kink of the loss (l1, and smooth_l1 with beta = 0, at o = t), the
  central difference averages two different slopes (CS231n, "kinks in the objective"). Such an
  entry gets the verdict "kink", with its one-sided differences (L(theta) - L(theta - h)) / h
  and (L(theta + h) - L(theta)) / h, and no part in the tensor's or the headline verdict. A
  crossing is seen exactly, not guessed from |z|: which side of each kink every z (and o - t)
  lies on is recorded at theta - h, theta and theta + h, and the entry straddles a kink when
  that differs. Huber's and smooth_l1's |o - t| = delta are not kinks (the gradient is
  continuous there: a central difference is off by O(h) only).
- **Rounding.** L(theta + h) - L(theta - h) cancels: each L carries a float64 rounding error
  of about eps M, where M is the size of what the loss is computed from (every z and a,
  weighted by how much L depends on it, and the loss's own terms: ``rounding_magnitude``), so
  n is only known to within u = ROUNDING_FACTOR eps M / h. A difference |a - n| within u is
  agreement as close as finite differences can tell, and counts as 0. On a large loss this
  matters: a 10-198-14 tanh network with 8 samples has L ~ 1e4, whose central difference is
  known to ~1e-6 at h = 1e-6, and an entry whose gradient is 1e-3 read a "relative error" of
  7e-4 that was nothing but that cancellation ("suspicious"; of 40 random 4-50-50-2 tanh
  networks, 28 read "suspicious" and 3 "wrong", all 40 "good" now, while a 1% error in one
  entry still reads "suspicious"). The floor applies only while it is below FLOOR_LIMIT of the
  largest gradient entry: past that the step is too small for float64 to say anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.losses import Loss
from engine.network import Backprop, ForwardPass, Network, backprop, evaluate_loss, forward
from engine.problem import BackpropProblem
from engine.types import FloatArray

BoolArray = npt.NDArray[np.bool_]

Verdict = Literal["good", "acceptable", "suspicious", "wrong"]
TensorVerdict = Literal["good", "acceptable", "suspicious", "wrong", "kink"]

THRESHOLDS: tuple[tuple[float, Verdict], ...] = (
    (1e-7, "good"),
    (1e-4, "acceptable"),
    (1e-2, "suspicious"),
)
"""(upper bound, verdict) in increasing order; anything from 1e-2 up is "wrong"."""

DEFAULT_EPSILON = 1e-6

KINK = "kink: finite differences do not apply here"

ROUNDING_FACTOR = 16.0
"""k in u = k eps M / h. Over 1,121 random networks whose central difference is limited by
rounding (its error shrinks when h grows tenfold; depth 1-3, widths 2-39, 1-8 samples, weights
~ N(0, s^2) with s from 0.5 to 3, mse, cross-entropy, binary cross-entropy and smooth_l1, both
presets) the largest |a - n| was 2.1 eps M / h, the median 0.45: 16 leaves a factor of 7.5."""

FLOOR_LIMIT = 1e-4
"""The floor applies only while it is below this share of the largest gradient entry (the
"acceptable" bound): a step too small for float64 to resolve that is judged as it is."""

_EPS = float(np.finfo(np.float64).eps)


def verdict(relative_error: float) -> Verdict:
    for bound, name in THRESHOLDS:
        if relative_error < bound:
            return name
    return "wrong"


@dataclass(frozen=True)
class KinkEntry:
    """An entry whose central difference straddles a kink: its one-sided differences.

    numeric is the central difference, (left + right) / 2; left = (L(theta) - L(theta - h)) / h
    and right = (L(theta + h) - L(theta)) / h.
    """

    index: tuple[int, ...]
    analytic: float
    numeric: float
    left: float
    right: float


@dataclass(frozen=True)
class TensorCheck:
    """One parameter tensor of one layer: its worst entry away from kinks, and its kinks.

    max_relative_error, worst_index, analytic and numeric are None when every entry of the
    tensor straddles a kink (its verdict is then "kink").
    """

    layer: int
    parameter: Literal["weights", "biases"]
    max_relative_error: float | None
    worst_index: tuple[int, ...] | None
    analytic: float | None
    numeric: float | None
    kinks: tuple[KinkEntry, ...] = ()

    @property
    def verdict(self) -> TensorVerdict:
        return "kink" if self.max_relative_error is None else verdict(self.max_relative_error)


@dataclass(frozen=True)
class GradientCheck:
    checks: tuple[TensorCheck, ...]
    epsilon: float
    rounding_floor: float | None
    """u: a difference |a - n| up to it is float64 rounding, and counts as agreement (None:
    not applied, see ``_rounding_floor``)."""

    @property
    def near_kink(self) -> bool:
        """Whether some entry's central difference straddles a kink."""
        return any(c.kinks for c in self.checks)

    @property
    def kinks(self) -> int:
        return sum(len(c.kinks) for c in self.checks)

    @property
    def max_relative_error(self) -> float | None:
        """The largest relative error over every entry not at a kink (None if there is none)."""
        judged = [c.max_relative_error for c in self.checks if c.max_relative_error is not None]
        return max(judged) if judged else None

    @property
    def verdict(self) -> TensorVerdict:
        """The verdict on the entries away from kinks; "kink" when every entry is at one."""
        worst = self.max_relative_error
        return "kink" if worst is None else verdict(worst)


def relative_error(analytic: FloatArray, numeric: FloatArray, floor: float = 0.0) -> FloatArray:
    """|a - n| / max(|a|, |n|), entry by entry; 0 where both are 0 or |a - n| <= floor."""
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    error = np.abs(analytic - numeric)
    resolved = (scale > 0.0) & (error > floor)
    return np.divide(error, scale, out=np.zeros_like(error), where=resolved)


def gradcheck(problem: BackpropProblem, *, epsilon: float = DEFAULT_EPSILON) -> GradientCheck:
    """Check every weight and bias of a problem's network by central differences.

    The problem's step is not taken (its learning rate plays no part). Costs two forward
    passes per parameter, and one more for L(theta) itself.
    """
    network, x, y, loss = problem.network, problem.x, problem.y, problem.loss
    result = backprop(network, x, y, loss, learning_rate=0.0)
    sides = _sides(network, result.forward, y, loss)
    floor = _rounding_floor(problem, result, epsilon)
    checks: list[TensorCheck] = []
    for i, grads in enumerate(result.layers):
        for parameter, analytic in (
            ("weights", grads.weight_gradient),
            ("biases", grads.bias_gradient),
        ):
            at = _Perturbed(network, x, y, loss, layer=i, parameter=parameter)
            plus, minus, straddles = at.losses(epsilon, sides)
            numeric = (plus - minus) / (2 * epsilon)
            error = relative_error(analytic, numeric, floor)
            kinks = tuple(
                KinkEntry(
                    tuple(int(k) for k in index),
                    float(analytic[index]),
                    float(numeric[index]),
                    (result.loss - float(minus[index])) / epsilon,
                    (float(plus[index]) - result.loss) / epsilon,
                )
                for index in zip(*np.nonzero(straddles), strict=True)
            )
            checks.append(
                _tensor_check(
                    i,
                    parameter,
                    error=error,
                    analytic=analytic,
                    numeric=numeric,
                    straddles=straddles,
                    kinks=kinks,
                )
            )
    return GradientCheck(tuple(checks), epsilon, floor or None)


def _rounding_floor(problem: BackpropProblem, result: Backprop, h: float) -> float:
    """u = ROUNDING_FACTOR eps M / h, or 0 (not applied) where u is not below FLOOR_LIMIT of
    the largest gradient entry: finite differences with this step then resolve nothing (h =
    1e-300, say), and saying "good" of differences within u would say nothing either."""
    u = ROUNDING_FACTOR * _EPS * rounding_magnitude(problem, result) / h
    largest = max(
        float(np.abs(gradient).max())
        for grads in result.layers
        for gradient in (grads.weight_gradient, grads.bias_gradient)
    )
    return u if u < FLOOR_LIMIT * largest else 0.0


def _tensor_check(
    layer: int,
    parameter: str,
    *,
    error: FloatArray,
    analytic: FloatArray,
    numeric: FloatArray,
    straddles: BoolArray,
    kinks: tuple[KinkEntry, ...],
) -> TensorCheck:
    judged = np.where(straddles, -1.0, error)
    if judged.max() < 0.0:  # every entry at a kink
        return TensorCheck(layer, parameter, None, None, None, None, kinks)  # type: ignore[arg-type]
    worst = np.unravel_index(int(np.argmax(judged)), judged.shape)
    return TensorCheck(
        layer=layer,
        parameter=parameter,  # type: ignore[arg-type]
        max_relative_error=float(error[worst]),
        worst_index=tuple(int(k) for k in worst),
        analytic=float(analytic[worst]),
        numeric=float(numeric[worst]),
        kinks=kinks,
    )


def rounding_magnitude(problem: BackpropProblem, result: Backprop) -> float:
    """M: the float64 rounding error of one evaluation of L is about eps M (first order).

    Each z^l = a^(l-1) W^l + b^l is computed to about eps (|a^(l-1)| |W^l| + |b^l|), and L moves
    by delta^l = dL/dz^l per unit of z; each a^l = f(z^l) to about eps |a^l|, and L moves by
    dL/da^l per unit of a; the loss adds its own (``_loss_terms``). These roundings are
    independent, so M is the root of the sum of their squares (their plain sum, which treats
    them as all pushing one way, is some 40 times larger on a 10-198-14 network with 8
    samples than the error ever is).
    """
    network, fwd = problem.network, result.forward
    terms = _loss_terms(problem, result)
    a_prev = problem.x
    for i, layer in enumerate(network.layers):
        W = network.layout.as_in_out(layer.weights)
        m_z = np.abs(a_prev).dot(np.abs(W)) + np.abs(layer.biases)
        terms.append(np.abs(result.layers[i].delta) * m_z)
        a = fwd.activations[i]
        if i + 1 < len(network.layers):
            W_above = network.layout.as_in_out(network.layers[i + 1].weights)
            terms.append(np.abs(result.layers[i + 1].delta.dot(W_above.T)) * np.abs(a))
        a_prev = a
    return math.sqrt(sum(float(np.vdot(t, t)) for t in terms))


def _loss_terms(problem: BackpropProblem, result: Backprop) -> list[FloatArray]:
    """The loss's own part of M, from the values v it is computed from (the outputs, or the
    logits z^L when it is fused with the last layer or takes logits): |L|, the rounding of
    v and of v - t carried by dL/dv, and where the loss takes v as logits, the terms of its
    log-softmax (z - max z - ln sum e^(z - max z)) or softplus, which cancel."""
    loss, fwd, y = problem.loss, result.forward, problem.y
    fused = loss.fuses_with(problem.network.layers[-1].activation)
    v = fwd.pre_activations[-1] if fused else fwd.outputs
    g = result.layers[-1].delta if fused else loss.gradient(fwd.outputs, y)
    terms = [np.array([result.loss]), np.abs(g) * (np.abs(v) + np.abs(y))]
    if fused or getattr(loss, "from_logits", False):
        row_max = np.abs(v).max(axis=1, keepdims=True)
        terms.append(loss.scale(v.shape) * (np.abs(y) + 1.0) * (np.abs(v) + row_max))
    return terms


Sides = list[FloatArray]
"""Which side of each kink every z (and o - t) lies on: -1, 0 or 1, one array per kink."""


def _sides(network: Network, fwd: ForwardPass, y: FloatArray, loss: Loss) -> Sides:
    sides: Sides = [
        np.sign(z - kink)
        for layer, z in zip(network.layers, fwd.pre_activations, strict=True)
        for kink in layer.activation.kinks()
    ]
    sides.extend(np.sign(fwd.outputs - y - kink) for kink in loss.kinks())
    return sides


@dataclass
class _Perturbed:
    """One layer's weights or biases, each entry perturbed in turn."""

    network: Network
    x: FloatArray
    y: FloatArray
    loss: Loss
    layer: int
    parameter: str

    def losses(self, h: float, sides: Sides) -> tuple[FloatArray, FloatArray, BoolArray]:
        """L(theta + h) and L(theta - h) for every entry theta of the tensor, and whether the
        segment between them crosses a kink (some side differs from theta's)."""
        layer = self.network.layers[self.layer]
        if self.parameter == "weights":
            theta = layer.weights.copy()
            changed = replace(layer, weights=theta)
        else:
            theta = layer.biases.copy()
            changed = replace(layer, biases=theta)
        layers = list(self.network.layers)
        layers[self.layer] = changed
        perturbed = replace(self.network, layers=tuple(layers))

        def loss_at(value: float, index: tuple[int, ...]) -> tuple[float, bool]:
            theta[index] = value
            fwd = forward(perturbed, self.x)
            same = all(
                np.array_equal(now, then)
                for now, then in zip(_sides(perturbed, fwd, self.y, self.loss), sides, strict=True)
            )
            return evaluate_loss(perturbed, fwd, self.y, self.loss), not same

        plus, minus = np.empty_like(theta), np.empty_like(theta)
        straddles = np.zeros(theta.shape, dtype=bool)
        for index in np.ndindex(theta.shape):
            original = float(theta[index])
            plus[index], crossed_up = loss_at(original + h, index)
            minus[index], crossed_down = loss_at(original - h, index)
            straddles[index] = crossed_up or crossed_down
            theta[index] = original
        return plus, minus, straddles
