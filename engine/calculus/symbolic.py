"""The bridge to SymPy: expression trees made into SymPy objects, and a proof that two are equal
or that they differ.

Only this module imports SymPy, and it runs only in worker processes (workers.py), where a
simplify that runs too long is killed. SymPy objects are built node by node from our own trees,
never by parsing text (no sympify, no parse_expr). Every variable is a real symbol, and SymPy
reads every function as the engine evaluates it (u^(1/3) as the real root, arccot continuous at 0,
arcsec(u) as arccos(1/u) ...), so that its verdict is about the expressions the student sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal, NamedTuple

import sympy  # type: ignore[import-untyped]

from engine.calculus.evaluate import evaluate, odd_root
from engine.calculus.expr import Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Restricted, Var

SymbolicVerdict = Literal["equal", "different", "not_proven"]
"""equal: their difference simplifies to 0; different: it is a nonzero number, or it is not 0
at a point of the domain, evaluated to 50 digits; not_proven: neither (it may still be 0, SymPy
could not show it)."""

Point = Mapping[str, float]

DIGITS = 50
"""Digits of the evaluation that looks for a difference at a point."""
_NONZERO = sympy.Rational(1, 10**40)
"""A difference above this (relative to the values) at DIGITS digits is not rounding: it is
real. A typed number has at most 40 characters, so it can move an answer by no less."""
_CONSISTENT = 1e-6
"""SymPy's value and the engine's float64 value at a point must agree this closely (relative)
for the point to count: a point where the two read an expression differently proves nothing."""


class Comparison(NamedTuple):
    """What a worker compares: expected and answer with heaviside(0) = at_zero, and points of
    the domain (where both are defined) to look for a difference at."""

    expected: Expr
    answer: Expr
    at_zero: float = 1.0
    points: Sequence[Point] = ()


def _real_power(base: Any, exponent: Fraction) -> Any:
    """u^(p/q), q odd, as the real root (evaluate.py): sign(u)^p |u|^(p/q)."""
    magnitude = sympy.Abs(base) ** sympy.Rational(exponent.numerator, exponent.denominator)
    return sympy.sign(base) * magnitude if exponent.numerator % 2 else magnitude


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
    "arcsec": lambda u: sympy.acos(1 / u),
    "arccsc": lambda u: sympy.asin(1 / u),
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "coth": sympy.coth,
    "sech": sympy.sech,
    "csch": sympy.csch,
    "arsinh": sympy.asinh,
    "arcosh": sympy.acosh,
    "artanh": sympy.atanh,
    "arcoth": lambda u: sympy.atanh(1 / u),
    "arsech": lambda u: sympy.acosh(1 / u),
    "arcsch": lambda u: sympy.asinh(1 / u),
    "exp": sympy.exp,
    "ln": sympy.log,
    "sqrt": sympy.sqrt,
    "cbrt": lambda u: _real_power(u, Fraction(1, 3)),
    "abs": sympy.Abs,
    "sgn": sympy.sign,
    "sigmoid": lambda u: 1 / (1 + sympy.exp(-u)),
    "relu": lambda u: sympy.Max(0, u),
}


def to_sympy(expr: Expr, at_zero: float = 1.0) -> Any:  # noqa: PLR0911, PLR0912 (one per node)
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
            root = odd_root(v)
            if root is not None:
                return _real_power(to_sympy(u, at_zero), root)
            return sympy.Pow(to_sympy(u, at_zero), to_sympy(v, at_zero))
        case Call(func="log", args=(u, base)):
            return sympy.log(to_sympy(u, at_zero)) / sympy.log(to_sympy(base, at_zero))
        case Call(func="heaviside", args=(u,)):
            return sympy.Heaviside(to_sympy(u, at_zero), sympy.Rational(at_zero))
        case Call(func=func, args=(u,)):
            return _FUNCTIONS[func](to_sympy(u, at_zero))
        case Restricted(expr=u):
            return to_sympy(u, at_zero)
    raise TypeError(f"not an expression node: {expr!r}")


def compare(job: Comparison | tuple[Expr, Expr, float]) -> SymbolicVerdict:
    """Whether expected - answer is 0. Runs in a worker process.

    In this order, cheapest first: the difference is 0 as built; it is not 0 at one of the
    points (evaluated to DIGITS digits, where SymPy and the engine agree on both values);
    expand or simplify makes it 0 (equal) or a nonzero number (different).
    """
    expected, answer, at_zero, points = Comparison(*job)
    a, b = to_sympy(expected, at_zero), to_sympy(answer, at_zero)
    difference = a - b
    if difference == 0:
        return "equal"
    if any(_differs_at(point, Comparison(expected, answer, at_zero), a, b) for point in points):
        return "different"
    for attempt in (sympy.expand, sympy.simplify):
        reduced = attempt(difference)
        if reduced == 0:
            return "equal"
        if reduced.is_number and reduced.is_zero is False:
            return "different"
    return "not_proven"


def _differs_at(point: Point, job: Comparison, a: Any, b: Any) -> bool:
    """Whether a - b (the SymPy objects of job's expected and answer) is not 0 at the point:
    both evaluated to DIGITS digits at the point's exact (binary) value, each agreeing with the
    engine's float64 value there."""
    values = {sympy.Symbol(name, real=True): sympy.Rational(value) for name, value in point.items()}
    ours = [float(evaluate(e, point, at_zero=job.at_zero)) for e in (job.expected, job.answer)]
    theirs = [e.evalf(DIGITS, subs=values) for e in (a, b)]
    for mine, exact in zip(ours, theirs, strict=True):
        if not (exact.is_real and exact.is_finite and math.isfinite(mine)):
            return False
        if abs(float(exact) - mine) > _CONSISTENT * max(1.0, abs(mine)):
            return False
    scale = max(sympy.Integer(1), abs(theirs[0]), abs(theirs[1]))
    return bool(abs(theirs[0] - theirs[1]) > _NONZERO * scale)
