"""Expressions as text (in the parser's own grammar, so that every answer can be sent back) and
as LaTeX, with no more parentheses than precedence needs.

    to_text(tree)   "x^2*sin(x) - 1/(2*sqrt(x))"
    to_latex(tree)  "x^{2} \\sin\\left(x\\right) - \\frac{1}{2 \\sqrt{x}}"

A number the student typed prints as typed (0.6931472, 1e-3); a number the engine computed
prints by numbers.number_text (3, 0.25, 1/3), except in an exponent, where a fraction is always
a fraction: x^(3/2), never x^1.5, and x^(1/2) is tidied to sqrt(x) (simplify.py).
parse(to_text(t)) has the values of t everywhere.
"""

from __future__ import annotations

import re
from enum import IntEnum
from fractions import Fraction

from engine.calculus.expr import (
    ONE,
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Restricted,
    Var,
)
from engine.calculus.functions import FUNCTIONS
from engine.calculus.numbers import number_text
from engine.calculus.parser import GREEK


class Precedence(IntEnum):
    SUM = 1
    PRODUCT = 2
    SIGN = 3
    POWER = 4
    ATOM = 5


def precedence(expr: Expr) -> Precedence:  # noqa: PLR0911 (one case per kind of node)
    match expr:
        case Num(written=str()):
            return Precedence.ATOM
        case Num(value=v):
            if v < 0:
                return Precedence.SIGN
            return Precedence.ATOM if _prints_as_atom(v) else Precedence.PRODUCT
        case Add():
            return Precedence.SUM
        case Mul() | Div():
            return Precedence.SIGN if split_sign(expr)[0] else Precedence.PRODUCT
        case Neg():
            return Precedence.SIGN
        case Pow():
            return Precedence.POWER
        case Restricted(expr=u):
            return precedence(u)
    return Precedence.ATOM


def _prints_as_atom(value: Fraction) -> bool:
    return value.denominator == 1 or "/" not in number_text(value)


def split_sign(expr: Expr) -> tuple[bool, Expr]:
    """(True, u) when expr prints as -u: a Neg, a negative number, a product or quotient that
    starts with one; (False, expr) otherwise."""
    match expr:
        case Neg(arg=u):
            return True, u
        case Num(value=v) if v < 0:
            return True, Num(-v)
        case Mul(factors=(first, *rest)):
            negative, magnitude = split_sign(first)
            if negative:
                factors = tuple(rest) if magnitude == ONE else (magnitude, *rest)
                return True, factors[0] if len(factors) == 1 else Mul(factors)
        case Div(num=u, den=v):
            negative, magnitude = split_sign(u)
            if negative:
                return True, Div(magnitude, v)
    return False, expr


def _rational_coefficient(expr: Mul) -> Div | None:
    """(p/q) * u * ... as the quotient p * u * ... / q, which reads better."""
    first = expr.factors[0]
    if not isinstance(first, Num) or first.written is not None or _prints_as_atom(first.value):
        return None
    p, q = first.value.numerator, first.value.denominator
    rest = expr.factors[1:]
    numerator = rest if p == 1 else (Num(Fraction(p)), *rest)
    return Div(numerator[0] if len(numerator) == 1 else Mul(numerator), Num(Fraction(q)))


# Text ---------------------------------------------------------------------------------------


def to_text(expr: Expr) -> str:  # noqa: PLR0911 (one case per kind of node)
    """The expression in the parser's grammar."""
    match expr:
        case Num(written=str(written)):
            return written
        case Num(value=v):
            return number_text(v)
        case Const(name=name) | Var(name=name):
            return name
        case Neg(arg=u):
            return "-" + _text_operand(u, Precedence.PRODUCT)
        case Add(terms=terms):
            return _text_sum(terms)
        case Mul():
            quotient = _rational_coefficient(expr)
            if quotient is not None:
                return to_text(quotient)
            return _text_product(expr.factors)
        case Div(num=u, den=v):
            negative, magnitude = split_sign(u)
            sign = "-" if negative else ""
            return (
                sign
                + _text_operand(magnitude, Precedence.PRODUCT)
                + "/"
                + _text_operand(v, Precedence.POWER)
            )
        case Pow(base=u, exp=v):
            return _text_operand(u, Precedence.ATOM) + "^" + _text_exponent(v)
        case Call(func=func, args=args):
            return f"{func}({', '.join(to_text(a) for a in args)})"
        case Restricted(expr=u):
            return to_text(u)
    raise TypeError(f"not an expression node: {expr!r}")


def _text_operand(expr: Expr, at_least: Precedence) -> str:
    """The text of an operand, in parentheses when it binds less tightly than ``at_least``
    or starts with a sign (an operator is right before it)."""
    text = to_text(expr)
    return text if precedence(expr) >= at_least and text[0] != "-" else f"({text})"


def _computed_fraction(expr: Expr) -> Fraction | None:
    """The value of a number the engine computed that is not an integer (an exponent of a
    derivative, 1/2 or -2/3), None for anything else."""
    match expr:
        case Num(value=v, written=None) if v.denominator != 1:
            return v
    return None


def _text_exponent(expr: Expr) -> str:
    fraction = _computed_fraction(expr)
    if fraction is not None:
        return f"({fraction.numerator}/{fraction.denominator})"
    if isinstance(expr, Pow):
        return to_text(expr)
    return _text_operand(expr, Precedence.ATOM)


