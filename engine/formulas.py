"""Worked formulas as data: which quantities an entry's formula combines, and how, in no notation.

engine/explain.py builds, for an entry of a backprop answer, the chain

    delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771

as an ``Equation``: the entry's symbol, its formula in symbols, the same formula with the
numbers substituted, and its value. Each activation and each loss builds its own part of a
formula from the terms below (``Activation.derivative_term``, ``Loss.gradient_term``, ...), and
the same function builds both rows: given symbols it gives the formula, given numbers the
formula with its numbers. How a term is written, as plain text or LaTeX, is decided outside the
maths, by schemas/worked.py: there a product of symbols stands side by side (o(1 - o)) and a
product with numbers in it is multiplied out (0.9078 * (1 - 0.9078)), as textbooks write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Symbol:
    """A named quantity: z, a, delta, w, b, x (inputs), o (outputs), t (targets), eta, ...

    layer : the layer it belongs to, numbered from 1 (a superscript), or None
    index : its units, numbered from 0 here and written from 1 (subscripts)
    over_samples : a term of a sum over the samples n (written with [n])
    """

    name: str
    layer: int | None = None
    index: tuple[int, ...] = ()
    over_samples: bool = False


@dataclass(frozen=True)
class Number:
    """A number of the problem, substituted into a formula.

    wrap : a negative one is put in parentheses (as a factor, or a term of a sum, is)
    """

    value: float
    wrap: bool = True


@dataclass(frozen=True)
class Constant:
    """A number that belongs to the formula itself: the 1 of 1 - a, the 2 of a square."""

    value: int


@dataclass(frozen=True)
class Coefficient:
    """A constant factor of a formula, written as a fraction (1/2, 1/3) where it is one."""

    value: float


@dataclass(frozen=True)
class Product:
    factors: tuple[Term, ...]


@dataclass(frozen=True)
class Sum:
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Difference:
    left: Term
    right: Term


@dataclass(frozen=True)
class Quotient:
    numerator: Term
    denominator: Term


@dataclass(frozen=True)
class Negative:
    term: Term


@dataclass(frozen=True)
class Group:
    """A term in parentheses."""

    term: Term


@dataclass(frozen=True)
class Power:
    base: Term
    exponent: int


@dataclass(frozen=True)
class Exp:
    """e to the power of a term."""

    exponent: Term


@dataclass(frozen=True)
class Call:
    """A named function applied to arguments: sigmoid(z), sign(o - t), clip(d, -delta, delta).

    derivative : the function's derivative f', not the function
    unit : one unit (from 0) of a function whose value is a vector: softmax(o)_k
    """

    function: str
    arguments: tuple[Term, ...]
    derivative: bool = False
    unit: int | None = None


@dataclass(frozen=True)
class Partial:
    """dL/d(of): the derivative of the loss by a quantity."""

    of: Term


@dataclass(frozen=True)
class OverSamples:
    """The sum of a term over the samples n (its symbols are marked ``over_samples``)."""

    term: Term


@dataclass(frozen=True)
class Abs:
    """|term|."""

    term: Term


@dataclass(frozen=True)
class Condition:
    """left < right, or left >= right: when a case of a piecewise formula applies."""

    left: Term
    relation: Literal["<", ">="]
    right: Term


@dataclass(frozen=True)
class Case:
    """The case of a piecewise formula that applies, with its condition: (o - t) / beta if
    |o - t| < beta (SmoothL1's gradient), where the other case would be sign(o - t)."""

    term: Term
    condition: Condition


Term = (
    Symbol
    | Number
    | Constant
    | Coefficient
    | Product
    | Sum
    | Difference
    | Quotient
    | Negative
    | Group
    | Power
    | Exp
    | Call
    | Partial
    | OverSamples
    | Abs
    | Case
)


@dataclass(frozen=True)
class Equation:
    """symbol = formula = the formula with its numbers = value (formula None: left out)."""

    symbol: Term
    formula: Term | None
    numbers: Term
    value: float


ONE = Constant(1)


def times(*factors: Term) -> Term:
    """The product of factors, leaving out factors of 1 (a linear activation's f' = 1)."""
    kept = tuple(f for f in factors if f != ONE)
    return kept[0] if len(kept) == 1 else Product(kept)


def scaled(c: float, term: Term) -> Term:
    """c times a term (a reduction's 1/N, MSE's 2), or the term alone when c is 1."""
    return term if c == 1.0 else Product((Coefficient(c), term))


def minus(left: Term, right: Term) -> Group:
    """(left - right)."""
    return Group(Difference(left, right))
