"""Grading a derivative: equivalent answers written differently pass, wrong ones fail with a
point where the two differ, and SymPy's verdict comes from a worker that a deadline can kill."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from engine import DomainError, calculus
from engine.calculus import SymbolicOutcome, SympyCheck
from engine.calculus.expr import Expr
from engine.calculus.workers import Workers


@pytest.fixture(scope="module")
def sympy_check() -> Iterator[SympyCheck]:
    check = SympyCheck(timeout=20.0)  # generous: the first call starts the fork server
    yield check
    check.close()


def expected(function: str) -> Expr:
    return calculus.derive(calculus.parse(function), "x").derivative


EQUIVALENT = [
    ("x^2*sin(x)", "2*x*sin(x) + x^2*cos(x)"),
    ("x^2*sin(x)", "x*(2*sin(x) + x*cos(x))"),
    ("sin(x)^2", "sin(2*x)"),
    ("tan(x)", "sec(x)^2"),
    ("tan(x)", "1 + tan(x)^2"),
    ("tanh(x)", "1/cosh(x)^2"),
    ("sigmoid(x)", "exp(-x)/(1 + exp(-x))^2"),
    ("x/(x + 1)", "1/(x^2 + 2*x + 1)"),
    ("e^(2*x)", "2*exp(2*x)"),
    ("log(x, 2)", "1/(x*ln(2))"),
    ("arccot(x)", "-1/(1 + x^2)"),
    ("sqrt(x)", "0.5*x^(-1/2)"),
    ("3*x + 2", "3"),
]


@pytest.mark.parametrize(("function", "answer"), EQUIVALENT)
def test_an_equivalent_answer_written_differently_passes(
    function: str, answer: str, sympy_check: SympyCheck
) -> None:
    verdict = calculus.check_equivalence(
        expected(function), calculus.parse(answer), domain={"x": (0.1, 3.0)}, symbolic=sympy_check
    )
    assert verdict.equivalent
    assert verdict.counterexample is None
    assert verdict.points_checked == 32
    assert verdict.symbolic == "equal"


WRONG = [
    ("x^2*sin(x)", "2*x*cos(x)"),  # the product rule as (fg)' = f'g'
    ("sin(x^2)", "cos(x^2)"),  # the chain rule forgotten
    ("x/(x + 1)", "((x + 1) + x)/(x + 1)^2"),  # the quotient rule's sign
    ("cos(x)", "sin(x)"),  # the table's sign
    ("ln(x)", "1/x + 1e-3"),  # close, but not equal
    ("x^3", "3*x^2 + heaviside(x - 2)"),  # equal on part of the domain only
]


@pytest.mark.parametrize(("function", "answer"), WRONG)
def test_a_wrong_answer_fails_with_a_point_where_it_differs(
    function: str, answer: str, sympy_check: SympyCheck
) -> None:
    want, got = expected(function), calculus.parse(answer)
    verdict = calculus.check_equivalence(want, got, domain={"x": (0.1, 3.0)}, symbolic=sympy_check)
    assert not verdict.equivalent
    c = verdict.counterexample
    assert c is not None
    # the values shown are the values there, computed independently of the check
    assert c.expected == pytest.approx(float(calculus.evaluate(want, c.point)), rel=1e-15)
    assert c.answer == pytest.approx(float(calculus.evaluate(got, c.point)), rel=1e-15)
    assert abs(c.expected - c.answer) > 1e-6 * max(1.0, abs(c.expected))
    assert 0.1 <= c.point["x"] <= 3.0


def test_an_answer_undefined_where_the_derivative_is_defined_fails() -> None:
    verdict = calculus.check_equivalence(
        expected("x^2"), calculus.parse("2*sqrt(x)^2/sqrt(x)*sqrt(x)"), domain={"x": (-2.0, 2.0)}
    )
    assert not verdict.equivalent
    assert verdict.counterexample is not None
    assert verdict.counterexample.point["x"] < 0
    assert verdict.counterexample.answer is None


def test_points_where_the_derivative_is_undefined_are_skipped() -> None:
    verdict = calculus.check_equivalence(
        expected("arcsin(x)"), calculus.parse("(1 - x^2)^(-1/2)"), domain={}
    )
    assert verdict.equivalent
    assert verdict.points_checked == 32


def test_a_domain_where_nothing_is_defined_is_a_domain_error() -> None:
    with pytest.raises(DomainError, match="defined at only 0 of 512"):
        calculus.check_equivalence(
            expected("sqrt(x)"), calculus.parse("1/(2*sqrt(x))"), domain={"x": (-3.0, -1.0)}
        )


def test_the_sample_points_are_reproducible() -> None:
    want, got = expected("sin(x^2)"), calculus.parse("cos(x^2)")
    first = calculus.check_equivalence(want, got, domain={}, seed=7)
    again = calculus.check_equivalence(want, got, domain={}, seed=7)
    other = calculus.check_equivalence(want, got, domain={}, seed=8)
    assert first.counterexample == again.counterexample != other.counterexample


def test_every_variable_is_sampled() -> None:
    want = calculus.derive(calculus.parse("x^2*y"), "x").derivative
    verdict = calculus.check_equivalence(want, calculus.parse("2*x"), domain={"y": (2.0, 3.0)})
    assert not verdict.equivalent
    assert verdict.counterexample is not None
    assert set(verdict.counterexample.point) == {"x", "y"}
    assert 2.0 <= verdict.counterexample.point["y"] <= 3.0


class _Verdict:
    """A stand-in for SymPy that records whether it was asked."""

    def __init__(self, outcome: SymbolicOutcome) -> None:
        self.outcome = outcome
        self.asked = 0

    def __call__(self, expected: Expr, answer: Expr, at_zero: float) -> SymbolicOutcome:
        self.asked += 1
        return self.outcome


def test_a_proof_outweighs_a_marginal_numeric_difference() -> None:
    """Rounding can make equal expressions differ slightly at a point: SymPy decides then."""
    want, got = calculus.parse("x"), calculus.parse("x*(1 + 1e-5)")
    proof = _Verdict("equal")
    verdict = calculus.check_equivalence(want, got, domain={}, symbolic=proof)
    assert proof.asked == 1
    assert verdict.equivalent
    assert verdict.method.startswith("proved by SymPy")
    no_proof = _Verdict("not_proven")
    assert not calculus.check_equivalence(want, got, domain={}, symbolic=no_proof).equivalent


def test_a_clear_numeric_difference_needs_no_proof() -> None:
    proof = _Verdict("equal")
    verdict = calculus.check_equivalence(
        calculus.parse("x"), calculus.parse("2*x"), domain={}, symbolic=proof
    )
    assert proof.asked == 0
    assert verdict.symbolic == "skipped"
    assert not verdict.equivalent


def test_numbers_decide_when_sympy_times_out() -> None:
    verdict = calculus.check_equivalence(
        calculus.parse("x"), calculus.parse("x"), domain={}, symbolic=_Verdict("timed_out")
    )
    assert verdict.equivalent
    assert verdict.method == "checked at 32 random points (SymPy: timed out)"


def test_sympy_is_stopped_at_the_deadline() -> None:
    """A simplify that would take minutes is killed at the deadline, and the next call works."""
    check = SympyCheck(timeout=1.0, processes=1)
    try:
        check(calculus.parse("x"), calculus.parse("x"), 1.0)  # start the worker
        hard = calculus.parse("(x + 1)^300*(x - 1)^300 - (x^2 - 1)^300 + sin(x)^2")
        start = time.monotonic()
        assert check(hard, calculus.parse("sin(x)^2"), 1.0) == "timed_out"
        assert time.monotonic() - start < 10  # generous: this is not a timing test
        assert check(calculus.parse("2*x"), calculus.parse("x + x"), 1.0) == "equal"
    finally:
        check.close()


def test_a_worker_past_its_deadline_is_killed_and_replaced() -> None:
    workers: Workers[float, None] = Workers("time:sleep", processes=1)
    try:
        assert workers.run(0.0, 20.0).status == "done"
        (first,) = workers._idle
        assert workers.run(600.0, 0.5).status == "timed_out"
        assert not first.process.is_alive()
        assert workers.run(0.0, 20.0).status == "done"
        (second,) = workers._idle
        assert second.process.pid != first.process.pid
    finally:
        workers.close()


def test_a_failing_job_is_reported_and_the_worker_survives() -> None:
    workers: Workers[float, float] = Workers("math:sqrt", processes=1)
    try:
        failed = workers.run(-1.0, 20.0)
        assert (failed.status, failed.value) == ("failed", None)
        assert workers.run(4.0, 20.0).value == 2.0
    finally:
        workers.close()


def test_sympy_proves_relu_and_heaviside_with_the_convention() -> None:
    from engine.calculus.symbolic import compare

    relu_prime = expected("relu(x)")
    assert compare((relu_prime, calculus.parse("heaviside(x)"), 1.0)) == "equal"
    assert compare((calculus.parse("x + 1"), calculus.parse("x"), 1.0)) == "different"
    values = calculus.evaluate(relu_prime, {"x": np.array([0.0])}, at_zero=0.0)
    assert values.tolist() == [0.0]