def _text_sum(terms: tuple[Expr, ...]) -> str:
    parts = [to_text(terms[0])]
    for term in terms[1:]:
        negative, magnitude = split_sign(term)
        sign = " - " if negative else " + "
        parts.append(sign + _text_operand(magnitude, Precedence.PRODUCT))
    return "".join(parts)


def _text_product(factors: tuple[Expr, ...]) -> str:
    first = to_text(factors[0])
    parts = [first if precedence(factors[0]) >= Precedence.PRODUCT else f"({first})"]
    parts.extend(_text_operand(f, Precedence.POWER) for f in factors[1:])
    return "*".join(parts)


# LaTeX --------------------------------------------------------------------------------------

_LATEX_GREEK = {name: "\\" + name for name in GREEK}


def variable_latex(name: str) -> str:
    """x -> x, x2 -> x_{2}, w_ij -> w_{ij}, theta -> \\theta."""
    if name in _LATEX_GREEK:
        return _LATEX_GREEK[name]
    head, tail = name[0], name[1:].removeprefix("_")
    return head if not tail else f"{head}_{{{tail}}}"


def to_latex(expr: Expr) -> str:  # noqa: PLR0911, PLR0912 (one case per kind of node)
    """The expression in LaTeX (math mode)."""
    match expr:
        case Num(written=str(written)):
            return _written_latex(written)
        case Num(value=v):
            if v.denominator != 1 and not _prints_as_atom(v):
                sign = "-" if v < 0 else ""
                return f"{sign}\\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
            return number_text(v)
        case Const(name="pi"):
            return r"\pi"
        case Const(name=name):
            return name
        case Var(name=name):
            return variable_latex(name)
        case Neg(arg=u):
            return "-" + _latex_operand(u, Precedence.PRODUCT)
        case Add(terms=terms):
            return _latex_sum(terms)
        case Mul():
            quotient = _rational_coefficient(expr)
            if quotient is not None:
                return to_latex(quotient)
            return _latex_product(expr.factors)
        case Div(num=u, den=v):
            negative, magnitude = split_sign(u)
            return ("-" if negative else "") + f"\\frac{{{to_latex(magnitude)}}}{{{to_latex(v)}}}"
        case Pow(base=u, exp=v):
            return _latex_power(u, v)
        case Call():
            return _latex_call(expr)
        case Restricted(expr=u):
            return to_latex(u)
    raise TypeError(f"not an expression node: {expr!r}")


_SCIENTIFIC = re.compile(r"(?P<mantissa>[^eE]*)[eE]\+?(?P<exponent>-?)0*(?P<digits>[0-9]+)")


def _written_latex(written: str) -> str:
    """A number as typed, in LaTeX: 0.5 as it is, 1.5e-3 as 1.5 \\cdot 10^{-3}."""
    match = _SCIENTIFIC.fullmatch(written)
    if match is None:
        return written
    exponent = match.group("exponent") + match.group("digits")
    return f"{match.group('mantissa')} \\cdot 10^{{{exponent}}}"


def _paren(latex: str) -> str:
    return f"\\left({latex}\\right)"


def _latex_operand(expr: Expr, at_least: Precedence) -> str:
    latex = to_latex(expr)
    return latex if precedence(expr) >= at_least and latex[0] != "-" else _paren(latex)


def _latex_sum(terms: tuple[Expr, ...]) -> str:
    parts = [to_latex(terms[0])]
    for term in terms[1:]:
        negative, magnitude = split_sign(term)
        parts.append((" - " if negative else " + ") + _latex_operand(magnitude, Precedence.PRODUCT))
    return "".join(parts)


def _latex_product(factors: tuple[Expr, ...]) -> str:
    first = to_latex(factors[0])
    latex = first if precedence(factors[0]) >= Precedence.PRODUCT else _paren(first)
    for factor in factors[1:]:
        part = _latex_operand(factor, Precedence.POWER)
        latex += (r" \cdot " if part[0].isdigit() or part[0] in ".-" else " ") + part
    return latex


def _latex_exponent(exponent: Expr) -> str:
    fraction = _computed_fraction(exponent)
    if fraction is not None:  # x^{\frac{3}{2}}, never x^{1.5}
        sign = "-" if fraction < 0 else ""
        return f"{sign}\\frac{{{abs(fraction.numerator)}}}{{{fraction.denominator}}}"
    return to_latex(exponent)


def _latex_power(base: Expr, exponent: Expr) -> str:
    power = _latex_exponent(exponent)
    if isinstance(base, Const) and base.name == "e":
        return f"e^{{{power}}}"
    if isinstance(base, Call) and base.func in FUNCTIONS:
        written = FUNCTIONS[base.func].call_latex
        if written is None:  # sin(x)^2 as the textbook writes it: \sin^{2}(x)
            return f"{FUNCTIONS[base.func].latex}^{{{power}}}{_paren(to_latex(base.args[0]))}"
        if written.startswith(r"\left"):  # |x|^{2}: the bars need no parentheses
            return f"{to_latex(base)}^{{{power}}}"
    base_latex = to_latex(base)
    if precedence(base) < Precedence.ATOM or isinstance(base, Call):
        base_latex = _paren(base_latex)
    return f"{base_latex}^{{{power}}}"


def _latex_call(expr: Call) -> str:
    args = [to_latex(a) for a in expr.args]
    if expr.func == "log":
        return f"\\log_{{{args[1]}}}{_paren(args[0])}"
    function = FUNCTIONS[expr.func]
    if function.call_latex is not None:
        return function.call_latex.format(u=args[0])
    return function.latex + _paren(args[0])
