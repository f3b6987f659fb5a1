"""Whether a student's expression equals the expected one: at sample points, and by SymPy.

Numerically, both are evaluated at random points of the domain (seeded, so a grade can be
reproduced). Points where the expected expression is undefined are skipped: a derivative from
rules.py is undefined wherever its function is (sqrt(x)^2's derivative 1 is not sampled at
x < 0), so an answer is only ever judged where the function and the expected derivative both
exist. Points larger than 1e8 in absolute value (next to a pole, where rounding decides) are
skipped too. At every other point the answer must be defined and within ``RTOL`` *
max(|expected|, |answer|) + ``ATOL`` of the expected value; the first point where it is not is a
counterexample, shown with both values.

Symbolically, SymPy compares expected - answer in a worker process with a deadline (see
workers.py, symbolic.py): it proves it 0 (equal), or proves it is not (different: a nonzero
number, or nonzero at one of the points checked, to 50 digits). It runs when the numbers agree,
to confirm them, and when they disagree only slightly, to rule out rounding; a clear numeric
disagreement needs no proof.

The verdict:
- equivalent when SymPy proves the difference 0, or when it proves nothing (not proven, timed
  out, unavailable) and the numbers agree at every point checked;
- never equivalent when SymPy proves a difference, however well the numbers agree
  (3*x^2 + 0.0000001 for d/dx x^3), and the counterexample is where they differ most;
- an answer that is not equivalent may still be right to the digits of the decimals its student
  typed (0.6931472*2^x for d/dx 2^x): ``rounding`` says so (rounding.py), and the instructor's
  rule, ``Equivalence.accepted(min_digits)``, says whether that earns the points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.calculus.evaluate import evaluate
from engine.calculus.expr import Expr
from engine.calculus.rounding import Rounding, rounded_to_written_digits
from engine.errors import DomainError
from engine.types import FloatArray

Interval = tuple[float, float]

SymbolicOutcome = Literal["equal", "different", "not_proven", "timed_out", "unavailable", "skipped"]
"""equal, different, not_proven: SymPy's verdict (symbolic.py); timed_out: SymPy ran past the
deadline and was stopped; unavailable: no worker could take the job (busy or failed); skipped:
the numbers already differ clearly."""

Point = Mapping[str, float]

SymbolicCheck = Callable[[Expr, Expr, float, Sequence[Point]], SymbolicOutcome]
"""(expected, answer, heaviside(0), points) -> SymPy's verdict (see proof.py); the points are
points of the domain where both are defined, the one where they differ most first."""

DEFAULT_INTERVAL: Interval = (-5.0, 5.0)
RTOL = 1e-6
ATOL = 1e-8
LARGEST_CHECKED = 1e8
CLEAR_DIFFERENCE = 1e-3
"""A relative difference above this at a counterexample needs no symbolic arbitration."""
MIN_POINTS = 5
CANDIDATES_PER_POINT = 16
SYMBOLIC_POINTS = 4
"""How many of the points checked SymPy evaluates to look for a difference."""


@dataclass(frozen=True)
class Counterexample:
    """A point where the answer differs from the expected value (None: not defined there)."""

    point: dict[str, float]
    expected: float
    answer: float | None


@dataclass(frozen=True)
class Equivalence:
    equivalent: bool
    symbolic: SymbolicOutcome
    points_checked: int
    counterexample: Counterexample | None
    largest_difference: float | None
    """the largest |expected - answer| over the points where both are defined (None: none)"""
    rounding: Rounding | None = None
    """when not equivalent: how the answer's typed decimals round to a right one, if they do"""

    @property
    def method(self) -> str:
        """How the verdict was reached, in words."""
        numbers = f"at {count(self.points_checked, 'random point')}"
        if self.symbolic == "equal":
            return f"proved by SymPy and checked {numbers}"
        if self.symbolic == "different":
            return f"SymPy proves they differ; checked {numbers}"
        if self.counterexample is not None:
            return f"found by evaluating both {numbers}"
        return f"checked {numbers} (SymPy: {self.symbolic.replace('_', ' ')})"

    def accepted(self, min_digits: int | None) -> bool:
        """The instructor's rule: an equivalent answer earns the points, and so does one right
        only to the digits of its decimals when each decimal that rounds has at least
        ``min_digits`` significant digits (None: never)."""
        if self.equivalent:
            return True
        return (
            min_digits is not None
            and self.rounding is not None
            and (self.rounding.digits >= min_digits)
        )


