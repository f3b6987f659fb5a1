"""The bridge to SymPy: expression trees made into SymPy objects, and a proof that two are equal.

Only this module imports SymPy, and it runs only in worker processes (workers.py), where a
simplify that runs too long is killed. SymPy objects are built node by node from our own trees,
never by parsing text (no sympify, no parse_expr). Every variable is a real symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import sympy  # type: ignore[import-untyped]

from engine.calculus.expr import Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Var

SymbolicVerdict = Literal["equal", "different", "not_proven"]
"""equal: their difference simplifies to 0; different: to a nonzero number; not_proven: to
something else (which may still be 0, SymPy could not show it)."""

_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "arccot": lambda u: sympy.pi / 2 - sympy.atan(u),  # SymPy's acot jumps at 0; ours does not
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "ln": sympy.log,
    "sqrt": sympy.sqrt,
    "sigmoid": lambda u: 1 / (1 + sympy.exp(-u)),
    "relu": lambda u: sympy.Max(0, u),
}


def to_sympy(expr: Expr, at_zero: float = 1.0) -> Any:  # noqa: PLR0911 (one case per node)
    """The SymPy object of an expression tree (heaviside(0) = at_zero)."""
    match expr:
        case Num(value=v):
            return sympy.Rational(v.numerator, v.denominator)
        case Const(name="e"):
            return sympy.E
        case Const():
            return sympy.pi
        case Var(name=name):
            return sympy.Symbol(name, real=True)
        case Neg(arg=u):
            return -to_sympy(u, at_zero)
        case Add(terms=terms):
            return sympy.Add(*(to_sympy(t, at_zero) for t in terms))
        case Mul(factors=factors):
            return sympy.Mul(*(to_sympy(f, at_zero) for f in factors))
        case Div(num=u, den=v):
            return to_sympy(u, at_zero) / to_sympy(v, at_zero)
        case Pow(base=u, exp=v):
            return sympy.Pow(to_sympy(u, at_zero), to_sympy(v, at_zero))
        case Call(func="log", args=(u, base)):
            return sympy.log(to_sympy(u, at_zero)) / sympy.log(to_sympy(base, at_zero))
        case Call(func="heaviside", args=(u,)):
            return sympy.Heaviside(to_sympy(u, at_zero), sympy.Rational(at_zero))
        case Call(func=func, args=(u,)):
            return _FUNCTIONS[func](to_sympy(u, at_zero))
    raise TypeError(f"not an expression node: {expr!r}")


def compare(pair: tuple[Expr, Expr, float]) -> SymbolicVerdict:
    """Whether a - b simplifies to 0, for (a, b, heaviside(0)). Runs in a worker process."""
    a, b, at_zero = pair
    difference = to_sympy(a, at_zero) - to_sympy(b, at_zero)
    for attempt in (lambda d: d, sympy.expand, sympy.simplify):
        reduced = attempt(difference)
        if reduced == 0:
            return "equal"
    if reduced.is_number and reduced.is_zero is False:
        return "different"
    return "not_proven"
