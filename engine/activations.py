"""Activation functions, each with its forward step and its derivative side by side.

An activation maps pre-activations ``z`` (ndarray of shape (n_samples, n_units)) to activations
``a = f(z)`` of the same shape. ``derivative(z, a)`` is f'(z), elementwise (``a`` is passed in
because several derivatives are cheapest in terms of it, e.g. sigmoid's a(1 - a)).
``vjp(z, a, dL_da)`` carries an upstream gradient back to dL/dz: f'(z) * dL/da for the
elementwise activations, the Jacobian product for softmax.

Every formula is stable for |z| up to 1000 and beyond: no overflow, no warnings, finite results.
Where PyTorch computes a derivative by a particular formula, the same formula is used here, so
that answers agree with PyTorch's to the last few bits.

Parameters are dataclass fields named as PyTorch names them. ``positive_at_zero`` is not a
parameter but a convention (``relu_grad_at_zero``): whether z = 0 takes ReLU's and LeakyReLU's
right-hand derivative (textbook: x >= 0 counts as positive) or the left-hand one (PyTorch).
ELU and SELU, which the convention does not name, take PyTorch's value at 0 (the z <= 0 branch)
under both presets.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, Literal

import numpy as np

from engine import special
from engine.conventions import Conventions
from engine.formulas import ONE, Call, Exp, Group, Power, Product, Quotient, Sum, Term, minus
from engine.types import FloatArray


def _param(default: Any, doc: str) -> Any:
    """A dataclass field that is a client-settable parameter, with its documentation."""
    return field(default=default, metadata={"doc": doc})


def _convention() -> Any:
    """The kink convention: set from Conventions.relu_grad_at_zero, never by a client."""
    return field(default=True, metadata={"convention": "relu_grad_at_zero"})


@dataclass(frozen=True)
class Activation(ABC):
    """An activation function f with its derivative f'."""

    name: ClassVar[str]
    formula: ClassVar[str]
    derivative_formula: ClassVar[str]
    last_layer_only: ClassVar[bool] = False

    @abstractmethod
    def forward(self, z: FloatArray) -> FloatArray:
        """a = f(z), same shape as z."""

    @abstractmethod
    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        """f'(z) elementwise, given z and a = f(z)."""

    def vjp(self, z: FloatArray, a: FloatArray, dL_da: FloatArray) -> FloatArray:
        """dL/dz = f'(z) * dL/da (elementwise activations)."""
        return self.derivative(z, a) * dL_da

    # Its formulas, for worked solutions (engine/formulas.py, engine/explain.py) ---------------

    def output_term(self, z: Sequence[Term], k: int) -> Term:
        """a_k = f(z)_k as a formula, given the layer's pre-activations z (symbols or numbers)."""
        return Call(self.name, (z[k],))

    def derivative_term(self, z: Term, a: Term) -> Term | None:
        """f'(z) as a formula in z or a = f(z), where it has a short one; else None (f'(z) is
        then written as such, with its value)."""
        return None

    def derivative_call(self, z: Term) -> Term:
        return Call(self.name, (z,), derivative=True)

    def vjp_term(self, a: Sequence[Term], upstream: Sequence[Term], k: int) -> Term | None:
        """dL/dz_k as a formula, for an activation that mixes units; None for an elementwise
        one (dL/dz_k = f'(z_k) dL/da_k)."""
        return None

    # Where finite differences do not apply (engine/gradcheck.py) ------------------------------

    def kinks(self) -> tuple[float, ...]:
        """The values of z where f' jumps (or f itself): a central difference across one
        measures neither side's derivative."""
        return ()


def _nonpositive_exp(z: FloatArray) -> FloatArray:
    """exp(min(z, 0)): the exponential of the negative branch, never overflowing."""
    return np.exp(np.minimum(z, 0.0))


