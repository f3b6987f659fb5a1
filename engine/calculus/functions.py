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

from engine import special
from engine.calculus.expr import ONE, THREE, TWO, Add, Div, Expr, Mul, Neg, Pow, call, num, sub
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
    call_latex : how f(u) is written when it is not its name before (u), e.g. r"\\sqrt{{{u}}}"
    """

    name: str
    derivative: Callable[[Expr], Expr]
    numeric: Numeric
    latex: str
    note: str = ""
    call_latex: str | None = None


def _elementwise(f: Callable[[FloatArray], FloatArray]) -> Numeric:
    return lambda u, _at_zero: f(u)


def _heaviside(u: FloatArray, at_zero: float) -> FloatArray:
    """1 for u > 0, 0 for u < 0 and at_zero for u = 0."""
    return np.heaviside(u, at_zero)


def _one_plus_square(u: Expr) -> Expr:
    return Add((ONE, Pow(u, TWO)))


def _square_minus_one(u: Expr) -> Expr:
    return sub(Pow(u, TWO), ONE)


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
    Function(
        "arcsec",
        lambda u: Div(ONE, Mul((call("abs", u), call("sqrt", _square_minus_one(u))))),
        _elementwise(lambda u: np.arccos(1.0 / u)),
        r"\operatorname{arcsec}",
        "arcsec(u) = arccos(1/u), with values in [0, pi]; defined for |u| >= 1, its derivative "
        "for |u| > 1",
    ),
    Function(
        "arccsc",
        lambda u: Neg(Div(ONE, Mul((call("abs", u), call("sqrt", _square_minus_one(u)))))),
        _elementwise(lambda u: np.arcsin(1.0 / u)),
        r"\operatorname{arccsc}",
        "arccsc(u) = arcsin(1/u), with values in [-pi/2, pi/2]; defined for |u| >= 1, its "
        "derivative for |u| > 1",
    ),
    Function("sinh", lambda u: call("cosh", u), _elementwise(np.sinh), r"\sinh"),
    Function("cosh", lambda u: call("sinh", u), _elementwise(np.cosh), r"\cosh"),
    Function(
        "tanh",
        lambda u: sub(ONE, Pow(call("tanh", u), TWO)),
        _elementwise(np.tanh),
        r"\tanh",
        "1 - tanh(u)^2 = sech(u)^2",
    ),
    Function(
        "coth",
        lambda u: Neg(Pow(call("csch", u), TWO)),
        _elementwise(lambda u: 1.0 / np.tanh(u)),
        r"\coth",
        "defined for u != 0",
    ),
    Function(
        "sech",
        lambda u: Neg(Mul((call("sech", u), call("tanh", u)))),
        _elementwise(lambda u: 1.0 / np.cosh(u)),
        r"\operatorname{sech}",
        "sech(u) = 1/cosh(u)",
    ),
    Function(
        "csch",
        lambda u: Neg(Mul((call("csch", u), call("coth", u)))),
        _elementwise(lambda u: 1.0 / np.sinh(u)),
        r"\operatorname{csch}",
        "csch(u) = 1/sinh(u), defined for u != 0",
    ),
    Function(
        "arsinh",
        lambda u: Div(ONE, call("sqrt", Add((Pow(u, TWO), ONE)))),
        _elementwise(np.arcsinh),
        r"\operatorname{arsinh}",
        "the inverse of sinh, ln(u + sqrt(u^2 + 1))",
    ),
    Function(
        "arcosh",
        lambda u: Div(ONE, call("sqrt", _square_minus_one(u))),
        _elementwise(np.arccosh),
        r"\operatorname{arcosh}",
        "the inverse of cosh on [0, inf), ln(u + sqrt(u^2 - 1)); defined for u >= 1, its "
        "derivative for u > 1",
    ),
    Function(
        "artanh",
        lambda u: Div(ONE, sub(ONE, Pow(u, TWO))),
        _elementwise(np.arctanh),
        r"\operatorname{artanh}",
        "the inverse of tanh, ln((1 + u)/(1 - u))/2; defined for -1 < u < 1",
    ),
    Function(
        "arcoth",
        lambda u: Div(ONE, sub(ONE, Pow(u, TWO))),
        _elementwise(lambda u: np.arctanh(1.0 / u)),
        r"\operatorname{arcoth}",
        "the inverse of coth, artanh(1/u); defined for |u| > 1",
    ),
    Function(
        "arsech",
        lambda u: Neg(Div(ONE, Mul((u, call("sqrt", sub(ONE, Pow(u, TWO))))))),
        _elementwise(lambda u: np.arccosh(1.0 / u)),
        r"\operatorname{arsech}",
        "the inverse of sech on [0, inf), arcosh(1/u); defined for 0 < u <= 1, its derivative "
        "for 0 < u < 1",
    ),
    Function(
        "arcsch",
        lambda u: Neg(Div(ONE, Mul((call("abs", u), call("sqrt", _one_plus_square(u)))))),
        _elementwise(lambda u: np.arcsinh(1.0 / u)),
        r"\operatorname{arcsch}",
        "the inverse of csch, arsinh(1/u); defined for u != 0",
    ),
    Function(
        "exp", lambda u: call("exp", u), _elementwise(np.exp), r"\exp", call_latex="e^{{{u}}}"
    ),
    Function("ln", lambda u: Div(ONE, u), _elementwise(np.log), r"\ln", "defined for u > 0"),
    Function(
        "sqrt",
        lambda u: Div(ONE, Mul((TWO, call("sqrt", u)))),
        _elementwise(np.sqrt),
        r"\sqrt",
        "the power rule with a = 1/2; defined for u >= 0, its derivative for u > 0",
        call_latex=r"\sqrt{{{u}}}",
    ),
    Function(
        "cbrt",
        lambda u: Div(ONE, Mul((THREE, Pow(call("cbrt", u), TWO)))),
        _elementwise(np.cbrt),
        r"\sqrt[3]",
        "the real cube root, u^(1/3), defined for every u (cbrt(-8) = -2); the power rule with "
        "a = 1/3, its derivative for u != 0",
        call_latex=r"\sqrt[3]{{{u}}}",
    ),
    Function(
        "abs",
        lambda u: Div(u, call("abs", u)),
        _elementwise(np.abs),
        r"\operatorname{abs}",
        "|u|, also written |u|; its derivative u/|u| (the sign of u) is defined for u != 0",
        call_latex=r"\left|{u}\right|",
    ),
    Function(
        "sgn",
        lambda u: num(0),
        _elementwise(np.sign),
        r"\operatorname{sgn}",
        "the sign of u: -1, 0 or 1 (u/|u| for u != 0); its derivative is 0 everywhere but at 0",
    ),
    Function("sigmoid", _sigmoid, _elementwise(special.sigmoid), r"\sigma"),
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
    # the inverse trigonometric functions, as programming languages and continental tables
    # write them
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "acot": "arccot",
    "asec": "arcsec",
    "acsc": "arccsc",
    "arctg": "arctan",
    "arcctg": "arccot",
    "arccotan": "arccot",
    "arccosec": "arccsc",
    "acosec": "arccsc",
    # the continental spellings of sin, tan, cot and csc (sen: Spanish, Italian, Portuguese)
    "sen": "sin",
    "arcsen": "arcsin",
    "tg": "tan",
    "ctg": "cot",
    "cotg": "cot",
    "cotan": "cot",
    "cosec": "csc",
    # hyperbolic functions: sh, ch, th, cth (continental), cosech (British)
    "sh": "sinh",
    "senh": "sinh",
    "ch": "cosh",
    "th": "tanh",
    "tgh": "tanh",
    "cth": "coth",
    "ctgh": "coth",
    "cotanh": "coth",
    "cosech": "csch",
    # their inverses: ISO 80000-2's arsinh ..., arcsinh ..., asinh ... and the continental arsh,
    # argsh ...
    **{
        alias: name
        for name, short, continental in (
            ("arsinh", "sinh", "sh"),
            ("arcosh", "cosh", "ch"),
            ("artanh", "tanh", "th"),
            ("arcoth", "coth", "cth"),
            ("arsech", "sech", "sech"),
            ("arcsch", "csch", "csch"),
        )
        for alias in (
            f"a{short}",
            f"arc{short}",
            f"arg{short}",
            f"ar{continental}",
            f"arg{continental}",
        )
        if alias != name
    },
    "arcosech": "arcsch",
    "arccosech": "arcsch",
    # roots, absolute value and sign
    "log_e": "ln",
    "loge": "ln",
    "sign": "sgn",
    "step": "heaviside",
}
"""Other names a student may write; answers always use the names of FUNCTIONS."""

LOG_BASE = "log"
"""log(u) is ln(u); log(u, a) is log to the base a, kept as Call("log", (u, a))."""

LOGARITHMS: dict[str, int] = {"lg": 10, "log10": 10, "lb": 2, "log2": 2}
"""Logarithms named with their base: lg is log10 (as continental tables and ISO 80000-2 write
it), lb is log2. log_10, log_2 and log_a with any integer base a >= 2 are read too (parser.py);
each is log(u, base)."""


def is_function_name(name: str) -> bool:
    return name in FUNCTIONS or name in ALIASES or name == LOG_BASE or name in LOGARITHMS
