"""SymPy's verdict on expected - answer, from worker processes, within a deadline.

``SympyCheck`` is the ``symbolic`` argument of check_equivalence. The server never imports
SymPy: the workers do (symbolic.py), and one whose simplify runs past ``timeout`` seconds is
killed, the verdict being "timed_out", which leaves the decision to the numbers.

A worker's start (importing SymPy, and a first comparison, which is slow in a fresh process) is
never counted in a check's deadline (workers.py), so no verdict depends on whether its worker
had just started. ``warm_up()`` starts the process-wide workers ahead of time and proves them
ready: a real comparison goes through each of them and must come back "equal". A server calls
it before it reports ready, so that no request waits for a start either. It never raises: False
means no worker could answer (no process can be started, SymPy cannot be imported, ...), and a
server that cannot grade derivatives must not report ready.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from engine.calculus.equivalence import Point, SymbolicOutcome
from engine.calculus.expr import Expr
from engine.calculus.parser import parse
from engine.calculus.workers import Workers

logger = logging.getLogger("backprop_service")

DEFAULT_TIMEOUT = 2.0
"""Seconds SymPy may take to prove one equivalence, waiting for a free worker included."""
WARM_UP_TIMEOUT = 60.0
"""Seconds a worker may take to start and answer its first comparison (it imports SymPy)."""

Job = tuple[Expr, Expr, float, Sequence[Point]]
"""What a worker compares (symbolic.Comparison): expected, answer, heaviside(0), points."""

_WARM_UP: Job = (
    parse("2*x*sin(x) + x^2*cos(x)"),
    parse("x*(x*cos(x) + 2*sin(x))"),
    1.0,
    [{"x": 0.5}],
)
"""A comparison that exercises what grading does: building, evaluating at a point, expanding
and simplifying. Each worker runs it before it says it is ready, and warm_up once more."""


class SympyCheck:
    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, processes: int = 2) -> None:
        self.timeout = timeout
        self.workers: Workers[Job, SymbolicOutcome] = Workers(
            "engine.calculus.symbolic:compare",
            processes=processes,
            preload=["engine.calculus.symbolic"],
            warm=_WARM_UP,
        )
        self.ready = False
        """what the last warm_up proved"""

    def __call__(
        self, expected: Expr, answer: Expr, at_zero: float, points: Sequence[Point] = ()
    ) -> SymbolicOutcome:
        job = (expected, answer, at_zero, [dict(point) for point in points])
        result = self.workers.run(job, self.timeout)
        if result.status == "done" and result.value is not None:
            return result.value
        return "timed_out" if result.status == "timed_out" else "unavailable"

    def warm_up(self, timeout: float = WARM_UP_TIMEOUT) -> bool:
        """Start every worker and prove each answers a real comparison; never raises.

        Workers busy with requests for the whole ``timeout`` cannot be asked: then the last
        warm-up's answer stands (a busy server is not reported unready for being busy).
        """
        try:
            results = self.workers.warm_up(_WARM_UP, timeout)
        except Exception:  # readiness must say no, whatever went wrong
            logger.exception("the symbolic workers could not be started")
            results = None
        if results == []:
            return self.ready
        self.ready = results is not None and all(
            r.status == "done" and r.value == "equal" for r in results
        )
        if results and not self.ready:
            logger.error(
                "the symbolic workers are not ready: %s", ", ".join(r.status for r in results)
            )
        return self.ready

    def close(self) -> None:
        self.workers.close()


@lru_cache(maxsize=1)
def sympy_check() -> SympyCheck:
    """The process-wide SympyCheck (its workers start on first use, or at warm_up)."""
    return SympyCheck()


def warm_up(timeout: float = WARM_UP_TIMEOUT) -> bool:
    """Start the process-wide SymPy workers and prove they answer: True when a real symbolic
    check round-tripped through every worker within ``timeout`` seconds. Never raises.

    For a server's start-up and its readiness probe: a False here means POST
    /v1/derivatives/grade could only decide by the numbers, so the server is not ready.
    """
    return sympy_check().warm_up(timeout)
