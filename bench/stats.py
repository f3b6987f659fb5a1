"""Timing samples and their summaries: median, p90 and the spread between the quartiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """A sample of timings in seconds (or of any positive measure)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p90(self) -> float:
        return self.quantile(0.9)

    @property
    def iqr(self) -> tuple[float, float]:
        return self.quantile(0.25), self.quantile(0.75)

    def quantile(self, q: float) -> float:
        """The q-quantile by linear interpolation (numpy's default method)."""
        ordered = sorted(self.values)
        position = q * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    def as_dict(self) -> dict[str, float]:
        q1, q3 = self.iqr
        return {"median": self.median, "p90": self.p90, "q1": q1, "q3": q3, "n": len(self.values)}


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    fns: dict[str, Callable[[], object]], *, rounds: int, warmup: int = 2
) -> dict[str, Summary]:
    """Time each function once per round, in turn, so that noise falls on all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return {name: Summary(tuple(values)) for name, values in samples.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.2f} ms"
