"""Grading a derivative: equivalent answers written differently pass, wrong ones fail with a
point where the two differ, and SymPy's verdict comes from a worker that a deadline can kill."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from engine import DomainError, calculus
from engine.calculus import SymbolicOutcome, SympyCheck
from engine.calculus.equivalence import Point
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

    def __call__(
        self, expected: Expr, answer: Expr, at_zero: float, points: Sequence[Point]
    ) -> SymbolicOutcome:
        self.asked += 1
        self.points = list(points)
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


# Notation of the tables, domains, and exact verdicts (issue 14) ----------------------------

TABLE_FORMS = [
    # (function, the answer as a published table writes it, domain): OpenStax Appendix A
    ("tanh(x)", "sech(x)^2", None),
    ("tanh(x)", "1/cosh(x)^2", None),
    ("coth(x)", "-csch(x)^2", None),
    ("coth(x)", "1 - coth(x)^2", None),
    ("sech(x)", "-sech(x)*tanh(x)", None),
    ("csch(x)", "-csch(x)*coth(x)", None),
    ("arsinh(x)", "1/sqrt(x^2 + 1)", None),
    ("arcosh(x)", "1/sqrt(x^2 - 1)", (1.1, 5.0)),
    ("artanh(x)", "1/(1 - x^2)", (-0.9, 0.9)),
    ("arcoth(x)", "1/(1 - x^2)", (1.1, 5.0)),
    ("arsech(x)", "-1/(x*sqrt(1 - x^2))", (0.05, 0.95)),
    ("arcsch(x)", "-1/(|x|*sqrt(1 + x^2))", None),
    ("arcsec(x)", "1/(|x|*sqrt(x^2 - 1))", None),
    ("arccsc(x)", "-1/(abs(x)*sqrt(x^2 - 1))", None),
    ("ln|x|", "1/x", None),
    ("abs(x)", "x/|x|", None),
    ("abs(x)", "sgn(x)", None),
    ("|x|", "|x|/x", None),
    ("lg(x)", "1/(x*ln(10))", (0.1, 10.0)),
    ("log2(x)", "1/(x*ln(2))", (0.1, 10.0)),
    ("cosec(x)", "-cosec(x)*ctg(x)", (0.2, 3.0)),
    ("arctg(x)", "1/(1 + x^2)", None),
    ("sh(x)", "ch(x)", None),
    ("x^(1/3)", "1/(3*x^(2/3))", None),
    ("x^(1/3)", "(1/3)*x^(-2/3)", None),
    ("x^(1/3)", "1/(3*cbrt(x)^2)", None),
    ("cbrt(x)", "1/(3*cbrt(x^2))", None),
]


@pytest.mark.parametrize(("function", "answer", "interval"), TABLE_FORMS)
def test_a_table_form_answer_is_equivalent(
    function: str, answer: str, interval: tuple[float, float] | None, sympy_check: SympyCheck
) -> None:
    domain = {} if interval is None else {"x": interval}
    verdict = calculus.check_equivalence(
        expected(function), calculus.parse(answer), domain=domain, symbolic=sympy_check
    )
    assert verdict.equivalent, verdict
    assert verdict.symbolic in ("equal", "not_proven")
    assert verdict.points_checked == 32


LITERAL_RULE_RESULTS = [
    # (function, its derivative as the rules give it before anything is simplified): each is
    # defined only where the function is, on [-5, 5] (the default interval) a part of it
    ("sqrt(x)^2", "2*sqrt(x)*1/(2*sqrt(x))"),
    ("sqrt(x)*sqrt(x)", "1/(2*sqrt(x))*sqrt(x) + sqrt(x)*1/(2*sqrt(x))"),
    ("ln(sqrt(x))", "1/sqrt(x)*1/(2*sqrt(x))"),
    ("exp(ln(x))", "exp(ln(x))*1/x"),
    ("(x^(1/4))^4", "4*(x^(1/4))^3*(1/4)*x^(-3/4)"),
    ("sqrt(1 - x^2)^2", "2*sqrt(1 - x^2)*1/(2*sqrt(1 - x^2))*(-2*x)"),
    ("ln(x)/ln(x)", "(1/x*ln(x) - ln(x)*1/x)/ln(x)^2"),
    ("arcsin(x)^2", "2*arcsin(x)*1/sqrt(1 - x^2)"),
    ("ln(abs(x))", "1/abs(x)*x/abs(x)"),
]


@pytest.mark.parametrize(("function", "answer"), LITERAL_RULE_RESULTS)
def test_a_literal_rule_result_is_right_on_the_functions_domain(
    function: str, answer: str, sympy_check: SympyCheck
) -> None:
    want = expected(function)
    verdict = calculus.check_equivalence(
        want, calculus.parse(answer), domain={}, symbolic=sympy_check
    )
    assert verdict.equivalent, verdict
    # the points checked are where the function is defined: the grader never went outside
    f = calculus.parse(function)
    x = np.random.default_rng(0).uniform(-5, 5, 512)
    defined = np.isfinite(np.broadcast_to(calculus.evaluate(f, {"x": x}), x.shape))
    assert verdict.points_checked == min(32, int(defined.sum()))


def test_the_simplified_derivative_does_not_extend_the_domain() -> None:
    """sqrt(x)^2's derivative prints as 1 but, like sqrt(x)^2, is not defined at x = -2."""
    derivative = expected("sqrt(x)^2")
    assert calculus.to_text(derivative) == "1"
    values = calculus.evaluate(derivative, {"x": np.array([-2.0, 2.0])})
    assert np.isnan(values[0])
    assert values[1] == 1.0
    with pytest.raises(DomainError):
        calculus.value_at(derivative, {"x": -2.0})


