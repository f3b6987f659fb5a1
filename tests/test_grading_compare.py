"""Comparisons stay finite and warning-free at the edges of float64 (found by schemathesis)."""

from __future__ import annotations

import numpy as np

from engine.grading.compare import Expected, ExpectedItems, Tolerance

LARGEST = float(np.finfo(np.float64).max)


def test_a_subnormal_expected_value_gives_a_finite_relative_error() -> None:
    comparison = Expected(np.array([5e-324, 1.0]), Tolerance()).compare(np.array([1.0, 1.0]))
    assert comparison.max_relative_error is not None
    assert np.isfinite(comparison.max_relative_error)
    assert comparison.max_relative_error > 1e300
    assert comparison.within == 1


def test_an_error_that_overflows_is_reported_as_the_largest_float() -> None:
    comparison = Expected(np.array([-1e308]), Tolerance()).compare(np.array([1e308]))
    assert comparison.max_abs_error == LARGEST
    assert comparison.within == 0


def test_items_laid_end_to_end_are_compared_alike() -> None:
    items = ExpectedItems([np.array([5e-324]), np.array([[-1e308, 2.0]])], Tolerance())
    flat = items.flatten([np.array([1.0]), np.array([[1e308, 2.0]])])
    first, second = items.compare(flat, [True, True])
    assert first is not None
    assert second is not None
    assert first.max_relative_error is not None
    assert np.isfinite(first.max_relative_error)
    assert second.max_abs_error == LARGEST
    assert (first.within, second.within) == (0, 1)
