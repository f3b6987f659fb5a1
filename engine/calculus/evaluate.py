"""Numbers from expressions: an expression evaluated elementwise over float64 arrays.

``evaluate(expr, env)`` takes one array (or float) per variable, all of one shape, and returns
the expression's values in that shape. Nothing warns and nothing raises for values outside a
domain: ln(-1) is nan and 1/0 is inf, as in NumPy, and the caller decides what that means.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from engine.calculus.expr import Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Var
from engine.calculus.functions import FUNCTIONS
from engine.errors import DomainError
from engine.types import FloatArray

Values = FloatArray | float
"""An array of values, or one value (a float broadcasts like an array of any shape)."""

_CONSTANTS = {"e": math.e, "pi": math.pi}


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


def constant_value(expr: Expr) -> float:
    """The value of an expression without variables, as a float (nan where it is undefined)."""
    return float(evaluate(expr, {}))


class _Evaluator:
    def __init__(self, env: Mapping[str, Values], at_zero: float) -> None:
        self.env = env
        self.at_zero = at_zero

    def value(self, expr: Expr) -> Values:  # noqa: PLR0911 (one case per kind of node)
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
                return np.power(self.value(u), self.value(v))
            case Call(func="log", args=(u, base)):
                return np.divide(np.log(self.value(u)), np.log(self.value(base)))
            case Call(func=func, args=(u,)):
                return FUNCTIONS[func].numeric(np.asarray(self.value(u), np.float64), self.at_zero)
        raise TypeError(f"not an expression node: {expr!r}")
