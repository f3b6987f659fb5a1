"""SymPy's verdict on expected - answer, from worker processes, within a deadline.

``SympyCheck`` is the ``symbolic`` argument of check_equivalence. The server never imports
SymPy: the workers do (symbolic.py), and one whose simplify runs past ``timeout`` seconds is
killed, the verdict being "timed_out", which leaves the decision to the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from engine.calculus.equivalence import Point, SymbolicOutcome
from engine.calculus.expr import Expr
from engine.calculus.workers import Workers

DEFAULT_TIMEOUT = 2.0
"""Seconds SymPy may take to prove one equivalence, waiting for a free worker included."""


class SympyCheck:
    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, processes: int = 2) -> None:
        self.timeout = timeout
        self.workers: Workers[tuple[Expr, Expr, float, Sequence[Point]], SymbolicOutcome] = Workers(
            "engine.calculus.symbolic:compare",
            processes=processes,
            preload=["engine.calculus.symbolic"],
        )

    def __call__(
        self, expected: Expr, answer: Expr, at_zero: float, points: Sequence[Point] = ()
    ) -> SymbolicOutcome:
        job = (expected, answer, at_zero, [dict(point) for point in points])
        result = self.workers.run(job, self.timeout)
        if result.status == "done" and result.value is not None:
            return result.value
        return "timed_out" if result.status == "timed_out" else "unavailable"

    def close(self) -> None:
        self.workers.close()


@lru_cache(maxsize=1)
def sympy_check() -> SympyCheck:
    """The process-wide SympyCheck (its workers start on first use)."""
    return SympyCheck()