def _nonpositive_expm1(z: FloatArray) -> FloatArray:
    """expm1(min(z, 0)), accurate near 0 and never overflowing."""
    return np.expm1(np.minimum(z, 0.0))


@dataclass(frozen=True)
class Linear(Activation):
    name = "linear"
    formula = "f(z) = z"
    derivative_formula = "f'(z) = 1"

    def forward(self, z: FloatArray) -> FloatArray:
        return z

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return np.ones_like(z)

    def vjp(self, z: FloatArray, a: FloatArray, dL_da: FloatArray) -> FloatArray:
        return dL_da

    def derivative_term(self, z: Term, a: Term) -> Term:
        return ONE


@dataclass(frozen=True)
class Sigmoid(Activation):
    name = "sigmoid"
    formula = "f(z) = 1 / (1 + e^(-z))"
    derivative_formula = "f'(z) = f(z) (1 - f(z))"

    def forward(self, z: FloatArray) -> FloatArray:
        return special.sigmoid(z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return a * (1.0 - a)

    def derivative_term(self, z: Term, a: Term) -> Term:
        return Product((a, minus(ONE, a)))


@dataclass(frozen=True)
class Tanh(Activation):
    name = "tanh"
    formula = "f(z) = tanh(z) = (e^z - e^(-z)) / (e^z + e^(-z))"
    derivative_formula = "f'(z) = 1 - tanh(z)^2"

    def forward(self, z: FloatArray) -> FloatArray:
        return np.tanh(z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return 1.0 - a * a

    def derivative_term(self, z: Term, a: Term) -> Term:
        return minus(ONE, Power(a, 2))


@dataclass(frozen=True)
class ReLU(Activation):
    name = "relu"
    formula = "f(z) = max(0, z)"
    derivative_formula = "f'(z) = 1 if z > 0, 0 if z < 0; f'(0) = relu_grad_at_zero"
    positive_at_zero: bool = _convention()

    def forward(self, z: FloatArray) -> FloatArray:
        return np.maximum(z, 0.0)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        positive = z >= 0.0 if self.positive_at_zero else z > 0.0
        return positive.astype(np.float64)

    def kinks(self) -> tuple[float, ...]:
        return (0.0,)


@dataclass(frozen=True)
class LeakyReLU(Activation):
    name = "leaky_relu"
    formula = "f(z) = z if z > 0, negative_slope * z otherwise"
    derivative_formula = (
        "f'(z) = 1 if z > 0, negative_slope if z < 0; "
        "f'(0) = 1 if relu_grad_at_zero is 1, negative_slope if it is 0"
    )
    negative_slope: float = _param(0.01, "slope of the function for z < 0")
    positive_at_zero: bool = _convention()

    def forward(self, z: FloatArray) -> FloatArray:
        return np.where(z > 0.0, z, self.negative_slope * z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        positive = z >= 0.0 if self.positive_at_zero else z > 0.0
        return np.where(positive, 1.0, self.negative_slope)

    def kinks(self) -> tuple[float, ...]:
        return () if self.negative_slope == 1.0 else (0.0,)


@dataclass(frozen=True)
class ELU(Activation):
    name = "elu"
    formula = "f(z) = z if z > 0, alpha (e^z - 1) otherwise"
    derivative_formula = "f'(z) = 1 if z > 0, alpha e^z if z <= 0 (so f'(0) = alpha)"
    alpha: float = _param(1.0, "value the function tends to for z -> -inf is -alpha")

    def forward(self, z: FloatArray) -> FloatArray:
        return np.where(z > 0.0, z, self.alpha * _nonpositive_expm1(z))

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return np.where(z > 0.0, 1.0, self.alpha * _nonpositive_exp(z))

    def kinks(self) -> tuple[float, ...]:
        """f'(0) is alpha on the left and 1 on the right: smooth enough only for alpha = 1."""
        return () if self.alpha == 1.0 else (0.0,)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclass(frozen=True)
class SELU(Activation):
    name = "selu"
    formula = (
        f"f(z) = scale z if z > 0, scale alpha (e^z - 1) otherwise "
        f"(alpha = {SELU_ALPHA}, scale = {SELU_SCALE})"
    )
    derivative_formula = (
        "f'(z) = scale if z > 0, scale alpha e^z if z <= 0 (so f'(0) = scale alpha)"
    )

    def forward(self, z: FloatArray) -> FloatArray:
        negative_scale = SELU_ALPHA * SELU_SCALE
        return np.where(z > 0.0, SELU_SCALE * z, negative_scale * _nonpositive_expm1(z))

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        negative_scale = SELU_ALPHA * SELU_SCALE
        return np.where(z > 0.0, SELU_SCALE, negative_scale * _nonpositive_exp(z))

    def kinks(self) -> tuple[float, ...]:
        return (0.0,)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_KAPPA = 0.044715


@dataclass(frozen=True)
class GELU(Activation):
    name = "gelu"
    formula = (
        "f(z) = z Phi(z) = z/2 (1 + erf(z / sqrt(2))) (approximate 'none'); "
        "z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) (approximate 'tanh')"
    )
    derivative_formula = (
        "f'(z) = Phi(z) + z phi(z), phi(z) = e^(-z^2/2) / sqrt(2 pi) (approximate 'none'); "
        "the derivative of the tanh form with u = sqrt(2/pi) (z + 0.044715 z^3): "
        "(1 + tanh u)/2 + z/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2) ('tanh')"
    )
    approximate: Literal["none", "tanh"] = _param(
        "none", "'none' for the exact erf form, 'tanh' for the tanh approximation"
    )

    def forward(self, z: FloatArray) -> FloatArray:
        if self.approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (z + _GELU_KAPPA * z * z * z)
            return 0.5 * z * (1.0 + np.tanh(inner))
        return z * 0.5 * (1.0 + special.erf(z * math.sqrt(0.5)))

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        if self.approximate == "tanh":
            z_sq = z * z
            tanh_inner = np.tanh(_SQRT_2_OVER_PI * (z + _GELU_KAPPA * z_sq * z))
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_KAPPA * z_sq)
            return 0.5 * (1.0 + tanh_inner) + 0.5 * z * (1.0 - tanh_inner * tanh_inner) * d_inner
        cdf = 0.5 * (1.0 + special.erf(z * math.sqrt(0.5)))
        pdf = np.exp(-0.5 * z * z) * _INV_SQRT_2PI
        return cdf + z * pdf


@dataclass(frozen=True)
class Softplus(Activation):
    name = "softplus"
    formula = "f(z) = ln(1 + e^(beta z)) / beta, or z where beta z > threshold"
    derivative_formula = "f'(z) = sigmoid(beta z), or 1 where beta z > threshold"
    beta: float = _param(1.0, "sharpness of the curve (> 0)")
    threshold: float = _param(20.0, "above beta z > threshold the function is linear")

    def forward(self, z: FloatArray) -> FloatArray:
        bz = self.beta * z
        return np.where(bz > self.threshold, z, np.logaddexp(0.0, bz) / self.beta)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        bz = self.beta * z
        return np.where(bz > self.threshold, 1.0, special.sigmoid(bz))

    def kinks(self) -> tuple[float, ...]:
        """Where beta z = threshold, f jumps to z (by ln(1 + e^-threshold) / beta, 2e-9 at the
        default threshold 20: a central difference across it is off by that over 2h)."""
        return (self.threshold / self.beta,)


@dataclass(frozen=True)
class SiLU(Activation):
    name = "silu"
    formula = "f(z) = z sigmoid(z)"
    derivative_formula = "f'(z) = sigmoid(z) (1 + z (1 - sigmoid(z)))"

    def forward(self, z: FloatArray) -> FloatArray:
        return z * special.sigmoid(z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        s = special.sigmoid(z)
        return s * (1.0 + z * (1.0 - s))


@dataclass(frozen=True)
class Softmax(Activation):
    """Softmax over each sample's units: the one activation that mixes units.

    Its Jacobian is da_i/dz_j = a_i (delta_ij - a_j), so dL/dz = a * (dL/da - sum(dL/da * a)).
    ``derivative`` returns only that Jacobian's diagonal a(1 - a); ``vjp`` is the real thing.
    """

    name = "softmax"
    formula = "f(z)_i = e^(z_i) / sum_j e^(z_j)"
    derivative_formula = "df_i/dz_j = f_i (delta_ij - f_j); dL/dz = f * (dL/df - sum_j dL/df_j f_j)"
    last_layer_only = True

    def forward(self, z: FloatArray) -> FloatArray:
        return special.softmax(z, axis=1)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return a * (1.0 - a)

    def vjp(self, z: FloatArray, a: FloatArray, dL_da: FloatArray) -> FloatArray:
        weighted: FloatArray = np.sum(dL_da * a, axis=1, keepdims=True)
        return a * (dL_da - weighted)

    def output_term(self, z: Sequence[Term], k: int) -> Term:
        """o_k = e^(z_k) / (e^(z_1) + ... + e^(z_n))."""
        return Quotient(Exp(z[k]), Group(Sum(tuple(Exp(z_j) for z_j in z))))

    def vjp_term(self, a: Sequence[Term], upstream: Sequence[Term], k: int) -> Term:
        """dL/dz_k = a_k (dL/da_k - (dL/da_1 a_1 + ... + dL/da_n a_n))."""
        weighted = Group(Sum(tuple(Product((g, a_j)) for g, a_j in zip(upstream, a, strict=True))))
        return Product((a[k], minus(upstream[k], weighted)))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, GELU, Softplus, SiLU, Softmax)
}


def make_activation(name: str, params: Mapping[str, Any], conventions: Conventions) -> Activation:
    """Build the activation called ``name`` with the given parameters under ``conventions``.

    Raises KeyError for an unknown name and TypeError for an unknown parameter. A parameter
    left out (or None) takes the conventions' default where they set one (LeakyReLU's slope:
    0.3 under keras), else the activation's own.
    """
    cls = ACTIVATIONS[name]
    params = _with_convention_defaults(cls, params, conventions)
    positive_at_zero = conventions.relu_grad_at_zero == 1 if follows_kink_convention(cls) else None
    if not params:  # the usual case: one immutable activation shared by every such request
        return _without_parameters(cls, positive_at_zero)
    kwargs = dict(params)
    if positive_at_zero is not None:
        kwargs["positive_at_zero"] = positive_at_zero
    return cls(**kwargs)


def _with_convention_defaults(
    cls: type[Activation], params: Mapping[str, Any], conventions: Conventions
) -> Mapping[str, Any]:
    """The parameters without those left None, and those the conventions set filled in."""
    if cls is LeakyReLU and params.get("negative_slope") is None:
        return {**params, "negative_slope": conventions.leaky_relu_negative_slope}
    if any(value is None for value in params.values()):
        return {key: value for key, value in params.items() if value is not None}
    return params


@cache
def _without_parameters(cls: type[Activation], positive_at_zero: bool | None) -> Activation:
    return cls() if positive_at_zero is None else cls(positive_at_zero=positive_at_zero)  # type: ignore[call-arg]


@cache
def follows_kink_convention(cls: type[Activation]) -> bool:
    """Whether the activation's derivative at z = 0 is set by relu_grad_at_zero."""
    return any(f.metadata.get("convention") for f in fields(cls))


def parameters_of(cls: type[Activation]) -> list[dict[str, Any]]:
    """The client-settable parameters of an activation: name, default and description."""
    return [
        {"name": f.name, "default": f.default, "description": f.metadata["doc"]}
        for f in fields(cls)
        if "doc" in f.metadata
    ]
