"""An answer right only to the digits its student wrote: 0.6931472*2^x for d/dx 2^x = 2^x ln(2).

A decimal as typed stands for every value that rounds to it: 0.6931472 for any value within
half a unit of its last digit, 5e-8 (numbers.written_half_unit). The answer is *right to the
digits written* when moving each of its decimals within that half unit makes it agree with the
expected derivative at every point checked, and at least one decimal has to move (an answer
that needs no move and still differs, 3*x^2 + 1e-30, differs beyond what float64 sees).

The moves are found by least squares on the answer's first-order change per decimal (a
central difference over the half unit, at each point, in units of the tolerance there), then
checked by evaluating the answer with its decimals moved. Whether such an answer earns the
points is the instructor's rule, not this module's (Equivalence.accepted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from engine.calculus.evaluate import evaluate
from engine.calculus.expr import Add, Call, Div, Expr, Mul, Neg, Num, Pow, Restricted
from engine.calculus.numbers import is_decimal, significant_digits, written_half_unit
from engine.types import FloatArray

MAX_DECIMALS = 20
"""Answers with more decimals than this are not examined (each costs two evaluations)."""
MOVED = 1e-6
"""A decimal whose move is at most this share of its half unit did not have to move."""
FLOAT_RESOLUTION = Fraction(1, 2**52)


@dataclass(frozen=True)
class Rounding:
    """How the answer's decimals round to a right answer.

    decimals : the decimals that had to move, as typed
    digits : the fewest significant digits among them (0.6931472: 7)
    """

    decimals: tuple[str, ...]
    digits: int


def decimals_of(expr: Expr) -> list[Num]:
    """The numbers typed as decimals (0.5, 1e-3, not 12), in the order they were typed."""
    return [node for node in _walk(expr) if isinstance(node, Num) and _typed_decimal(node)]


def _typed_decimal(node: Num) -> bool:
    return node.written is not None and is_decimal(node.written)


def _walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    for child in expr.children:
        yield from _walk(child)


def with_decimals(expr: Expr, values: list[Fraction]) -> Expr:
    """expr with its typed decimals, in order, replaced by ``values``."""
    remaining = iter(values)
    return _replace(expr, remaining)


def _replace(expr: Expr, values: Iterator[Fraction]) -> Expr:  # noqa: PLR0911 (one per node)
    match expr:
        case Num() if _typed_decimal(expr):
            return Num(next(values))
        case Neg(arg=u):
            return Neg(_replace(u, values))
        case Add(terms=terms):
            return Add(tuple(_replace(t, values) for t in terms))
        case Mul(factors=factors):
            return Mul(tuple(_replace(f, values) for f in factors))
        case Div(num=u, den=v):
            return Div(_replace(u, values), _replace(v, values))
        case Pow(base=u, exp=v):
            return Pow(_replace(u, values), _replace(v, values))
        case Call(func=func, args=args):
            return Call(func, tuple(_replace(a, values) for a in args))
        case Restricted(expr=u, to=f):
            return Restricted(_replace(u, values), f)
    return expr


def rounded_to_written_digits(
    want: FloatArray,
    answer: Expr,
    points: Mapping[str, FloatArray],
    *,
    rtol: float,
    atol: float,
    at_zero: float,
) -> Rounding | None:
    """How the answer's decimals round to one that equals ``want`` (the expected values at
    ``points``) within rtol * |want| + atol, or None when no such move exists."""
    typed = decimals_of(answer)
    if not typed or len(typed) > MAX_DECIMALS:
        return None
    values = [node.value for node in typed]
    # a decimal typed with more digits than float64 holds moves by at least float64's resolution
    halves = [
        max(written_half_unit(node.written or ""), abs(node.value) * FLOAT_RESOLUTION)
        for node in typed
    ]

    def at(moved: list[Fraction]) -> FloatArray:
        shape = want.shape
        return np.broadcast_to(
            evaluate(with_decimals(answer, moved), points, at_zero=at_zero), shape
        )

    with np.errstate(all="ignore"):
        got = at(values)
        unit = rtol * np.abs(want) + atol  # the tolerance at each point
        columns = []
        for i, half in enumerate(halves):
            up = [v + half if j == i else v for j, v in enumerate(values)]
            down = [v - half if j == i else v for j, v in enumerate(values)]
            columns.append((at(up) - at(down)) / 2 / unit)
        change = np.column_stack(columns)
        residual = (want - got) / unit
        if not (np.all(np.isfinite(change)) and np.all(np.isfinite(residual))):
            return None
        moves, *_ = np.linalg.lstsq(change, residual, rcond=None)
    if np.any(np.abs(moves) > 1.0):
        return None
    moved = [
        v + Fraction(float(t)) * half for v, t, half in zip(values, moves, halves, strict=True)
    ]
    with np.errstate(all="ignore"):
        fixed = at(moved)
        agrees = np.abs(fixed - want) <= rtol * np.maximum(np.abs(want), np.abs(fixed)) + atol
    needed = [node.written or "" for node, t in zip(typed, moves, strict=True) if abs(t) > MOVED]
    if not needed or not np.all(agrees):
        return None
    return Rounding(tuple(needed), min(significant_digits(text) for text in needed))
