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

from engine import explain
from engine.conventions import WeightLayout
from engine.grading.compare import Comparison, Tolerance, align, compare
from engine.grading.items import PER_SAMPLE, ItemKey, Quantity, answer_arrays
from engine.grading.mistakes import Mistake, Variant, variants
from engine.grading.problem import BackpropProblem
from engine.network import Backprop
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
    (for failed items of small networks).
    """

    key: ItemKey
    status: Status
    score: float
    max_score: float
    expected_shape: tuple[int, ...]
    submitted_shape: tuple[int, ...] | None
    comparison: Comparison | None
    mistakes: tuple[Mistake, ...]
    formula: explain.Formula | None
    feedback: str


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
        self.worked_formulas = (
            worked_formulas
            and explain.too_large_to_explain(problem.network, problem.n_samples) is None
        )

    @cached_property
    def variants(self) -> list[Variant]:
        """Every mistake's answer to this problem, computed the first time it is needed."""
        return [
            replace(v, answers=self._shaped(v.answers)) for v in variants(self.problem, self._rows)
        ]

    def _shaped(self, answers: Mapping[ItemKey, FloatArray]) -> dict[ItemKey, FloatArray]:
        """Answers as the problem writes them: per-sample rows flat for a flat sample."""
        if not self.single_sample:
            return dict(answers)
        return {k: v[0] if k.quantity in PER_SAMPLE else v for k, v in answers.items()}

    def grade(self, submission: Submission) -> list[ItemGrade]:
        """Grade one submission, item by item, in the order of ``items``."""
        checked = {key: self._check(key, submission.get(key)) for key in self.items}
        failed = [k for k, c in checked.items() if c.status == "failed"]
        diagnoses = self._diagnose(failed, submission) if failed else {}
        return [self._graded(key, checked[key], diagnoses.get(key)) for key in self.items]

    # Steps -------------------------------------------------------------------------------------

    def _check(self, key: ItemKey, submitted: FloatArray | None) -> _Check:
        expected = self.reference[key]
        if submitted is None:
            return _Check("missing", expected, None, None)
        aligned = align(expected, submitted)
        if aligned is None:
            return _Check("failed", expected, submitted, None)
        comparison = compare(expected, aligned, self.tolerance)
        return _Check("passed" if comparison.passed else "failed", expected, submitted, comparison)

    def _matches(self, variant: Variant, key: ItemKey, submitted: FloatArray) -> bool:
        expected = variant.answers.get(key, self.reference[key])
        aligned = align(expected, submitted)
        return aligned is not None and self.tolerance.accepts(expected, aligned)

    def _diagnose(self, failed: list[ItemKey], submission: Submission) -> dict[ItemKey, Variant]:
        """For each failed item, the variant that matches it and most of the submission."""
        candidates = {
            key: [
                v
                for v in self.variants
                if key in v.answers and self._matches(v, key, submission[key])
            ]
            for key in failed
        }
        support: dict[int, int] = {}
        for found in candidates.values():
            for variant in found:
                if id(variant) not in support:
                    support[id(variant)] = sum(
                        self._matches(variant, key, submission[key])
                        for key in self.items
                        if key in submission
                    )
        order = {id(v): i for i, v in enumerate(self.variants)}
        return {
            key: max(found, key=lambda v: (support[id(v)], -order[id(v)]))
            for key, found in candidates.items()
            if found
        }

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
            feedback=_feedback(
                key,
                check,
                tolerance=self.tolerance,
                variant=variant,
                formula=formula,
                layout=self.problem.network.layout,
            ),
        )

    def _formula(self, key: ItemKey, index: tuple[int, ...]) -> explain.Formula | None:
        if key.layer is None or key.quantity not in explain.EXPLAINED:
            return None
        if key.quantity in PER_SAMPLE and len(index) == 1:
            index = (0, *index)
        p = self.problem
        return explain.explain_entry(
            p.network,
            p.x,
            p.y,
            p.loss,
            self.result,
            learning_rate=p.learning_rate,
            ascent=p.ascent,
            quantity=key.quantity,
            layer=key.layer,
            index=index,
        )


@dataclass(frozen=True)
class _Check:
    status: Status
    expected: FloatArray
    submitted: FloatArray | None
    comparison: Comparison | None


# Feedback, in words a student understands -------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a single number"
    return (
        f"shape ({', '.join(str(n) for n in shape)})" if len(shape) > 1 else f"{shape[0]} numbers"
    )


def _entry(key: ItemKey, index: tuple[int, ...], layout: WeightLayout) -> str:
    """Where an entry is, in JSON indices and in words: "[0][1] (sample 1, unit 2)"."""
    if not index:
        return "the value"
    where = "".join(f"[{i}]" for i in index)
    if key.quantity in PER_SAMPLE and len(index) == 2:
        return f"{where} (sample {index[0] + 1}, unit {index[1] + 1})"
    if len(index) == 1:
        return f"{where} (unit {index[0] + 1})"
    j, k = index if layout is WeightLayout.IN_OUT else index[::-1]
    assert key.layer is not None
    return f"{where} (w^{key.layer + 1}_({j + 1},{k + 1}), from unit {j + 1} below to unit {k + 1})"


def _feedback(
    key: ItemKey,
    check: _Check,
    *,
    tolerance: Tolerance,
    variant: Variant | None,
    formula: explain.Formula | None,
    layout: WeightLayout,
) -> str:
    expected = check.expected
    if check.status == "missing":
        return f"missing: the answer has no {key.name} (expected {_shape(expected.shape)})"
    comparison = check.comparison
    if comparison is None:
        assert check.submitted is not None
        lines = [
            f"wrong shape: expected {_shape(expected.shape)}, "
            f"the answer has {_shape(check.submitted.shape)}"
        ]
    elif comparison.passed:
        if comparison.entries == 1:
            return "correct: within tolerance"
        return f"correct: all {comparison.entries} entries within tolerance"
    else:
        outside = comparison.entries - comparison.within
        lines = [
            f"{outside} of {comparison.entries} entries outside the tolerance "
            f"(rtol {tolerance.rtol:g}, atol {tolerance.atol:g}); the furthest off is "
            f"{_entry(key, comparison.worst_index, layout)}: expected {comparison.expected:.6g}, "
            f"the answer has {comparison.submitted:.6g}"
            if comparison.entries > 1
            else f"expected {comparison.expected:.6g}, the answer has {comparison.submitted:.6g} "
            f"(rtol {tolerance.rtol:g}, atol {tolerance.atol:g})"
        ]
    if variant is not None:
        lines.append(f"This is what you get when {variant.description}.")
    if formula is not None:
        lines.append(f"Worked formula: {formula.text}")
    return "\n".join(lines)