def count(n: int, noun: str) -> str:
    """1 random point, 2 random points."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def check_equivalence(
    expected: Expr,
    answer: Expr,
    *,
    domain: Mapping[str, Interval],
    samples: int = 32,
    seed: int = 0,
    at_zero: float = 1.0,
    symbolic: SymbolicCheck | None = None,
) -> Equivalence:
    """Whether ``answer`` equals ``expected`` on ``domain`` (each variable's interval; a
    variable not in it takes DEFAULT_INTERVAL). Raises DomainError when the expected expression
    is defined at fewer than MIN_POINTS of the points tried."""
    candidates = samples * CANDIDATES_PER_POINT
    points = _sample(sorted(expected.variables | answer.variables), domain, candidates, seed)
    want = np.broadcast_to(evaluate(expected, points, at_zero=at_zero), (candidates,))
    usable = np.flatnonzero(np.isfinite(want) & (np.abs(want) <= LARGEST_CHECKED))[:samples]
    if usable.size < min(MIN_POINTS, samples):
        raise DomainError(
            "domain",
            f"the expected derivative is defined at only {usable.size} of {candidates} random "
            "points of the domain: give a domain where it is defined",
        )
    points = {name: values[usable] for name, values in points.items()}
    want = want[usable]
    got = np.broadcast_to(evaluate(answer, points, at_zero=at_zero), want.shape)
    with np.errstate(all="ignore"):
        difference = np.abs(got - want)
        allowed = RTOL * np.maximum(np.abs(want), np.abs(got)) + ATOL
        # how far off each point is, in units of what is allowed there (inf: not defined)
        badness = np.where(np.isfinite(difference), difference / allowed, np.inf)
    wrong = badness > 1
    defined = np.isfinite(difference)
    largest = float(difference[defined].max()) if defined.any() else None

    outcome: SymbolicOutcome = "skipped"
    if wrong.any():
        i = int(np.argmax(wrong))
        marginal = defined[i] and difference[i] <= CLEAR_DIFFERENCE * max(abs(want[i]), abs(got[i]))
        if symbolic is not None and marginal:
            outcome = symbolic(expected, answer, at_zero, _worst_first(points, badness, i))
    elif symbolic is not None:
        i = int(np.argmax(badness))
        outcome = symbolic(expected, answer, at_zero, _worst_first(points, badness, i))
    equivalent = outcome != "different" and (outcome == "equal" or not wrong.any())
    rounding = None
    counterexample = None
    if not equivalent:
        # the first point that is wrong, or where they differ most when SymPy proves a
        # difference that the numbers agree on
        i = int(np.argmax(wrong)) if wrong.any() else int(np.argmax(badness))
        counterexample = Counterexample(
            {name: float(values[i]) for name, values in points.items()},
            float(want[i]),
            float(got[i]) if defined[i] else None,
        )
        rounding = rounded_to_written_digits(
            want, answer, points, rtol=RTOL, atol=ATOL, at_zero=at_zero
        )
    return Equivalence(
        equivalent=equivalent,
        symbolic=outcome,
        points_checked=int(usable.size),
        counterexample=counterexample,
        largest_difference=largest,
        rounding=rounding,
    )


def _worst_first(
    points: Mapping[str, FloatArray], badness: FloatArray, worst: int
) -> list[dict[str, float]]:
    """Up to SYMBOLIC_POINTS points where both are defined, the one at ``worst`` first."""
    order = [worst, *(int(i) for i in np.argsort(-np.nan_to_num(badness, posinf=-1.0)))]
    chosen = [i for i in dict.fromkeys(order) if np.isfinite(badness[i])][:SYMBOLIC_POINTS]
    return [{name: float(values[i]) for name, values in points.items()} for i in chosen]


def _sample(
    names: list[str], domain: Mapping[str, Interval], count: int, seed: int
) -> dict[str, FloatArray]:
    rng = np.random.default_rng(seed)
    points: dict[str, FloatArray] = {}
    for name in names:
        low, high = domain.get(name, DEFAULT_INTERVAL)
        points[name] = rng.uniform(low, high, count)
    return points
