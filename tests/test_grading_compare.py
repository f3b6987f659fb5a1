"""Comparisons entry by entry: tolerances, steps, the digits written, and the edges of float64."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.grading.compare import Expected, Tolerance, Written

LARGEST = float(np.finfo(np.float64).max)
TOLERANCE = Tolerance(rtol=0.01, atol=1e-4)


def test_a_subnormal_expected_value_gives_a_finite_comparison() -> None:
    comparison = Expected.value(np.array([5e-324, 1.0]), TOLERANCE).compare(np.array([1.0, 1.0]))
    assert np.isfinite(comparison.max_abs_error)
    assert comparison.within == 1


def test_an_error_that_overflows_is_reported_as_the_largest_float() -> None:
    comparison = Expected.value(np.array([-1e308]), TOLERANCE).compare(np.array([1e308]))
    assert comparison.max_abs_error == LARGEST
    assert comparison.within == 0


@pytest.mark.parametrize(
    ("value", "digits", "half_unit"),
    [(0.0105, 3, 0.00005), (0.7025, 4, 0.00005), (-1.5e-05, 2, 0.5e-6), (120.0, 3, 0.5),
     (0.010487512743329588, 17, 0.5e-18), (3.0, 1, 0.5), (0.0, 0, 0.0)],
)  # fmt: skip
def test_the_digits_written_are_read_from_the_shortest_form(
    value: float, digits: int, half_unit: float
) -> None:
    """A whole number's last digit is its units (120: 3 digits); JSON keeps no other trailing
    zeros (0.0100 arrives as 0.01: 1 digit)."""
    written = Written.of(np.array([value]))
    assert written.digits[0] == digits
    assert written.half_unit[0] == pytest.approx(half_unit, rel=1e-9)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_digits_written_agree_with_pythons_decimal_reading(value: float) -> None:
    """The oracle: Decimal's (digits, exponent) of the shortest repr, a whole number's ".0"
    dropped; 0 has no readable precision."""
    written = Written.of(np.array([value]))
    if value == 0.0:
        assert (written.digits[0], written.half_unit[0]) == (0, 0.0)
        return
    _, digits, exponent = Decimal(repr(value).removesuffix(".0")).as_tuple()
    assert isinstance(exponent, int)
    assert written.digits[0] == len(digits)
    assert written.half_unit[0] == 0.5 * 10.0**exponent


def test_an_update_is_judged_as_its_step_not_against_the_new_weight() -> None:
    """w = 0.7, step -eta g = -0.0025: w' = 0.6975. Relative to |w'| a 1% tolerance is 0.007,
    wider than the step itself; relative to the step, only a right step passes."""
    w, expected = np.array([0.7]), np.array([0.6975])
    update = Expected.step(expected, w, TOLERANCE)
    assert update.compare(np.array([0.6975])).passed
    assert update.compare(np.array([0.69750001])).passed
    assert not update.compare(np.array([0.7025])).passed  # the same step the other way
    assert not update.compare(np.array([0.7])).passed  # no step at all
    assert Expected.value(expected, TOLERANCE).compare(np.array([0.7])).passed  # as it was


def test_a_step_the_wrong_way_never_passes_and_is_counted() -> None:
    w = np.array([0.7, 0.2])
    update = Expected.step(np.array([0.6975, 0.1995]), w, TOLERANCE)
    comparison = update.compare(np.array([0.7025, 0.2005]))
    assert comparison.within == 0
    assert comparison.wrong_way == 2


def test_an_update_right_to_4_significant_figures_passes() -> None:
    """w = 1.23456, step -0.00012: w' = 1.23444. Written to 4 figures (1.234), too coarse to
    show the step, it is still a right answer carried to 4 figures; to 3 (1.23) it is not."""
    w = np.array([1.23456])
    update = Expected.step(np.array([1.23444]), w, TOLERANCE)
    assert update.compare(np.array([1.2344])).passed
    assert update.compare(np.array([1.234])).passed
    assert not update.compare(np.array([1.23])).passed
    trailing = Expected.step(np.array([-1.00036]), np.array([-1.0]), TOLERANCE)
    assert trailing.compare(np.array([-1.0])).passed  # -1.000 as written, -1.0 once parsed
    big_step = Expected.step(np.array([0.70249]), np.array([0.7]), TOLERANCE)
    assert big_step.compare(np.array([0.7025])).passed  # 4 digits of 0.70249


def test_significant_figures_accepts_the_value_rounded_to_the_digits_written() -> None:
    expected = Expected.value(np.array([0.013487, 0.7689]), TOLERANCE)
    rounded = np.array([0.013, 0.77])  # 2 significant figures each: 3.6% and 0.14% off
    assert not expected.compare(rounded).passed
    assert expected.compare(rounded, significant_figures=2).passed
    assert not expected.compare(rounded, significant_figures=3).passed
    assert not expected.compare(np.array([0.014, 0.77]), significant_figures=2).passed
