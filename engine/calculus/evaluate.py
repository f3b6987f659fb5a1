"""Numbers from expressions: an expression evaluated elementwise over float64 arrays.

``evaluate(expr, env)`` takes one array (or float) per variable, all of one shape, and returns
the expression's values in that shape. Nothing warns and nothing raises for values outside a
domain: ln(-1) is nan and 1/0 is inf, as in NumPy, and the caller decides what that means.

Real odd roots, as calculus textbooks read them: u^(p/q) with a constant exponent whose exact
value is p/q in lowest terms with q odd is the real root, (q-th root of u)^p, for u < 0 too:
x^(1/3) at -8 is -2 and x^(2/3) is 4 (SymPy's real_root, not NumPy's principal branch, which
is nan there). Any other non-integer exponent (1/2, 0.3 = 3/10, pi) needs u >= 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from engine.calculus.expr import Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Restricted, Var
from engine.calculus.functions import FUNCTIONS
from engine.errors import DomainError
from engine.types import FloatArray

Values = FloatArray | float
"""An array of values, or one value (a float broadcasts like an array of any shape)."""

_CONSTANTS = {"e": math.e, "pi": math.pi}
_EXACT_LOGARITHMS = {Fraction(10): np.log10, Fraction(2): np.log2}
"""Logarithms to the bases 10 and 2, exact at their powers."""


def as_float(value: Fraction) -> float:
    """The float64 nearest to an exact number, inf (with its sign) when it is out of range."""
    try:
        return float(value)
    except OverflowError:
        return math.copysign(math.inf, value)


def evaluate(expr: Expr, env: Mapping[str, Values], *, at_zero: float = 1.0) -> FloatArray:
    """The values of ``expr`` with each variable's values taken from ``env``.

    env : one float or ndarray per variable of ``expr`` (all arrays of one shape)
    at_zero : heaviside(0), i.e. relu'(0): the relu_grad_at_zero convention
    Returns ndarray of the arrays' shape (0-d when every value is a float).
    """
    with np.errstate(all="ignore"):
        return np.asarray(_Evaluator(env, at_zero).value(expr), dtype=np.float64)


def value_at(
    expr: Expr, point: Mapping[str, float], *, at_zero: float = 1.0, what: str = "the expression"
) -> float:
    """expr at one point; raises DomainError (argument "point") where it is not finite."""
    value = float(evaluate(expr, point, at_zero=at_zero))
    if not math.isfinite(value):
        where = ", ".join(f"{name} = {v:g}" for name, v in point.items())
        raise DomainError("point", f"{what} is not defined at {where}")
    return value


_MAX_EXACT_BITS = 2000
_MAX_EXACT_EXPONENT = 64


def exact_value(expr: Expr) -> Fraction | None:  # noqa: PLR0911 (one case per kind of node)
    """The exact rational value of a constant expression of numbers (1/3, -(2/6), 0.2), None
    when it has a variable, a constant or a function, or when its numbers grow too large."""
    match expr:
        case Num(value=v):
            return v
        case Neg(arg=u):
            value = exact_value(u)
            return None if value is None else -value
        case Add(terms=terms):
            values = _exact_values(terms)
            return None if values is None else _small(sum(values, Fraction(0)))
        case Mul(factors=factors):
            values = _exact_values(factors)
            return None if values is None else _small(math.prod(values, start=Fraction(1)))
        case Div(num=u, den=v):
            top, bottom = exact_value(u), exact_value(v)
            if top is None or not bottom:
                return None
            return _small(top / bottom)
        case Pow(base=u, exp=v):
            base, exponent = exact_value(u), exact_value(v)
            if base is None or exponent is None or exponent.denominator != 1:
                return None
            if abs(exponent) > _MAX_EXACT_EXPONENT or (base == 0 and exponent < 0):
                return None
            return _small(base ** int(exponent))
    return None


_constant_value = functools.lru_cache(maxsize=1024)(exact_value)
"""exact_value of a constant sub-expression, remembered (evaluation asks for it at every call)."""


def _exact_values(nodes: tuple[Expr, ...]) -> list[Fraction] | None:
    values = []
    for node in nodes:
        value = exact_value(node)
        if value is None:
            return None
        values.append(value)
    return values


def _small(value: Fraction) -> Fraction | None:
    bits = max(value.numerator.bit_length(), value.denominator.bit_length())
    return value if bits <= _MAX_EXACT_BITS else None


def odd_root(exponent: Expr) -> Fraction | None:
    """p/q when a constant exponent is exactly p/q with q odd and q > 1 (a real root), else
    None."""
    return None if exponent.variables else _constant_odd_root(exponent)


@functools.lru_cache(maxsize=1024)
def _constant_odd_root(exponent: Expr) -> Fraction | None:
    value = exact_value(exponent)
    if value is None or value.denominator % 2 == 0 or value.denominator == 1:
        return None
    return value


def real_power(u: Values, exponent: Fraction) -> Values:
    """u^(p/q) for q odd: the real q-th root of u, to the power p (negative u included)."""
    p, q = exponent.numerator, exponent.denominator
    magnitude = np.abs(u)
    root = np.cbrt(magnitude) if q == 3 else np.power(magnitude, 1.0 / q)
    power = np.power(root, float(p))
    return np.copysign(power, u) if p % 2 else power


def constant_value(expr: Expr) -> float:
    """The value of an expression without variables, as a float (nan where it is undefined)."""
    return float(evaluate(expr, {}))


class _Evaluator:
    def __init__(self, env: Mapping[str, Values], at_zero: float) -> None:
        self.env = env
        self.at_zero = at_zero

    def value(self, expr: Expr) -> Values:  # noqa: PLR0911, PLR0912 (one case per kind of node)
        match expr:
            case Num(value=v):
                return as_float(v)
            case Const(name=name):
                return _CONSTANTS[name]
            case Var(name=name):
                return self.env[name]
            case Neg(arg=u):
                return np.negative(self.value(u))
            case Add(terms=terms):
                return functools.reduce(np.add, (self.value(t) for t in terms))
            case Mul(factors=factors):
                return functools.reduce(np.multiply, (self.value(f) for f in factors))
            case Div(num=u, den=v):
                return np.divide(self.value(u), self.value(v))
            case Pow(base=u, exp=v):
                root = odd_root(v)
                if root is not None:
                    return real_power(self.value(u), root)
                return np.power(self.value(u), self.value(v))
            case Call(func="log", args=(u, base)):
                exact_base = None if base.variables else _constant_value(base)
                if exact_base in _EXACT_LOGARITHMS:  # log10(1000) is 3, not 2.9999999999999996
                    return _EXACT_LOGARITHMS[exact_base](self.value(u))
                return np.divide(np.log(self.value(u)), np.log(self.value(base)))
            case Call(func=func, args=(u,)):
                return FUNCTIONS[func].numeric(np.asarray(self.value(u), np.float64), self.at_zero)
            case Restricted(expr=u, to=f):
                return np.where(np.isfinite(self.value(f)), self.value(u), np.nan)
        raise TypeError(f"not an expression node: {expr!r}")
