"""A submitted array against the expected one, entry by entry, within a tolerance.

An entry s is correct when |s - e| <= atol + rtol |e|, as ``numpy.isclose`` has it: the
tolerance is relative to the expected value e, so it does not depend on what the student wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.types import FloatArray

DEFAULT_RTOL = 1e-2
"""1 %: an answer carried by hand with 3 to 4 significant figures stays well inside it, while
every mistake the grader names changes an entry by a factor (a sign, 2, N, f'(z) <= 1/4)."""

DEFAULT_ATOL = 1e-4
"""For entries at or near 0, where a relative tolerance is no tolerance at all: an answer
rounded to 4 decimal places is within 5e-5 of the exact value."""


@dataclass(frozen=True)
class Tolerance:
    """|submitted - expected| <= atol + rtol |expected|, entry by entry."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    def bound(self, expected: FloatArray) -> FloatArray:
        """The largest error each entry may have."""
        return self.atol + self.rtol * np.abs(expected)

    def accepts(self, expected: FloatArray, submitted: FloatArray) -> bool:
        """Whether every entry is within tolerance (shapes must be equal)."""
        return bool(np.all(np.abs(submitted - expected) <= self.bound(expected)))


@dataclass(frozen=True)
class Comparison:
    """How a submitted array of the expected shape compares with the expected one.

    worst_index is the entry furthest outside its tolerance (relative to its bound), or the
    one with the largest error when every entry is within it. max_relative_error is taken
    over the entries whose expected value is not 0 (None when all of them are 0).
    """

    within: int
    entries: int
    max_abs_error: float
    max_relative_error: float | None
    worst_index: tuple[int, ...]
    expected: float
    submitted: float

    @property
    def passed(self) -> bool:
        return self.within == self.entries

    @property
    def fraction(self) -> float:
        """The share of entries within tolerance, in [0, 1]."""
        return self.within / self.entries


def align(expected: FloatArray, submitted: FloatArray) -> FloatArray | None:
    """The submitted array in the expected shape, or None when its shape does not fit.

    One row and one flat list are the same answer: a single sample's (1, n) and (n,), or
    biases written as one row, are accepted either way round. Nothing else is reshaped (a
    (3, 2) matrix for a (2, 3) one is a transposed answer, not a layout detail).
    """
    if submitted.shape == expected.shape:
        return submitted
    row = _row_length(expected)
    if row is not None and row == _row_length(submitted):
        return submitted.reshape(expected.shape)
    return None


def _row_length(array: FloatArray) -> int | None:
    """n for an array of shape (n,) or (1, n); None for any other shape."""
    if array.ndim == 1 or (array.ndim == 2 and array.shape[0] == 1):
        return int(array.shape[-1])
    return None


_TINY = float(np.finfo(np.float64).tiny)
_LARGEST = float(np.finfo(np.float64).max)


def _reciprocal(values: FloatArray) -> FloatArray:
    """1 / |v| for v != 0 and 0 for v = 0, finite even for subnormal v (taken as the smallest
    normal float instead: a relative error against 5e-324 is astronomical either way)."""
    magnitude = np.abs(values)
    return np.where(magnitude != 0.0, 1.0 / np.maximum(magnitude, _TINY), 0.0)


def _finite(value: float) -> float:
    """A reported error, capped at the largest float (an error can overflow; JSON has no inf)."""
    return min(value, _LARGEST)


class Expected:
    """An expected array with what comparisons against it need, computed once.

    A grader compares thousands of submissions with the same reference: the tolerance's bound
    and the reciprocals below are the same every time.
    """

    def __init__(self, values: FloatArray, tolerance: Tolerance) -> None:
        self.values = values
        self.bound = tolerance.bound(values)
        self._per_bound = _reciprocal(self.bound)
        self._per_value = _reciprocal(values)
        self._any_nonzero = bool((values != 0.0).any())

    def accepts(self, submitted: FloatArray) -> bool:
        """Whether every entry of an array of the same shape is within tolerance."""
        return bool(np.all(np.abs(submitted - self.values) <= self.bound))

    def compare(self, submitted: FloatArray) -> Comparison:
        """Compare an array of the same shape entry by entry."""
        with np.errstate(over="ignore"):  # errors of far-off answers may overflow to inf
            error = np.abs(submitted - self.values)
            excess = error * self._per_bound
            relative = error * self._per_value
        index = np.unravel_index(int(np.argmax(excess)), self.values.shape)
        worst = tuple(int(i) for i in index)
        return Comparison(
            within=int(np.count_nonzero(error <= self.bound)),
            entries=int(self.values.size),
            max_abs_error=_finite(float(error.max())),
            max_relative_error=_finite(float(relative.max())) if self._any_nonzero else None,
            worst_index=worst,
            expected=float(self.values[worst]),
            submitted=float(submitted[worst]),
        )


def compare(expected: FloatArray, submitted: FloatArray, tolerance: Tolerance) -> Comparison:
    """Compare two arrays of the same shape entry by entry."""
    return Expected(expected, tolerance).compare(submitted)


class ExpectedItems:
    """Several expected arrays laid end to end, so that a whole submission is compared with
    all of them in a few NumPy calls (one call per item costs more than the arithmetic).

    A submission comes as one array per item, in the same order and shapes, or None for an
    item it does not answer in that shape; ``flatten`` lays it out the same way.
    """

    def __init__(self, arrays: list[FloatArray], tolerance: Tolerance) -> None:
        self.shapes = [a.shape for a in arrays]
        sizes = [int(a.size) for a in arrays]
        self.sizes = np.array(sizes)
        self.starts = np.cumsum([0, *sizes[:-1]])
        self.values = np.concatenate([a.ravel() for a in arrays])
        self.bound = tolerance.bound(self.values)
        self._per_bound = _reciprocal(self.bound)
        self._per_value = _reciprocal(self.values)
        nonzero = self.values != 0.0
        self._any_nonzero = np.logical_or.reduceat(nonzero, self.starts)
        self._positions = np.arange(self.values.size)
        self._unanswered = [np.full(size, np.nan) for size in sizes]

    def flatten(self, arrays: list[FloatArray | None]) -> FloatArray:
        """A submission laid out as the expected items are (NaN for None, which never matches)."""
        return np.concatenate(
            [self._unanswered[i] if a is None else a.ravel() for i, a in enumerate(arrays)]
        )

    def accepts(self, flat: FloatArray) -> NDArray[np.bool_]:
        """For each item, whether every entry of the flattened submission is within tolerance."""
        within = np.abs(flat - self.values) <= self.bound
        accepted: NDArray[np.bool_] = np.logical_and.reduceat(within, self.starts)
        return accepted

    def compare(self, flat: FloatArray, answered: list[bool]) -> list[Comparison | None]:
        """Each answered item's comparison (None for the others)."""
        with np.errstate(over="ignore", invalid="ignore"):  # far-off answers may overflow
            error = np.abs(flat - self.values)
            relative = error * self._per_value
            excess = error * self._per_bound
        counts = np.add.reduceat(error <= self.bound, self.starts)
        max_abs = np.maximum.reduceat(error, self.starts)
        max_relative = np.maximum.reduceat(relative, self.starts)
        top = np.maximum.reduceat(excess, self.starts)
        is_top = excess == np.repeat(top, self.sizes)
        first = np.minimum.reduceat(
            np.where(is_top, self._positions, self.values.size), self.starts
        )
        comparisons: list[Comparison | None] = []
        for i, shape in enumerate(self.shapes):
            if not answered[i]:
                comparisons.append(None)
                continue
            at = int(first[i])
            local = at - int(self.starts[i])
            worst = tuple(int(k) for k in np.unravel_index(local, shape)) if shape else ()
            comparisons.append(
                Comparison(
                    within=int(counts[i]),
                    entries=int(self.sizes[i]),
                    max_abs_error=_finite(float(max_abs[i])),
                    max_relative_error=(
                        _finite(float(max_relative[i])) if self._any_nonzero[i] else None
                    ),
                    worst_index=worst,
                    expected=float(self.values[at]),
                    submitted=float(flat[at]),
                )
            )
        return comparisons
