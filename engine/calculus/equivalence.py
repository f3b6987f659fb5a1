"""Whether a student's expression equals the expected one: at sample points, and by SymPy.

Numerically, both are evaluated at random points of the domain (seeded, so a grade can be
reproduced). Points where the expected expression is undefined, or larger than 1e8 in absolute
value (next to a pole, where rounding decides), are skipped. At every other point the answer
must be defined and within ``rtol`` * max(|expected|, |answer|) + ``atol`` of the expected value;
the first point where it is not is a counterexample, shown with both values.

Symbolically, SymPy simplifies expected - answer in a worker process with a deadline (see
workers.py). It runs when the numbers agree, to confirm them, and when they disagree only
slightly, to rule out rounding; a clear numeric disagreement needs no proof.

The verdict: equivalent when SymPy proves the difference 0, otherwise when the numbers agree at
every point checked. A SymPy that times out or cannot decide leaves the numbers to decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.calculus.evaluate import evaluate
from engine.calculus.expr import Expr
from engine.errors import DomainError
from engine.types import FloatArray

Interval = tuple[float, float]

SymbolicOutcome = Literal["equal", "different", "not_proven", "timed_out", "unavailable", "skipped"]
"""equal, different, not_proven: SymPy's verdict (symbolic.py); timed_out: SymPy ran past the
deadline and was stopped; unavailable: no worker could take the job (busy or failed); skipped:
the numbers already differ clearly."""

SymbolicCheck = Callable[[Expr, Expr, float], SymbolicOutcome]
"""(expected, answer, heaviside(0)) -> SymPy's verdict (see proof.py)."""

DEFAULT_INTERVAL: Interval = (-5.0, 5.0)
RTOL = 1e-6
ATOL = 1e-8
LARGEST_CHECKED = 1e8
CLEAR_DIFFERENCE = 1e-3
"""A relative difference above this at a counterexample needs no symbolic arbitration."""
MIN_POINTS = 5
CANDIDATES_PER_POINT = 16


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

    @property
    def method(self) -> str:
        """How the verdict was reached, in words."""
        numbers = f"at {self.points_checked} random points"
        if self.symbolic == "equal":
            return f"proved by SymPy and checked {numbers}"
        if self.counterexample is not None:
            return f"found by evaluating both {numbers}"
        return f"checked {numbers} (SymPy: {self.symbolic.replace('_', ' ')})"


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
    wrong = ~(np.isfinite(difference) & (difference <= allowed))
    defined = np.isfinite(difference)
    largest = float(difference[defined].max()) if defined.any() else None

    counterexample = None
    outcome: SymbolicOutcome = "skipped"
    if wrong.any():
        i = int(np.argmax(wrong))
        counterexample = Counterexample(
            {name: float(values[i]) for name, values in points.items()},
            float(want[i]),
            float(got[i]) if defined[i] else None,
        )
        marginal = defined[i] and difference[i] <= CLEAR_DIFFERENCE * max(abs(want[i]), abs(got[i]))
        if symbolic is not None and marginal:
            outcome = symbolic(expected, answer, at_zero)
    elif symbolic is not None:
        outcome = symbolic(expected, answer, at_zero)
    equivalent = outcome == "equal" or counterexample is None
    return Equivalence(
        equivalent=equivalent,
        symbolic=outcome,
        points_checked=int(usable.size),
        counterexample=None if equivalent else counterexample,
        largest_difference=largest,
    )


def _sample(
    names: list[str], domain: Mapping[str, Interval], count: int, seed: int
) -> dict[str, FloatArray]:
    rng = np.random.default_rng(seed)
    points: dict[str, FloatArray] = {}
    for name in names:
        low, high = domain.get(name, DEFAULT_INTERVAL)
        points[name] = rng.uniform(low, high, count)
    return points
