"""Loss functions, each with its value and its gradient side by side.

A loss compares outputs ``o`` (ndarray of shape (n_samples, n_outputs)) with targets ``y`` of
the same shape (class indices are turned into one-hot rows first, see ``one_hot``).
``value(o, y)`` is the reduced loss L, a float; ``gradient(o, y)`` is dL/do, shape of o, with
the reduction's scale inside it (a mean's 1/N is part of the gradient, as in PyTorch).

Reductions, as PyTorch defines them:
  sum         sum over every element
  mean        cross_entropy: mean over samples; every other loss: mean over all elements
  batch_mean  mse only: sum over outputs, mean over samples

The two losses with a natural link function, cross-entropy (softmax) and binary cross-entropy
(sigmoid), also compute their value and dL/dz straight from the logits z. The engine uses that
fused form when the last layer applies the link and the loss does not (from_logits false): it is
exact where the chained form would cancel or overflow (softmax(1000) = 1, log(1 - 1) = -inf).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar

import numpy as np

from engine import special
from engine.activations import Activation, Sigmoid, Softmax
from engine.conventions import PRESETS, Conventions, Reduction
from engine.errors import DomainError
from engine.formulas import (
    ONE,
    Abs,
    Call,
    Case,
    Condition,
    Difference,
    Group,
    Negative,
    Number,
    Product,
    Quotient,
    Symbol,
    Term,
    minus,
    scaled,
)
from engine.problems import TargetKind
from engine.types import FloatArray, IntArray

# PyTorch's BCELoss clamps log(x) at -100 and the gradient's denominator o(1 - o) at 1e-12 as a
# float32 constant, 9.999999960041972e-13: a float64 1e-12 would differ from PyTorch by 4e-9
# (relative) wherever the clamp applies, an output within 1e-12 of 0 or 1.
_BCE_LOG_FLOOR = -100.0
_BCE_EPSILON = float(np.float32(1e-12))


def one_hot(classes: IntArray, n_classes: int) -> FloatArray:
    """One-hot rows for class indices.

    classes : ndarray of shape (n_samples,), integers in [0, n_classes)
    Returns ndarray of shape (n_samples, n_classes).
    """
    rows = np.zeros((classes.shape[0], n_classes))
    rows[np.arange(classes.shape[0]), classes] = 1.0
    return rows


def _param(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class OutputUnit:
    """One output unit k of one sample, for a loss to write its gradient's formula with.

    o, t : o_k and t_k, as symbols or as numbers (the same for both rows of a worked formula)
    p : the link of the logits at k (softmax(o)_k, sigmoid(o_k)) for a loss on logits
    targets_sum_to_one : the sample's targets are a distribution (one-hot rows are)
    numbers : this is the row with the numbers substituted (so parameters are numbers too)
    gap : the value of o_k - t_k
    """

    o: Term
    t: Term
    p: Term | None
    targets_sum_to_one: bool
    numbers: bool
    gap: float
    """o_k - t_k as computed, in both rows: a piecewise loss picks its case by it."""

    def parameter(self, name: str, value: float, *, negated: bool = False) -> Term:
        """A parameter of the loss (or its negative): its symbol, or its value in the row of
        numbers."""
        if self.numbers:
            return Number(-value if negated else value)
        return Negative(Symbol(name)) if negated else Symbol(name)


@dataclass(frozen=True)
class Loss(ABC):
    """A loss function L(o, y) with its gradient dL/do."""

    name: ClassVar[str]
    formula: ClassVar[str]
    gradient_formula: ClassVar[str]
    reductions: ClassVar[tuple[Reduction, ...]] = ("sum", "mean")
    link: ClassVar[type[Activation] | None] = None
    """The activation the loss fuses with at the output, or applies to logits (from_logits)."""
    targets: ClassVar[TargetKind] = "values"
    """What its targets are: values, one-hot rows (class indices allowed), or 0/1 labels."""
    reduction: Reduction = field(
        metadata={"doc": "how the elementwise losses are reduced to one number"}
    )

    def __post_init__(self) -> None:
        if self.reduction not in self.reductions:
            raise ValueError(f"{self.name} takes reduction {' or '.join(self.reductions)}")

    @abstractmethod
    def value(self, o: FloatArray, y: FloatArray) -> float:
        """The reduced loss L."""

    @abstractmethod
    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        """dL/do, same shape as o."""

    def fuses_with(self, activation: Activation) -> bool:
        """Whether dL/dz of a last layer with this activation has a fused, stable form."""
        return False

    @abstractmethod
    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term | None:
        """dL/do_k of one output unit as a formula (engine/formulas.py), the reduction's scale
        included; dL/dz_k itself when ``fused``. None when it has no short formula."""

    def output_value(self, f: Activation, z: FloatArray, o: FloatArray, y: FloatArray) -> float:
        """L of an output layer with activation f, pre-activations z and outputs o = f(z)."""
        return self.value_from_logits(z, y) if self.fuses_with(f) else self.value(o, y)

    def output_gradient(
        self, f: Activation, z: FloatArray, o: FloatArray, y: FloatArray
    ) -> tuple[float, FloatArray, bool]:
        """L, and where backprop starts: dL/dz^L from the logits when this loss fuses with f
        (then the flag is True), dL/do otherwise (the output layer carries it through f')."""
        if self.fuses_with(f):
            return self.value_from_logits(z, y), self.delta_from_logits(z, y), True
        return self.value(o, y), self.gradient(o, y), False

    def value_from_logits(self, z: FloatArray, y: FloatArray) -> float:
        raise NotImplementedError(f"{self.name} has no fused form")

    def delta_from_logits(self, z: FloatArray, y: FloatArray) -> FloatArray:
        raise NotImplementedError(f"{self.name} has no fused form")

    def kinks(self) -> tuple[float, ...]:
        """The values of o - t where dL/do jumps: a central difference across one measures
        neither side's derivative. Huber's and SmoothL1's |o - t| = delta (beta) are not kinks:
        their gradient is continuous there, and a central difference is off by O(h) only."""
        return ()

    def scale(self, shape: tuple[int, ...]) -> float:
        """The reduction's factor: 1 for sum, 1 / (count averaged over) otherwise."""
        if self.reduction == "sum":
            return 1.0
        n_samples, n_outputs = shape
        return 1.0 / n_samples if self.reduction == "batch_mean" else 1.0 / (n_samples * n_outputs)

    def params(self) -> dict[str, Any]:
        """Every parameter's value, the resolved reduction included."""
        return {"name": self.name, **{name: getattr(self, name) for name in _names(type(self))}}


@dataclass(frozen=True)
class MSE(Loss):
    name = "mse"
    formula = "L = c sum (o - t)^2, c = 1/2 when half; divided by the count a mean averages over"
    gradient_formula = "dL/do = 2c (o - t), that is o - t for the textbook's 1/2 sum"
    reductions = ("sum", "mean", "batch_mean")
    half: bool = field(metadata={"doc": "multiply by 1/2, so that dL/do = o - t under a sum"})

    def value(self, o: FloatArray, y: FloatArray) -> float:
        c = (0.5 if self.half else 1.0) * self.scale(o.shape)
        diff = o - y
        return c * float(np.vdot(diff, diff))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return ((1.0 if self.half else 2.0) * self.scale(o.shape)) * (o - y)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term:
        return scaled(scale * (1.0 if self.half else 2.0), minus(unit.o, unit.t))


@dataclass(frozen=True)
class L1(Loss):
    name = "l1"
    formula = "L = sum |o - t|, divided by the element count for mean"
    gradient_formula = "dL/do = sign(o - t) (0 where o = t)"

    def value(self, o: FloatArray, y: FloatArray) -> float:
        return self.scale(o.shape) * float(np.sum(np.abs(o - y)))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return self.scale(o.shape) * np.sign(o - y)

    def kinks(self) -> tuple[float, ...]:
        return (0.0,)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term:
        return scaled(scale, Call("sign", (Difference(unit.o, unit.t),)))


@dataclass(frozen=True)
class Huber(Loss):
    name = "huber"
    formula = "L = sum of (o - t)^2 / 2 where |o - t| < delta, delta (|o - t| - delta/2) elsewhere"
    gradient_formula = "dL/do = clip(o - t, -delta, delta)"
    delta: float = _param(1.0, "where the loss turns from quadratic to linear (> 0)")

    def value(self, o: FloatArray, y: FloatArray) -> float:
        d = np.abs(o - y)
        pointwise = np.where(d < self.delta, 0.5 * d * d, self.delta * (d - 0.5 * self.delta))
        return self.scale(o.shape) * float(np.sum(pointwise))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return self.scale(o.shape) * np.clip(o - y, -self.delta, self.delta)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term:
        low, high = (
            unit.parameter("delta", self.delta, negated=True),
            unit.parameter("delta", self.delta),
        )
        return scaled(scale, Call("clip", (Difference(unit.o, unit.t), low, high)))


@dataclass(frozen=True)
class SmoothL1(Loss):
    """PyTorch's SmoothL1Loss: quadratic within beta of the target, linear beyond it.

    With d = o - t: L = sum of d^2 / (2 beta) where |d| < beta, |d| - beta/2 elsewhere, and
    dL/do = d / beta where |d| < beta, sign(d) elsewhere (both sides give +-1 at |d| = beta, so
    the gradient is continuous). beta = 0 is l1 exactly, as in PyTorch (sign(0) = 0).
    Huber(delta) = delta * SmoothL1(beta = delta).
    """

    name = "smooth_l1"
    formula = (
        "L = sum of (o - t)^2 / (2 beta) where |o - t| < beta, |o - t| - beta/2 elsewhere "
        "(l1 when beta = 0); divided by the element count for mean"
    )
    gradient_formula = "dL/do = (o - t) / beta where |o - t| < beta, sign(o - t) elsewhere"
    beta: float = _param(1.0, "where the loss turns from quadratic to linear (>= 0; 0 is l1)")

    def value(self, o: FloatArray, y: FloatArray) -> float:
        d = np.abs(o - y)
        if self.beta == 0.0:
            return self.scale(o.shape) * float(np.sum(d))
        with np.errstate(over="ignore"):  # d * d of the linear side, which np.where drops
            pointwise = np.where(d < self.beta, 0.5 * d * d / self.beta, d - 0.5 * self.beta)
        return self.scale(o.shape) * float(np.sum(pointwise))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        d = o - y
        if self.beta == 0.0:
            return self.scale(o.shape) * np.sign(d)
        # clip(d, -beta, beta) / beta is d / beta inside and exactly +-1 outside, never inf
        return self.scale(o.shape) * (np.clip(d, -self.beta, self.beta) / self.beta)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term:
        """(o_k - t_k) / beta where |o_k - t_k| < beta, sign(o_k - t_k) elsewhere: the case
        that applies, with its condition in the row of symbols."""
        d = Difference(unit.o, unit.t)
        if self.beta == 0.0:  # l1
            return scaled(scale, Call("sign", (d,)))
        beta = unit.parameter("beta", self.beta)
        inside = abs(unit.gap) < self.beta
        piece = scaled(scale, Quotient(Group(d), beta) if inside else Call("sign", (d,)))
        if unit.numbers:
            return piece
        return Case(piece, Condition(Abs(d), "<" if inside else ">=", beta))

    def kinks(self) -> tuple[float, ...]:
        """l1's kink at o = t when beta = 0; none otherwise (the gradient is continuous)."""
        return (0.0,) if self.beta == 0.0 else ()


@dataclass(frozen=True)
class CrossEntropy(Loss):
    """Categorical cross-entropy over each sample's outputs.

    Targets are probability (or one-hot) rows; label smoothing mixes them with the uniform
    distribution: y' = (1 - eps) y + eps / C. Over logits z, with p = softmax(z):
    L = -sum y' log p and dL/dz = p sum(y') - y' (= p - y' for rows that sum to 1).
    """

    name = "cross_entropy"
    link = Softmax
    targets = "classes"
    formula = "L = -sum_i y_i ln o_i, o = softmax(z) (over the logits when from_logits)"
    gradient_formula = "dL/dz = p - y with p = softmax(z) (fused); dL/do = -y / o otherwise"
    from_logits: bool = _param(False, "the outputs are logits: apply softmax inside the loss")
    label_smoothing: float = _param(0.0, "eps in [0, 1): y' = (1 - eps) y + eps / n_classes")
    epsilon: float | None = _param(
        None,
        "Keras' fuzz factor (keras.config.epsilon(), 1e-7): outputs taken as probabilities are "
        "divided by their row's sum and clipped to [epsilon, 1 - epsilon], as Keras' "
        "categorical_crossentropy does; none: ln o of the outputs as they are",
    )

    def scale(self, shape: tuple[int, ...]) -> float:
        return 1.0 if self.reduction == "sum" else 1.0 / shape[0]

    def smoothed(self, y: FloatArray) -> FloatArray:
        if self.label_smoothing == 0.0:
            return y
        smoothed: FloatArray = (1.0 - self.label_smoothing) * y + self.label_smoothing / y.shape[1]
        return smoothed

    def fuses_with(self, activation: Activation) -> bool:
        return not self.from_logits and isinstance(activation, Softmax)

    def value_from_logits(self, z: FloatArray, y: FloatArray) -> float:
        log_p = special.log_softmax(z, axis=1)
        return -self.scale(z.shape) * float(np.vdot(self.smoothed(y), log_p))

    def delta_from_logits(self, z: FloatArray, y: FloatArray) -> FloatArray:
        y = self.smoothed(y)
        p = np.exp(special.log_softmax(z, axis=1))
        mass: FloatArray = np.sum(y, axis=1, keepdims=True)
        return self.scale(z.shape) * (p * mass - y)

    def value(self, o: FloatArray, y: FloatArray) -> float:
        if self.from_logits:
            return self.value_from_logits(o, y)
        y = self.smoothed(y)
        if self.epsilon is not None:
            _, _, clipped = self._keras_probabilities(o, self.epsilon)
            return -self.scale(o.shape) * float(np.vdot(y, np.log(clipped)))
        self._check_probabilities(o, y)
        log_o = np.log(np.where(y != 0.0, o, 1.0))
        return -self.scale(o.shape) * float(np.vdot(y, log_o))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        if self.from_logits:
            return self.delta_from_logits(o, y)
        y = self.smoothed(y)
        if self.epsilon is not None:
            return self._keras_gradient(o, y, self.epsilon)
        self._check_probabilities(o, y)
        return -self.scale(o.shape) * (y / np.where(y != 0.0, o, 1.0))

    def _keras_probabilities(
        self, o: FloatArray, epsilon: float
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Keras' categorical_crossentropy (from_logits=False, every backend): the row sums
        s, q = o / s and c = clip(q, epsilon, 1 - epsilon), whose log it takes."""
        bad = (o < 0.0) | (np.sum(o, axis=1, keepdims=True) <= 0.0)
        if bad.any():
            sample, output = (int(i) for i in np.argwhere(bad)[0])
            raise DomainError(
                "loss",
                "cross_entropy with epsilon (Keras' form) divides each row of outputs by its "
                f"sum, but output {output} of sample {sample} is {o[sample, output]:.6g} and "
                "its row does not make a distribution: use a softmax last layer, or set "
                "from_logits to true",
            )
        sums: FloatArray = np.sum(o, axis=1, keepdims=True)
        q = o / sums
        return sums, q, np.clip(q, epsilon, 1.0 - epsilon)

    def _keras_gradient(self, o: FloatArray, y: FloatArray, epsilon: float) -> FloatArray:
        """dL/do of -sum_k y_k ln c_k, c = clip(q, epsilon, 1 - epsilon), q = o / sum(o):
        with g_k = -y_k / c_k where the clip passes q_k (epsilon <= q_k <= 1 - epsilon, as
        the gradients of torch.clip and tf.clip_by_value do) and 0 where it holds it,
        dq_k/do_j = (delta_kj - q_k) / s gives dL/do_j = (g_j - sum_k g_k q_k) / s."""
        sums, q, clipped = self._keras_probabilities(o, epsilon)
        passed = (q >= epsilon) & (q <= 1.0 - epsilon)
        g = np.where(passed, -y / clipped, 0.0)
        weighted: FloatArray = np.sum(g * q, axis=1, keepdims=True)
        return self.scale(o.shape) * (g - weighted) / sums

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term | None:
        """(p_k - t_k) over logits (p = softmax), (o_k - t_k) fused with a softmax output,
        -t_k / o_k otherwise; None with label smoothing or targets that are no distribution."""
        if self.label_smoothing or not unit.targets_sum_to_one:
            return None
        if self.epsilon is not None and not fused and not self.from_logits:
            return None  # Keras' normalized, clipped form: no short formula per unit
        if self.from_logits:
            assert unit.p is not None
            return scaled(scale, minus(unit.p, unit.t))
        if fused:
            return scaled(scale, minus(unit.o, unit.t))
        return scaled(scale, Quotient(Negative(unit.t), unit.o))

    @staticmethod
    def _check_probabilities(o: FloatArray, y: FloatArray) -> None:
        bad = (y != 0.0) & (o <= 0.0)
        if bad.any():
            sample, output = (int(i) for i in np.argwhere(bad)[0])
            raise DomainError(
                "loss",
                "cross_entropy without from_logits takes the logarithm of the outputs, but "
                f"output {output} of sample {sample} is {o[sample, output]:.6g}, which has no "
                "logarithm: use a softmax last layer, or set from_logits to true",
            )


@dataclass(frozen=True)
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of each output on its own, targets in [0, 1].

    Over logits z: L = sum softplus(z) - y z and dL/dz = sigmoid(z) - y. Over probabilities o,
    as PyTorch's BCELoss does, log is clamped at -100 and o (1 - o) at 1e-12 in the gradient.
    """

    name = "binary_cross_entropy"
    link = Sigmoid
    targets = "binary"
    formula = "L = -sum y ln o + (1 - y) ln(1 - o), o = sigmoid(z) when from_logits"
    gradient_formula = "dL/dz = sigmoid(z) - y (fused); dL/do = (o - y) / (o (1 - o)) otherwise"
    from_logits: bool = _param(False, "the outputs are logits: apply sigmoid inside the loss")
    epsilon: float | None = _param(
        None,
        "Keras' fuzz factor (keras.config.epsilon(), 1e-7): outputs taken as probabilities are "
        "clipped to [epsilon, 1 - epsilon], as Keras' binary_crossentropy does; none: "
        "PyTorch's BCELoss (log clamped at -100)",
    )

    def fuses_with(self, activation: Activation) -> bool:
        return not self.from_logits and isinstance(activation, Sigmoid)

    def value_from_logits(self, z: FloatArray, y: FloatArray) -> float:
        pointwise = (1.0 - y) * z + np.logaddexp(0.0, -z)
        return self.scale(z.shape) * float(np.sum(pointwise))

    def delta_from_logits(self, z: FloatArray, y: FloatArray) -> FloatArray:
        return self.scale(z.shape) * (special.sigmoid(z) - y)

    def value(self, o: FloatArray, y: FloatArray) -> float:
        if self.from_logits:
            return self.value_from_logits(o, y)
        self._check_probabilities(o)
        if self.epsilon is not None:  # Keras' binary_crossentropy
            c = np.clip(o, self.epsilon, 1.0 - self.epsilon)
            pointwise = y * np.log(c) + (1.0 - y) * np.log(1.0 - c)
            return -self.scale(o.shape) * float(np.sum(pointwise))
        log_o = np.maximum(np.log(np.maximum(o, 1e-300)), _BCE_LOG_FLOOR)
        log_1mo = np.maximum(np.log(np.maximum(1.0 - o, 1e-300)), _BCE_LOG_FLOOR)
        return -self.scale(o.shape) * float(np.sum(y * log_o + (1.0 - y) * log_1mo))

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        if self.from_logits:
            return self.delta_from_logits(o, y)
        self._check_probabilities(o)
        if self.epsilon is not None:  # 0 where the clip holds o (outside [eps, 1 - eps])
            c = np.clip(o, self.epsilon, 1.0 - self.epsilon)
            passed = (o >= self.epsilon) & (o <= 1.0 - self.epsilon)
            return self.scale(o.shape) * np.where(passed, (c - y) / (c * (1.0 - c)), 0.0)
        return self.scale(o.shape) * (o - y) / np.maximum((1.0 - o) * o, _BCE_EPSILON)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term | None:
        """(p_k - t_k) over logits (p = sigmoid), (o_k - t_k) fused with a sigmoid output,
        (o_k - t_k) / (o_k(1 - o_k)) otherwise (None in Keras' clipped form)."""
        if self.from_logits:
            assert unit.p is not None
            return scaled(scale, minus(unit.p, unit.t))
        if fused:
            return scaled(scale, minus(unit.o, unit.t))
        if self.epsilon is not None:
            return None  # Keras' clipped form: 0 where the clip holds o
        o = unit.o
        return scaled(scale, Quotient(minus(o, unit.t), Group(Product((o, minus(ONE, o))))))

    @staticmethod
    def _check_probabilities(o: FloatArray) -> None:
        bad = (o < 0.0) | (o > 1.0)
        if bad.any():
            sample, output = (int(i) for i in np.argwhere(bad)[0])
            raise DomainError(
                "loss",
                "binary_cross_entropy without from_logits needs outputs in [0, 1], but output "
                f"{output} of sample {sample} is {o[sample, output]:.6g}: use a sigmoid last "
                "layer, or set from_logits to true",
            )


@cache
def _names(cls: type[Loss]) -> tuple[str, ...]:
    """The loss's parameter names (dataclasses.fields costs a microsecond a call)."""
    return tuple(f.name for f in fields(cls))


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MSE, CrossEntropy, BinaryCrossEntropy, L1, Huber, SmoothL1)
}


