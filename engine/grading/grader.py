"""Grading a submission against the reference answer: scores, partial credit and diagnoses.

A ``Grader`` is built once per problem: it solves the problem, and the first time an item
fails it computes every mistake's variant (mistakes.py). Any number of submissions can then
be graded against it, which is how /v1/grade/batch grades a whole class for the price of one
reference.

For each graded item the submission is either missing, of the wrong shape, or compared entry
by entry (compare.py). An item passes when every entry is within tolerance. Its score is its
points when it passes and 0 otherwise; with partial credit, the points times the share of
entries within tolerance. A failed item is diagnosed when its numbers match a mistake's
variant: of the variants that match it, the one that matches most of the submission's items
is named, so that a wrong sign in delta^L explains the gradients and updates that follow
from it, and an update with + is not mistaken for a sign error that did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engine import explain
from engine.formulas import Equation
from engine.grading.compare import Comparison, Expected, ExpectedItems, Tolerance, align
from engine.grading.items import PER_SAMPLE, ItemKey, Quantity, answer_arrays
from engine.grading.mistakes import Mistake, Variant, variants
from engine.network import Backprop
from engine.problem import BackpropProblem
from engine.types import FloatArray

Status = Literal["passed", "failed", "missing"]
Submission = Mapping[ItemKey, FloatArray]
"""The items a student answered, each as the array they wrote (any shape)."""


@dataclass(frozen=True)
class Points:
    """What each item is worth: the first of its id, its quantity, its layer, or the default."""

    default: float = 1.0
    quantities: Mapping[Quantity, float] = field(default_factory=dict)
    layers: tuple[float, ...] | None = None
    items: Mapping[str, float] = field(default_factory=dict)

    def of(self, key: ItemKey) -> float:
        if key.id in self.items:
            return self.items[key.id]
        if key.quantity in self.quantities:
            return self.quantities[key.quantity]
        if self.layers is not None and key.layer is not None:
            return self.layers[key.layer]
        return self.default


@dataclass(frozen=True)
class ItemGrade:
    """One graded item: its outcome, score and the evidence behind it.

    comparison is None when the item is missing or has the wrong shape; mistakes is empty
    when no mistake explains a failure; formula is the worked formula of the worst entry
    (for failed items of small networks). Feedback in words is written from these by
    schemas/grading.py.
    """

    key: ItemKey
    status: Status
    score: float
    max_score: float
    expected_shape: tuple[int, ...]
    submitted_shape: tuple[int, ...] | None
    comparison: Comparison | None
    mistakes: tuple[Mistake, ...]
    formula: Equation | None


class Grader:
    """The reference answer to one problem, and what it takes to grade submissions against it."""

    def __init__(
        self,
        problem: BackpropProblem,
        items: list[ItemKey],
        *,
        tolerance: Tolerance | None = None,
        points: Points | None = None,
        partial_credit: bool = False,
        worked_formulas: bool = True,
        single_sample: bool = False,
    ) -> None:
        """single_sample: the problem's one sample is a flat list, and so are its answers."""
        self.problem = problem
        self.single_sample = single_sample
        self.items = items
        self.tolerance = tolerance or Tolerance()
        self.points = points or Points()
        self.partial_credit = partial_credit
        self.result: Backprop = problem.solve()
        self._rows = answer_arrays(self.result)
        self.reference = self._shaped(self._rows)
        self._expected = ExpectedItems([self.reference[key] for key in items], self.tolerance)
        self._formulas: dict[tuple[ItemKey, tuple[int, ...]], Equation | None] = {}
        self.worked_formulas = (
            worked_formulas
            and explain.too_large_to_explain(problem.network.widths, problem.n_samples) is None
        )

    @cached_property
    def variants(self) -> list[Variant]:
        """Every mistake's answer to this problem, computed the first time it is needed."""
        return [
            replace(v, answers=self._shaped(v.answers)) for v in variants(self.problem, self._rows)
        ]

    @cached_property
    def _variant_items(self) -> list[_PreparedVariant]:
        """Each variant ready to be compared with (see _PreparedVariant)."""
        prepared = []
        for v in self.variants:
            other_shape = [
                (i, Expected(v.answers[key], self.tolerance))
                for i, key in enumerate(self.items)
                if key in v.answers and v.answers[key].shape != self.reference[key].shape
            ]
            apart = {i for i, _ in other_shape}
            arrays = [
                self.reference[key] if i in apart else v.answers.get(key, self.reference[key])
                for i, key in enumerate(self.items)
            ]
            changes = np.array([key in v.answers for key in self.items])
            prepared.append(
                _PreparedVariant(ExpectedItems(arrays, self.tolerance), other_shape, changes)
            )
        return prepared

    def _shaped(self, answers: Mapping[ItemKey, FloatArray]) -> dict[ItemKey, FloatArray]:
        """Answers as the problem writes them: per-sample rows flat for a flat sample."""
        if not self.single_sample:
            return dict(answers)
        return {k: v[0] if k.quantity in PER_SAMPLE else v for k, v in answers.items()}

    def grade(self, submission: Submission) -> list[ItemGrade]:
        """Grade one submission, item by item, in the order of ``items``."""
        submitted = [submission.get(key) for key in self.items]
        aligned = [
            None if s is None else align(self.reference[key], s)
            for key, s in zip(self.items, submitted, strict=True)
        ]
        flat = self._expected.flatten(aligned)
        comparisons = self._expected.compare(flat, [a is not None for a in aligned])
        checks = [
            _Check(_status(s, c), self.reference[key], s, c)
            for key, s, c in zip(self.items, submitted, comparisons, strict=True)
        ]
        failed = [i for i, check in enumerate(checks) if check.status == "failed"]
        diagnoses = self._diagnose(failed, submitted, flat) if failed else {}
        return [
            self._graded(key, check, diagnoses.get(i))
            for i, (key, check) in enumerate(zip(self.items, checks, strict=True))
        ]

    # Steps -------------------------------------------------------------------------------------

    def _diagnose(
        self, failed: list[int], submitted: list[FloatArray | None], flat: FloatArray
    ) -> dict[int, Variant]:
        """For each failed item (by position), the variant that matches it and most of the
        submission."""
        answered = np.array([s is not None for s in submitted])
        failed_mask = np.zeros(len(self.items), dtype=bool)
        failed_mask[failed] = True
        best: dict[int, tuple[tuple[int, int], Variant]] = {}
        for order, (variant, prepared) in enumerate(
            zip(self.variants, self._variant_items, strict=True)
        ):
            matches = prepared.items.accepts(flat)
            for i, expected in prepared.other_shape:
                answer = submitted[i]
                shaped = None if answer is None else align(expected.values, answer)
                matches[i] = shaped is not None and expected.accepts(shaped)
            explained = np.flatnonzero(matches & prepared.changes & failed_mask)
            if explained.size == 0:
                continue
            rank = (int(np.count_nonzero(matches & answered)), -order)
            for i in explained.tolist():
                if i not in best or rank > best[i][0]:
                    best[i] = (rank, variant)
        return {i: variant for i, (_, variant) in best.items()}

    def _graded(self, key: ItemKey, check: _Check, variant: Variant | None) -> ItemGrade:
        max_score = self.points.of(key)
        comparison = check.comparison
        if check.status == "passed":
            score = max_score
        elif self.partial_credit and comparison is not None:
            score = max_score * comparison.fraction
        else:
            score = 0.0
        formula = None
        if check.status == "failed" and comparison is not None and self.worked_formulas:
            formula = self._formula(key, comparison.worst_index)
        mistakes = variant.mistakes if variant is not None else ()
        return ItemGrade(
            key=key,
            status=check.status,
            score=score,
            max_score=max_score,
            expected_shape=check.expected.shape,
            submitted_shape=None if check.submitted is None else check.submitted.shape,
            comparison=comparison,
            mistakes=mistakes,
            formula=formula,
        )

    def _formula(self, key: ItemKey, index: tuple[int, ...]) -> Equation | None:
        """The worked formula of one entry of the reference (the same for every student)."""
        if (key, index) not in self._formulas:
            self._formulas[key, index] = self._work_out(key, index)
        return self._formulas[key, index]

    def _work_out(self, key: ItemKey, index: tuple[int, ...]) -> Equation | None:
        if key.layer is None or key.quantity not in explain.EXPLAINED:
            return None
        if key.quantity in PER_SAMPLE and len(index) == 1:
            index = (0, *index)
        return explain.explain_entry(self.problem, self.result, key.quantity, key.layer, index)


@dataclass(frozen=True)
class _PreparedVariant:
    """A variant ready to be compared with: the items of the reference's shape end to end,
    the items of another shape apart (a transposed gradient, say) by position, and which
    items the variant changes."""

    items: ExpectedItems
    other_shape: list[tuple[int, Expected]]
    changes: NDArray[np.bool_]


def _status(submitted: FloatArray | None, comparison: Comparison | None) -> Status:
    if submitted is None:
        return "missing"
    return "passed" if comparison is not None and comparison.passed else "failed"


@dataclass(frozen=True)
class _Check:
    status: Status
    expected: FloatArray
    submitted: FloatArray | None
    comparison: Comparison | None
