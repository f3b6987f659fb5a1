"""The table of derivatives: each function with its value and its derivative side by side.

A ``Function`` f is called by name in an expression, f(u). ``derivative(u)`` is f'(u), the table
entry that the chain rule multiplies by u'; ``numeric(u, at_zero)`` is f(u) elementwise over a
float64 array (``at_zero`` is the value of the step function at 0, the relu_grad_at_zero
convention: only heaviside reads it).

The entries that are not function calls, u^a, a^u, e^u, log_a(u), constants and the variable
itself, are ``TABLE`` entries without a ``Function``: the rules (rules.py) build them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from engine.calculus.expr import ONE, TWO, Add, Div, Expr, Mul, Neg, Pow, call, num, sub
from engine.types import FloatArray

Numeric = Callable[[FloatArray, float], FloatArray]


@dataclass(frozen=True)
class Function:
    """A function of the table.

    name : what an expression calls it, e.g. "arcsin"
    derivative : u -> f'(u), an expression in u
    numeric : (u, at_zero) -> f(u), elementwise over float64 arrays
    latex : the LaTeX that names it, e.g. r"\\arcsin"
    note : what the table entry leaves unsaid (a convention, a point where f' is undefined)
    """

    name: str
    derivative: Callable[[Expr], Expr]
    numeric: Numeric
    latex: str
    note: str = ""


def _elementwise(f: Callable[[FloatArray], FloatArray]) -> Numeric:
    return lambda u, _at_zero: f(u)


def _heaviside(u: FloatArray, at_zero: float) -> FloatArray:
    """1 for u > 0, 0 for u < 0 and at_zero for u = 0."""
    return np.heaviside(u, at_zero)


def _one_plus_square(u: Expr) -> Expr:
    return Add((ONE, Pow(u, TWO)))


def _sigmoid(u: Expr) -> Expr:
    s = call("sigmoid", u)
    return Mul((s, sub(ONE, s)))


_TABLE = (
    Function("sin", lambda u: call("cos", u), _elementwise(np.sin), r"\sin"),
    Function("cos", lambda u: Neg(call("sin", u)), _elementwise(np.cos), r"\cos"),
    Function("tan", lambda u: Div(ONE, Pow(call("cos", u), TWO)), _elementwise(np.tan), r"\tan"),
    Function(
        "cot",
        lambda u: Neg(Div(ONE, Pow(call("sin", u), TWO))),
        _elementwise(lambda u: 1.0 / np.tan(u)),
        r"\cot",
    ),
    Function(
        "sec",
        lambda u: Mul((call("sec", u), call("tan", u))),
        _elementwise(lambda u: 1.0 / np.cos(u)),
        r"\sec",
    ),
    Function(
        "csc",
        lambda u: Neg(Mul((call("csc", u), call("cot", u)))),
        _elementwise(lambda u: 1.0 / np.sin(u)),
        r"\csc",
    ),
    Function(
        "arcsin",
        lambda u: Div(ONE, call("sqrt", sub(ONE, Pow(u, TWO)))),
        _elementwise(np.arcsin),
        r"\arcsin",
        "defined for -1 <= u <= 1, its derivative for -1 < u < 1",
    ),
    Function(
        "arccos",
        lambda u: Neg(Div(ONE, call("sqrt", sub(ONE, Pow(u, TWO))))),
        _elementwise(np.arccos),
        r"\arccos",
        "defined for -1 <= u <= 1, its derivative for -1 < u < 1",
    ),
    Function(
        "arctan",
        lambda u: Div(ONE, _one_plus_square(u)),
        _elementwise(np.arctan),
        r"\arctan",
    ),
    Function(
        "arccot",
        lambda u: Neg(Div(ONE, _one_plus_square(u))),
        _elementwise(lambda u: np.pi / 2 - np.arctan(u)),
        r"\operatorname{arccot}",
        "arccot(u) = pi/2 - arctan(u), with values in (0, pi), continuous at 0",
    ),
    Function("sinh", lambda u: call("cosh", u), _elementwise(np.sinh), r"\sinh"),
    Function("cosh", lambda u: call("sinh", u), _elementwise(np.cosh), r"\cosh"),
    Function(
        "tanh",
        lambda u: sub(ONE, Pow(call("tanh", u), TWO)),
        _elementwise(np.tanh),
        r"\tanh",
    ),
    Function("exp", lambda u: call("exp", u), _elementwise(np.exp), r"\exp"),
    Function("ln", lambda u: Div(ONE, u), _elementwise(np.log), r"\ln", "defined for u > 0"),
    Function(
        "sqrt",
        lambda u: Div(ONE, Mul((TWO, call("sqrt", u)))),
        _elementwise(np.sqrt),
        r"\sqrt",
        "the power rule with a = 1/2; defined for u >= 0, its derivative for u > 0",
    ),
    Function("sigmoid", _sigmoid, _elementwise(special.expit), r"\sigma"),
    Function(
        "relu",
        lambda u: call("heaviside", u),
        _elementwise(lambda u: np.maximum(u, 0.0)),
        r"\operatorname{relu}",
        "relu'(0) is the request's relu_grad_at_zero (1 by the textbook, 0 by PyTorch)",
    ),
    Function(
        "heaviside",
        lambda u: num(0),
        _heaviside,
        r"H",
        "the step function, 1 for u > 0 and 0 for u < 0; heaviside(0) is the request's "
        "relu_grad_at_zero; its derivative is 0 everywhere but at 0",
    ),
)


FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}
"""The functions of the table, by name."""

ALIASES: dict[str, str] = {
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "acot": "arccot",
    "arcctg": "arccot",
    "tg": "tan",
    "ctg": "cot",
    "cotan": "cot",
    "step": "heaviside",
}
"""Other names a student may write; answers always use the names of FUNCTIONS."""

LOG_BASE = "log"
"""log(u) is ln(u); log(u, a) is log to the base a, kept as Call("log", (u, a))."""


def is_function_name(name: str) -> bool:
    return name in FUNCTIONS or name in ALIASES or name == LOG_BASE
