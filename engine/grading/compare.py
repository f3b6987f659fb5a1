"""A submitted array against the expected one, entry by entry, within a tolerance.

An entry s is correct when |s - e| <= atol + rtol |e|, as ``numpy.isclose`` has it: the
tolerance is relative to the expected value e, so it does not depend on what the student wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def compare(expected: FloatArray, submitted: FloatArray, tolerance: Tolerance) -> Comparison:
    """Compare two arrays of the same shape entry by entry."""
    error = np.abs(submitted - expected)
    bound = tolerance.bound(expected)
    nonzero = expected != 0.0
    relative = error[nonzero] / np.abs(expected[nonzero])
    with np.errstate(over="ignore"):
        excess = error / np.maximum(bound, np.finfo(np.float64).tiny)
    flat = int(np.argmax(excess))
    index = tuple(int(i) for i in np.unravel_index(flat, expected.shape))
    return Comparison(
        within=int(np.count_nonzero(error <= bound)),
        entries=int(expected.size),
        max_abs_error=float(error.max()),
        max_relative_error=float(relative.max()) if relative.size else None,
        worst_index=index,
        expected=float(expected[index]),
        submitted=float(submitted[index]),
    )