def make_loss(name: str, params: Mapping[str, Any], conventions: Conventions) -> Loss:
    """Build the loss called ``name``; parameters left out take the conventions' defaults.

    The MSE form (reduction and half) and every other loss's reduction come from the
    conventions unless ``params`` sets them. Raises KeyError for an unknown name.
    """
    cls = LOSSES[name]
    kwargs: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    if not kwargs:  # every parameter left to the conventions: one shared loss per convention
        return _conventional(cls, conventions)
    return _built(cls, kwargs, conventions)


@cache
def _conventional(cls: type[Loss], conventions: Conventions) -> Loss:
    return _built(cls, {}, conventions)


def _built(cls: type[Loss], kwargs: dict[str, Any], conventions: Conventions) -> Loss:
    if cls is MSE:
        kwargs.setdefault("reduction", conventions.mse_reduction)
        kwargs.setdefault("half", conventions.mse_half)
    else:
        kwargs.setdefault("reduction", conventions.reduction)
    if cls in (CrossEntropy, BinaryCrossEntropy):
        kwargs.setdefault("epsilon", conventions.epsilon)
    return cls(**kwargs)


def parameters_of(cls: type[Loss]) -> list[dict[str, Any]]:
    """The client-settable parameters of a loss: description and default under each preset."""
    defaults = {preset: make_loss(cls.name, {}, c).params() for preset, c in PRESETS.items()}
    return [
        {
            "name": f.name,
            "description": f.metadata["doc"],
            "defaults": {preset.value: params[f.name] for preset, params in defaults.items()},
        }
        for f in fields(cls)
        if "doc" in f.metadata
    ]
