"""A submitted array against an expected one, entry by entry, with the digits the student wrote.

An entry s of a value (z, a, delta, a gradient, the loss) is within tolerance of the expected e
when |s - e| <= atol + rtol |e|, as ``numpy.isclose`` has it. An updated parameter w' is judged
as the step it takes from w: its step s - w against the expected step e - w, within atol +
rtol |e - w|, so that a step that is small next to w is still checked (|w'| would hide it).

What a student writes is rounded. ``Written`` reads, from each number's shortest decimal form,
how many significant digits it has and half a unit in its last one: 0.0105 has 3, and stands for
anything in [0.01045, 0.01055]. An entry is "right to the digits written" when the expected
value rounds to it. Updates always allow for it (a step is a small difference of two long
numbers); other entries only when the instructor accepts answers rounded to N significant
figures, and the diagnosis of mistakes uses it to never name one that rounding explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from engine.types import FloatArray

DEFAULT_RTOL = 1e-2
"""1 %: an answer carried by hand with 3 to 4 significant figures stays well inside it, while
every mistake the grader names changes an entry by a factor (a sign, 2, N, f'(z) <= 1/4)."""

DEFAULT_ATOL = 1e-4
"""For entries at or near 0, where a relative tolerance is no tolerance at all: an answer
rounded to 4 decimal places is within 5e-5 of the exact value."""

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Tolerance:
    """|submitted - expected| <= atol + rtol |scale|, entry by entry; the scale is the expected
    value, or the expected step of an update."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    def bound(self, scale: FloatArray) -> FloatArray:
        """The largest error each entry may have."""
        return self.atol + self.rtol * np.abs(scale)

    def digits_to_carry(self) -> int:
        """Significant figures to carry: those whose rounding errs by at most a tenth of the
        relative tolerance (4 for 1%), so that a few steps of rounded numbers stay within it."""
        return min(17, math.ceil(math.log10(50 / self.rtol))) if self.rtol > 0 else 17


@dataclass(frozen=True)
class Written:
    """What the numbers of an array say of their own precision, as written.

    digits : significant digits of each entry (0 for 0, whose precision cannot be read)
    half_unit : half a unit in each entry's last significant digit (0 for 0 and for NaN)
    """

    digits: NDArray[np.int64]
    half_unit: FloatArray

    @classmethod
    def of(cls, values: FloatArray) -> Written:
        read = [_written(value) for value in np.ravel(values).tolist()]
        digits = np.array([d for d, _ in read], dtype=np.int64).reshape(values.shape)
        half_unit = np.array([h for _, h in read], dtype=np.float64).reshape(values.shape)
        return cls(digits, half_unit)


@lru_cache(maxsize=65536)
def _written(value: float) -> tuple[int, float]:
    """(significant digits, half a unit in the last one) of a number's shortest decimal form.

    JSON keeps no trailing zeros: 0.0100 arrives as 0.01, read as 1 digit (its least precise
    reading), and 120 as 3 digits, a whole number's last written digit being its units.
    """
    if value == 0.0 or not math.isfinite(value):
        return 0, 0.0
    text = repr(value).removesuffix(".0")
    mantissa, _, power = text.partition("e")
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent = (int(power) if power else 0) - len(fraction)
    return len(digits), 0.5 * 10.0**exponent


@dataclass(frozen=True)
class Comparison:
    """How a submitted array of the expected shape compares with the expected one.

    accepted : each entry's verdict
    worst_index : the entry furthest outside what it may be (relative to its bound), or the one
        with the largest error when every entry is accepted
    wrong_way : update entries whose step goes the other way than the expected step, where the
        digits written show its direction (None for other items)
    """

    accepted: BoolArray
    max_abs_error: float
    worst_index: tuple[int, ...]
    expected: float
    submitted: float
    wrong_way: int | None = None

    @property
    def entries(self) -> int:
        return int(self.accepted.size)

    @property
    def within(self) -> int:
        return int(np.count_nonzero(self.accepted))

    @property
    def passed(self) -> bool:
        return bool(self.accepted.all())

    @property
    def fraction(self) -> float:
        """The share of entries accepted, in [0, 1]."""
        return self.within / self.entries


@dataclass(frozen=True)
class Expected:
    """An expected array and how far each entry may be from it, computed once per grader.

    base : the parameters before the step, for an update (its entries are judged as steps)
    """

    values: FloatArray
    bound: FloatArray
    base: FloatArray | None = None

    @classmethod
    def value(cls, values: FloatArray, tolerance: Tolerance) -> Expected:
        return cls(values, tolerance.bound(values))

    @classmethod
    def step(cls, values: FloatArray, base: FloatArray, tolerance: Tolerance) -> Expected:
        return cls(values, tolerance.bound(values - base), base)

    def within(self, submitted: FloatArray) -> BoolArray:
        """Each entry within its bound (NaN never is)."""
        with np.errstate(invalid="ignore", over="ignore"):
            ok: BoolArray = np.abs(submitted - self.values) <= self.bound
        return ok

    def rounds_to(self, submitted: FloatArray, written: Written) -> BoolArray:
        """Each entry the expected value rounded to the digits written (within half a unit in
        the last digit, and a hair for the decimal-to-binary conversion)."""
        with np.errstate(invalid="ignore", over="ignore"):
            ok: BoolArray = np.abs(submitted - self.values) <= written.half_unit * (1 + 1e-9)
        return ok & (written.digits > 0)

    def consistent(self, submitted: FloatArray, written: Written) -> BoolArray:
        """Each entry within its bound, or right to the digits written: the expected value
        rounds to it. What the diagnosis asks of a candidate answer."""
        with np.errstate(invalid="ignore", over="ignore"):
            ok: BoolArray = np.abs(submitted - self.values) <= self.bound + written.half_unit
        return ok

    def compare(
        self, submitted: FloatArray, *, significant_figures: int | None = None, carry: int = 4
    ) -> Comparison:
        """Each entry judged.

        Accepted: an entry within tolerance; with significant_figures N, also one that is the
        expected value rounded to N significant figures, or to the digits written where at
        least N are written. An update's entry is also accepted when it is right to the digits
        written and those are fine enough to show the step (half a unit at most half the step)
        or number at least ``carry`` (JSON drops trailing zeros: -1.000, the expected -1.00036
        to 4 figures, arrives as -1.0, so equal to the value rounded to ``carry`` figures is
        accepted too); and never when its step goes the wrong way.
        """
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(submitted - self.values)
            flat = np.ravel(error <= self.bound)  # NaN is never within
            wrong_way = None if self.base is None else 0
            if self.base is not None or significant_figures is not None:
                # Only entries outside the tolerance, and an update's entries whose step has
                # the other sign, need a second look at the digits written.
                look = ~flat
                if self.base is not None:
                    look |= np.ravel((submitted - self.base) * (self.values - self.base) < 0)
                if look.any():
                    second, turned = self._second_look(
                        np.ravel(submitted)[look],
                        look,
                        flat[look],
                        significant_figures=significant_figures,
                        carry=carry,
                    )
                    flat[look] = second
                    wrong_way = None if self.base is None else int(np.count_nonzero(turned))
            excess = error / self._divisor
        largest = float(error.max())
        if not math.isfinite(largest):  # a NaN entry is the worst; the largest error is finite
            excess = np.where(np.isnan(error), np.inf, excess)
            finite = error[np.isfinite(error)]
            largest = float(finite.max()) if finite.size else _LARGEST
        at = np.unravel_index(int(np.argmax(excess)), self.values.shape)
        return Comparison(
            accepted=flat.reshape(self.values.shape),
            max_abs_error=_finite(largest),
            worst_index=tuple(int(i) for i in at),
            expected=float(self.values[at]),
            submitted=float(submitted[at]),
            wrong_way=wrong_way,
        )

    @cached_property
    def _divisor(self) -> FloatArray:
        """The bound, never 0: excess = error / divisor ranks the entries by how far out."""
        return np.maximum(self.bound, _TINY)

    def _second_look(
        self,
        submitted: FloatArray,
        look: BoolArray,
        within: BoolArray,
        *,
        significant_figures: int | None,
        carry: int,
    ) -> tuple[BoolArray, BoolArray]:
        """The entries ``look`` picks out of the flat array, looked at again with the digits
        written (compare says which are accepted; ``within``: each already within tolerance);
        and those of an update whose step goes the wrong way: of the other sign than the
        expected step, both larger than the rounding of what was written."""
        values, bound = np.ravel(self.values)[look], np.ravel(self.bound)[look]
        written = Written.of(submitted)
        error = np.abs(submitted - values)
        rounds_to = (error <= written.half_unit * (1 + 1e-9)) & (written.digits > 0)
        accepted = within.copy()
        if significant_figures is not None:
            accepted |= rounds_to & (written.digits >= significant_figures)
            accepted |= _equal(submitted, self._rounded(significant_figures)[look])
        turned = np.zeros(submitted.shape, dtype=bool)
        if self.base is not None:
            base = np.ravel(self.base)[look]
            expected_step, step = values - base, submitted - base
            shows_step = written.half_unit <= 0.5 * np.abs(expected_step)
            accepted |= (error <= bound + written.half_unit) & shows_step
            accepted |= rounds_to & (written.digits >= carry)
            accepted |= _equal(submitted, self._rounded(carry)[look])  # -1.000 arrives as -1.0
            shows = (np.abs(step) > written.half_unit) & (np.abs(expected_step) > written.half_unit)
            turned = shows & (np.sign(step) * np.sign(expected_step) < 0)
            accepted &= ~turned
        return accepted, turned

    def _rounded(self, figures: int) -> FloatArray:
        """Each expected value rounded to so many significant figures (as a student rounds
        it), flat; worked out once per number of figures."""
        cache: dict[int, FloatArray] = self.__dict__.setdefault("_rounded_to", {})
        if figures not in cache:
            cache[figures] = np.array([float(f"{v:.{figures}g}") for v in self.values.flat])
        return cache[figures]


def _equal(a: FloatArray, b: FloatArray) -> BoolArray:
    """Entries equal but for the last bits of the decimal-to-binary conversion."""
    with np.errstate(invalid="ignore"):
        ok: BoolArray = np.abs(a - b) <= 1e-12 * np.abs(b)
    return ok


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


def _finite(value: float) -> float:
    """A reported error, capped at the largest float (an error can overflow; JSON has no inf)."""
    return min(value, _LARGEST)