PROVEN_DIFFERENCES = [
    # (function, answer): the numbers agree to 1e-6, SymPy proves they differ
    ("x^3", "3*x^2 + 0.0000001"),
    ("x^3", "3.0000001*x^2"),
    ("ln(x)", "1/x + 1e-12"),
    ("sin(x)", "cos(x) + 1e-9*x"),
    ("e^x", "exp(x)*(1 + 1e-10)"),
    ("2^x", "0.6931473*2^x"),  # 0.6931473 does not round to ln(2) = 0.69314718...
]


@pytest.mark.parametrize(("function", "answer"), PROVEN_DIFFERENCES)
def test_a_difference_sympy_proves_is_never_equivalent(
    function: str, answer: str, sympy_check: SympyCheck
) -> None:
    want, got = expected(function), calculus.parse(answer)
    verdict = calculus.check_equivalence(want, got, domain={"x": (0.5, 3.0)}, symbolic=sympy_check)
    assert verdict.symbolic == "different"
    assert not verdict.equivalent
    assert verdict.rounding is None
    assert not verdict.accepted(1)
    assert verdict.method.startswith("SymPy proves they differ")
    # the numbers alone would have passed it: this is what only the proof catches
    assert verdict.largest_difference is not None
    c = verdict.counterexample
    assert c is not None
    assert c.answer is not None
    assert c.answer == float(calculus.evaluate(got, c.point))
    assert c.expected == float(calculus.evaluate(want, c.point))


ROUNDED = [
    # (function, answer, the decimal that rounds, its significant digits)
    ("2^x", "0.6931472*2^x", "0.6931472", 7),
    ("2^x", "2^x*0.693147", "0.693147", 6),
    ("lg(x)", "0.4342945/x", "0.4342945", 7),
    ("pi*x^2", "6.2831853*x", "6.2831853", 8),
    ("2^x", "0.6931*2^x", "0.6931", 4),  # the numbers differ too, by 7e-5
]


@pytest.mark.parametrize(("function", "answer", "decimal", "digits"), ROUNDED)
def test_an_answer_right_to_its_typed_digits_is_reported_as_such(
    function: str, answer: str, decimal: str, digits: int, sympy_check: SympyCheck
) -> None:
    verdict = calculus.check_equivalence(
        expected(function), calculus.parse(answer), domain={"x": (0.5, 3.0)}, symbolic=sympy_check
    )
    assert not verdict.equivalent
    assert verdict.symbolic == "different"
    assert verdict.rounding == calculus.Rounding((decimal,), digits)
    assert verdict.accepted(digits)
    assert not verdict.accepted(digits + 1)
    assert not verdict.accepted(None)


def test_a_typed_decimal_that_needs_no_rounding_is_exact() -> None:
    verdict = calculus.check_equivalence(
        expected("x^2"), calculus.parse("2.0*x"), domain={}, symbolic=_Verdict("equal")
    )
    assert verdict.equivalent
    assert verdict.rounding is None


def test_sympy_looks_for_a_difference_only_inside_the_domain(sympy_check: SympyCheck) -> None:
    """x/|x| and 1 differ for x < 0, not on [0.1, 3]: there the answer is right."""
    verdict = calculus.check_equivalence(
        expected("abs(x)"), calculus.parse("1"), domain={"x": (0.1, 3.0)}, symbolic=sympy_check
    )
    assert verdict.equivalent
    assert verdict.symbolic != "different"


def test_sympy_is_given_the_point_where_the_answer_is_furthest_off() -> None:
    proof = _Verdict("different")
    verdict = calculus.check_equivalence(
        calculus.parse("x"),
        calculus.parse("x + 1e-9*x^2"),
        domain={"x": (0.0, 2.0)},
        symbolic=proof,
    )
    assert not verdict.equivalent
    assert 1 <= len(proof.points) <= 4
    assert verdict.counterexample is not None
    assert proof.points[0] == verdict.counterexample.point
    assert proof.points[0]["x"] == max(p["x"] for p in proof.points)


def test_the_method_counts_in_good_grammar() -> None:
    one = calculus.check_equivalence(calculus.parse("x"), calculus.parse("x"), domain={}, samples=1)
    assert one.method == "checked at 1 random point (SymPy: skipped)"
    two = calculus.check_equivalence(calculus.parse("x"), calculus.parse("x"), domain={}, samples=2)
    assert two.method == "checked at 2 random points (SymPy: skipped)"


def test_a_decimal_longer_than_float64_rounds_at_float64s_resolution(
    sympy_check: SympyCheck,
) -> None:
    """0.33333333333333333333 is 1/3 to its 20 digits: SymPy sees the difference, float64 only
    noise, and the answer is right to the digits written."""
    verdict = calculus.check_equivalence(
        expected("x^2/6"),
        calculus.parse("0.33333333333333333333*x"),
        domain={},
        symbolic=sympy_check,
    )
    assert verdict.symbolic == "different"
    assert verdict.rounding == calculus.Rounding(("0.33333333333333333333",), 20)
    assert verdict.accepted(6)
