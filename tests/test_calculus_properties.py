"""Properties over random expressions (Hypothesis): the derivative agrees with a central
difference, tidying keeps every value, and the text of an expression reads back as itself."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine import calculus
from engine.calculus.expr import ONE, TWO, Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Var
from engine.calculus.simplify import tidy
from tests.calculus_oracle import central_difference

SMOOTH = ["sin", "cos", "arctan", "tanh", "sigmoid", "sinh", "exp", "sech", "arsinh"]
"""Functions smooth on the whole line, so that any point is fair for a central difference."""

ODD_ROOTS = [Fraction(1, 3), Fraction(2, 3), Fraction(4, 3), Fraction(-1, 3), Fraction(3, 5)]
ROOTS = [*ODD_ROOTS, Fraction(1, 2), Fraction(3, 2), Fraction(-1, 2), Fraction(1, 4)]

leaves = st.one_of(
    st.just(Var("x")),
    st.just(Var("y")),
    st.integers(-3, 3).map(lambda n: Num(Fraction(n))),
    st.fractions(min_value=-2, max_value=2, max_denominator=4).map(Num),
    st.sampled_from([Const("pi"), Const("e")]),
)


def _positive(u: Expr) -> Expr:
    return Add((ONE, Pow(u, TWO)))


def _branches(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    pairs = st.tuples(children, children)
    return st.one_of(
        children.map(Neg),
        st.lists(children, min_size=2, max_size=3).map(lambda ts: Add(tuple(ts))),
        st.lists(children, min_size=2, max_size=3).map(lambda fs: Mul(tuple(fs))),
        pairs.map(lambda p: Div(p[0], _positive(p[1]))),  # never divides by 0
        st.tuples(children, st.integers(1, 3)).map(lambda p: Pow(p[0], Num(Fraction(p[1])))),
        # rational powers of a base away from 0 (no cusp): real odd roots of a negative base,
        # and any root of a positive one
        st.tuples(children, st.sampled_from(ODD_ROOTS)).map(
            lambda p: Pow(Neg(_positive(p[0])), Num(p[1]))
        ),
        st.tuples(children, st.sampled_from(ROOTS)).map(lambda p: Pow(_positive(p[0]), Num(p[1]))),
        st.tuples(st.sampled_from(SMOOTH), children).map(lambda p: Call(p[0], (p[1],))),
        children.map(lambda u: Call("ln", (_positive(u),))),
        children.map(lambda u: Call("sqrt", (_positive(u),))),
        pairs.map(lambda p: Pow(_positive(p[0]), p[1])),  # the general power rule
    )


expressions = st.recursive(leaves, _branches, max_leaves=10)
points = st.tuples(st.floats(-2, 2), st.floats(-2, 2))


def _at(expr: Expr, x: np.ndarray, y: float) -> np.ndarray:
    return np.broadcast_to(calculus.evaluate(expr, {"x": x, "y": y}), x.shape)


@settings(max_examples=300, deadline=None)
@given(expressions, points)
def test_the_derivative_agrees_with_a_central_difference(
    expr: Expr, point: tuple[float, float]
) -> None:
    x, y = np.array([point[0]]), point[1]
    f = _at(expr, x, y)
    assume(np.all(np.isfinite(f)) and np.all(np.abs(f) < 1e6))
    fd = central_difference(lambda u: _at(expr, u, y), x)
    assume(np.all(np.isfinite(fd)) and np.all(np.abs(fd) < 1e6))
    derivative = _at(calculus.derive(expr, "x").derivative, x, y)
    assert np.allclose(derivative, fd, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(f).max()))), (
        calculus.to_text(expr)
    )


@settings(max_examples=300, deadline=None)
@given(expressions, points)
def test_tidying_keeps_every_value(expr: Expr, point: tuple[float, float]) -> None:
    x, y = np.array([point[0]]), point[1]
    before = _at(expr, x, y)
    assume(np.all(np.isfinite(before)) and np.all(np.abs(before) < 1e12))
    after = _at(tidy(expr), x, y)
    assert np.allclose(after, before, rtol=1e-9, atol=1e-9), calculus.to_text(expr)


@settings(max_examples=300, deadline=None)
@given(expressions, points)
def test_text_reads_back_as_the_same_expression(expr: Expr, point: tuple[float, float]) -> None:
    text = calculus.to_text(expr)
    again = calculus.parse(text)
    assert calculus.to_text(again) == text
    x, y = np.array([point[0]]), point[1]
    before = _at(expr, x, y)
    assume(np.all(np.isfinite(before)))
    assert np.allclose(_at(again, x, y), before, rtol=1e-12, atol=1e-12), text


@settings(max_examples=100, deadline=None)
@given(expressions)
def test_tidying_twice_changes_nothing(expr: Expr) -> None:
    once = tidy(expr)
    assert calculus.to_text(tidy(once)) == calculus.to_text(once)
