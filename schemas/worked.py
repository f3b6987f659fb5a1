"""Worked formulas written out: the terms of engine/formulas.py as plain text and as LaTeX.

    delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771
    \\delta^{2}_{1} = o_{1}(1 - o_{1})(o_{1} - t_{1}) = 0.9078 \\cdot (1 - 0.9078) \\cdot ...

Layers and units are numbered from 1, as the textbook does (w^2_(1,2)); numbers are shown with
4 significant figures (the value at the end is the exact answer, rounded). A product of symbols
stands side by side (a w, o(1 - o)); a product with numbers in it is multiplied out with * (or
\\cdot). The plain text is arithmetic a reader (or a test) can evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import singledispatch

from engine import formulas as f


@dataclass(frozen=True)
class Formula:
    """One entry's formula with its numbers, as plain text and as LaTeX."""

    text: str
    latex: str


def written(equation: f.Equation) -> Formula:
    """An equation as plain text and LaTeX: symbol = formula = numbers = value."""
    sides = [equation.symbol, equation.formula, equation.numbers, f.Number(equation.value, False)]
    parts = [_write(side) for side in sides if side is not None]
    return Formula(" = ".join(t for t, _ in parts), " = ".join(latex for _, latex in parts))


Written = tuple[str, str]
"""A term as (plain text, LaTeX)."""

_LATEX_NAMES = {"delta": r"\delta", "eta": r"\eta", "beta": r"\beta"}
_LATEX_FUNCTIONS = {"sign": r"\operatorname{sign}", "clip": r"\operatorname{clip}"}


@singledispatch
def _write(term: object) -> Written:
    raise TypeError(f"not a term of a formula: {term!r}")


@_write.register
def _(term: f.Symbol) -> Written:
    latex_name = _LATEX_NAMES.get(term.name, term.name)
    sample = "[n]" if term.over_samples else ""
    if not term.index:
        return term.name + sample, latex_name + sample
    units = ",".join(str(i + 1) for i in term.index)
    text_units = units if len(term.index) == 1 else f"({units})"
    if term.layer is None:
        return f"{term.name}_{text_units}{sample}", f"{latex_name}_{{{units}}}{sample}"
    return (
        f"{term.name}^{term.layer}_{text_units}{sample}",
        f"{latex_name}^{{{term.layer}}}_{{{units}}}{sample}",
    )


@_write.register
def _(term: f.Number) -> Written:
    text = f"{term.value:.4g}"
    latex = text
    if "e" in text:
        mantissa, exponent = text.split("e")
        latex = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    if term.wrap and term.value < 0:
        return f"({text})", rf"\left({latex}\right)"
    return text, latex


@_write.register
def _(term: f.Constant) -> Written:
    return str(term.value), str(term.value)


@_write.register
def _(term: f.Coefficient) -> Written:
    c = Fraction(term.value).limit_denominator(10**6)
    if c.denominator == 1:
        return str(c.numerator), str(c.numerator)
    sign = "-" if c < 0 else ""
    numerator = abs(c.numerator)
    return f"({sign}{numerator}/{c.denominator})", rf"{sign}\frac{{{numerator}}}{{{c.denominator}}}"


@_write.register
def _(term: f.Product) -> Written:
    factors = _flattened(term)
    written_factors = [_write(factor) for factor in factors]
    if any(_has_numbers(factor) for factor in factors):  # multiplied out: 0.9 * (1 - 0.9)
        return (
            " * ".join(t for t, _ in written_factors),
            r" \cdot ".join(latex for _, latex in written_factors),
        )
    text, latex = written_factors[0]
    for before, (next_text, next_latex) in zip(factors, written_factors[1:], strict=False):
        # side by side: a w, o(1 - o), (1/2) (o - t)
        space = isinstance(before, f.Coefficient) or not next_text.startswith("(")
        separator = " " if space else ""
        text, latex = text + separator + next_text, latex + separator + next_latex
    return text, latex


@_write.register
def _(term: f.Sum) -> Written:
    parts = [_write(t) for t in term.terms]
    return " + ".join(t for t, _ in parts), " + ".join(latex for _, latex in parts)


@_write.register
def _(term: f.Difference) -> Written:
    (left, left_latex), (right, right_latex) = _write(term.left), _write(term.right)
    return f"{left} - {right}", f"{left_latex} - {right_latex}"


@_write.register
def _(term: f.Quotient) -> Written:
    (top, top_latex), (bottom, bottom_latex) = _write(term.numerator), _write(term.denominator)
    return f"{top} / {bottom}", f"{top_latex} / {bottom_latex}"


@_write.register
def _(term: f.Negative) -> Written:
    text, latex = _write(term.term)
    return f"-{text}", f"-{latex}"


@_write.register
def _(term: f.Group) -> Written:
    text, latex = _write(term.term)
    return f"({text})", f"({latex})"


@_write.register
def _(term: f.Power) -> Written:
    text, latex = _write(term.base)
    return f"{text}^{term.exponent}", f"{latex}^{{{term.exponent}}}"


@_write.register
def _(term: f.Exp) -> Written:
    text, latex = _write(term.exponent)
    bare = text.startswith("(") or (
        isinstance(term.exponent, f.Number) and term.exponent.value >= 0
    )
    return (f"e^{text}" if bare else f"e^({text})"), f"e^{{{latex}}}"


@_write.register
def _(term: f.Call) -> Written:
    name = term.function + ("'" if term.derivative else "")
    latex_name = _LATEX_FUNCTIONS.get(term.function, rf"\mathrm{{{term.function}}}")
    latex_name += "'" if term.derivative else ""
    arguments = [_write(argument) for argument in term.arguments]
    text = f"{name}({', '.join(t for t, _ in arguments)})"
    latex = f"{latex_name}({', '.join(latex for _, latex in arguments)})"
    if term.unit is not None:
        text, latex = f"{text}_{term.unit + 1}", f"{latex}_{{{term.unit + 1}}}"
    return text, latex


@_write.register
def _(term: f.Partial) -> Written:
    text, latex = _write(term.of)
    return f"dL/d{text}", rf"\frac{{\partial L}}{{\partial {latex}}}"


@_write.register
def _(term: f.OverSamples) -> Written:
    text, latex = _write(term.term)
    return f"sum_n {text}", rf"\sum_{{n}} {latex}"


@_write.register
def _(term: f.Abs) -> Written:
    text, latex = _write(term.term)
    return f"|{text}|", rf"\left|{latex}\right|"


@_write.register
def _(term: f.Condition) -> Written:
    (left, left_latex), (right, right_latex) = _write(term.left), _write(term.right)
    latex_relation = {"<": "<", ">=": r"\geq"}[term.relation]
    return f"{left} {term.relation} {right}", f"{left_latex} {latex_relation} {right_latex}"


@_write.register
def _(term: f.Case) -> Written:
    """The case that applies, then its condition: (o_1 - t_1) / beta if |o_1 - t_1| < beta."""
    (text, latex), (condition, condition_latex) = _write(term.term), _write(term.condition)
    return f"{text} if {condition}", rf"{latex} \quad \text{{if }} {condition_latex}"


def _flattened(product: f.Product) -> list[f.Term]:
    """A product's factors, those of the products inside it included, in order."""
    factors: list[f.Term] = []
    for factor in product.factors:
        factors.extend(_flattened(factor) if isinstance(factor, f.Product) else [factor])
    return factors


def _has_numbers(term: f.Term) -> bool:
    """Whether a term has a number of the problem in it (and so is multiplied out)."""
    if isinstance(term, f.Number):
        return True
    children: tuple[f.Term, ...]
    match term:
        case f.Product(factors=children) | f.Sum(terms=children) | f.Call(arguments=children):
            pass
        case f.Difference(left=left, right=right) | f.Quotient(numerator=left, denominator=right):
            children = (left, right)
        case f.Negative(term=inner) | f.Group(term=inner) | f.OverSamples(term=inner):
            children = (inner,)
        case f.Power(base=inner) | f.Exp(exponent=inner) | f.Partial(of=inner):
            children = (inner,)
        case f.Abs(term=inner):
            children = (inner,)
        case f.Case(term=inner, condition=f.Condition(left=left, right=right)):
            children = (inner, left, right)
        case _:
            children = ()
    return any(_has_numbers(child) for child in children)
