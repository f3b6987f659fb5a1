"""Grading a submission against the reference: scores, partial credit, follow-through, diagnoses.

A ``Grader`` is built once per problem: it solves the problem, and the first time an item fails
it computes every mistake's variant (mistakes.py). Any number of submissions can then be graded
against it, which is how /v1/grade/batch grades a whole class for the price of one reference.

Each graded item is missing, of the wrong shape, or compared entry by entry (compare.py): values
within the tolerance of the expected value, updated parameters as steps within the tolerance of
the expected step (never a step the wrong way). It passes when every entry is accepted; its score
is its points, or with partial credit its points times the share of entries accepted.

With follow-through (error carried forward, as physics and chemistry courses grade), an item
that fails is checked again against what it should be given the student's own answers before it
(an update against the student's own gradient, the loss against their outputs, ...); if it is
right by them, it earns its points, so that one early mistake is not charged again and again.

A failed item is diagnosed only when a mistake explains it: the answer the mistake gives matches
the student's entries, to the tolerance or to the digits written, in every item the student
answered that the mistake changes, and in at least one of them the correct values do not match
the entries even allowing for the digits written. Where the correct values do match a failed
item's entries so, and no established mistake does better, the student rounded: no mistake is
named, and a rounding note says what to carry. When several mistakes explain it, all are given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np

from engine import explain
from engine.errors import EngineError
from engine.formulas import Equation
from engine.grading.compare import Comparison, Expected, Tolerance, Written, align
from engine.grading.items import PER_SAMPLE, ItemKey, Quantity, answer_arrays
from engine.grading.mistakes import Mistake, Variant, variants
from engine.network import Backprop
from engine.problem import BackpropProblem
from engine.types import FloatArray

Status = Literal["passed", "failed", "missing"]
Submission = Mapping[ItemKey, FloatArray]
"""The items a student answered, each as the array they wrote (any shape; NaN for an entry
that is not a number)."""

UPDATES: dict[Quantity, str] = {"updated_weights": "weights", "updated_biases": "biases"}
"""The updated parameters, judged as steps from the parameters they update."""


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
class Rounding:
    """A failed item whose entries are right to the digits written: they were rounded too far.

    written : the fewest significant digits among the entries outside the tolerance
    carry : the digits to carry for the tolerance (Tolerance.digits_to_carry)
    """

    written: int
    carry: int


@dataclass(frozen=True)
class ItemGrade:
    """One graded item: its outcome, score and the evidence behind it.

    comparison : None when the item is missing, of the wrong shape or unusable
    diagnoses : the mistakes that explain a failure, each a Variant; more than one when several
        fit equally, none when none does
    follow_through : the student's own item this one was right by, when it earned its points by
        follow-through
    consistent_with : the student's own item this failed one is right by, when follow-through
        is off: the mistake is made there, so none is named here
    rounding : set when the entries outside the tolerance are right to the digits written
    formula : the worked formula of the worst entry (failed items of small networks)
    note : what could not be read of the item (entries that are not numbers)
    Feedback in words is written from these by schemas/grading.py.
    """

    key: ItemKey
    status: Status
    score: float
    max_score: float
    expected_shape: tuple[int, ...]
    submitted_shape: tuple[int, ...] | None
    comparison: Comparison | None
    diagnoses: tuple[Variant, ...] = ()
    follow_through: ItemKey | None = None
    consistent_with: ItemKey | None = None
    rounding: Rounding | None = None
    formula: Equation | None = None
    note: str | None = None

    @property
    def mistakes(self) -> tuple[Mistake, ...]:
        """The mistake(s) named without ambiguity: those of the one diagnosis that fits."""
        return self.diagnoses[0].mistakes if len(self.diagnoses) == 1 else ()


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
        significant_figures: int | None = None,
        follow_through: bool = False,
        worked_formulas: bool = True,
        single_sample: bool = False,
    ) -> None:
        """significant_figures: also accept entries right to the digits written when at least
        this many are written. single_sample: the problem's one sample is a flat list, and so
        are its answers."""
        self.problem = problem
        self.single_sample = single_sample
        self.items = items
        self.tolerance = tolerance or Tolerance()
        self.points = points or Points()
        self.partial_credit = partial_credit
        self.significant_figures = significant_figures
        self.follow_through = follow_through
        self._carry = self.tolerance.digits_to_carry()
        self.result: Backprop = problem.solve()
        self._rows = answer_arrays(self.result)
        self.reference = self._shaped(self._rows)
        self._expected = {key: self._expect(key, self.reference[key]) for key in items}
        self._formulas: dict[tuple[ItemKey, tuple[int, ...]], Equation | None] = {}
        self.worked_formulas = (
            worked_formulas
            and explain.too_large_to_explain(problem.network.widths, problem.n_samples) is None
        )

    def _expect(self, key: ItemKey, values: FloatArray) -> Expected:
        """What an item's entries may be: a value within tolerance, or an update's step."""
        parameter = UPDATES.get(key.quantity)
        if parameter is None or key.layer is None:
            return Expected.value(values, self.tolerance)
        base = getattr(self.problem.network.layers[key.layer], parameter)
        if base.shape != values.shape:  # a variant with another shape: no step to speak of
            return Expected.value(values, self.tolerance)
        return Expected.step(values, base, self.tolerance)

    @cached_property
    def variants(self) -> list[Variant]:
        """Every mistake's answer to this problem, computed the first time it is needed."""
        return [
            replace(v, answers=self._shaped(v.answers)) for v in variants(self.problem, self._rows)
        ]

    @cached_property
    def _variant_expected(self) -> list[dict[ItemKey, Expected]]:
        """For each variant, each item it changes, ready to be compared with."""
        return [
            {key: self._expect(key, values) for key, values in v.answers.items()}
            for v in self.variants
        ]

    def _shaped(self, answers: Mapping[ItemKey, FloatArray]) -> dict[ItemKey, FloatArray]:
        """Answers as the problem writes them: per-sample rows flat for a flat sample."""
        if not self.single_sample:
            return dict(answers)
        return {k: v[0] if k.quantity in PER_SAMPLE else v for k, v in answers.items()}

    # Grading ------------------------------------------------------------------------------------

    def grade(
        self, submission: Submission, notes: Mapping[ItemKey, str] | None = None
    ) -> list[ItemGrade]:
        """Grade one submission, item by item, in the order of ``items``.

        notes : what the intake said of items it could not read in full
        """
        notes = notes or {}
        grades = {key: self._check(key, submission.get(key), notes.get(key)) for key in self.items}
        for key, grade in grades.items():
            if grade.status == "failed" and grade.comparison is not None:
                carried = self._carried_forward(grade, submission)
                if carried is None:
                    continue
                grades[key] = (
                    carried
                    if self.follow_through
                    else replace(grade, consistent_with=carried.follow_through)
                )
        failed = [key for key, g in grades.items() if g.status == "failed"]
        if failed:
            self._diagnose(grades, failed, submission)
        return [self._finished(grades[key]) for key in self.items]

    def _check(self, key: ItemKey, submitted: FloatArray | None, note: str | None) -> ItemGrade:
        expected = self.reference[key]
        points = self.points.of(key)
        if submitted is None:
            return ItemGrade(key, "missing", 0.0, points, expected.shape, None, None, note=note)
        aligned = align(expected, submitted)
        if aligned is None:
            return ItemGrade(
                key, "failed", 0.0, points, expected.shape, submitted.shape, None, note=note
            )
        comparison = self._expected[key].compare(
            aligned, significant_figures=self.significant_figures, carry=self._carry
        )
        if comparison.passed:
            return ItemGrade(
                key,
                "passed",
                points,
                points,
                expected.shape,
                submitted.shape,
                comparison,
                note=note,
            )
        return ItemGrade(
            key, "failed", 0.0, points, expected.shape, submitted.shape, comparison, note=note
        )

    def _finished(self, grade: ItemGrade) -> ItemGrade:
        """The score, and the worked formula of a failure's worst entry (a passed item has
        full marks and a missing one none already)."""
        comparison = grade.comparison
        if grade.status != "failed":
            return grade
        score = 0.0
        if self.partial_credit and comparison is not None:
            # an update rule that goes the wrong way earns nothing, even where a step of 0
            # happens to be right
            score = 0.0 if comparison.wrong_way else grade.max_score * comparison.fraction
        formula = None
        if comparison is not None and self.worked_formulas:
            formula = self._formula(grade.key, comparison.worst_index)
        if score == 0.0 and formula is None:
            return grade
        return replace(grade, score=score, formula=formula)

    # Follow-through -------------------------------------------------------------------------------

    def _carried_forward(self, grade: ItemGrade, submission: Submission) -> ItemGrade | None:
        """The item passed against what it should be given the student's own earlier answer."""
        carried = self._follow_through_values(grade.key, submission)
        if carried is None:
            return None
        source, values = carried
        aligned = align(values, submission[grade.key])
        if aligned is None or values.shape != self.reference[grade.key].shape:
            return None
        comparison = self._expect(grade.key, values).compare(
            aligned, significant_figures=self.significant_figures, carry=self._carry
        )
        if not comparison.passed:
            return None
        return replace(
            grade,
            status="passed",
            score=grade.max_score,
            comparison=comparison,
            follow_through=source,
        )

    def _follow_through_values(
        self, key: ItemKey, submission: Submission
    ) -> tuple[ItemKey, FloatArray] | None:
        """(the student's item it follows from, the item's value given it), where one applies."""
        rule = _FOLLOW_THROUGH.get(key.quantity)
        if rule is None:
            return None
        source = rule.source(key, len(self.problem.network.layers))
        if source is None or source not in submission:
            return None
        own = self._own_rows(source, submission[source])
        if own is None:
            return None
        try:
            with np.errstate(all="ignore"):
                values = rule.compute(self, key, own, submission)
        except EngineError:  # the student's numbers are outside a function's domain
            return None
        if values is None or not np.isfinite(values).all():
            return None
        return source, self._shaped({key: values})[key]

    def _own_rows(self, key: ItemKey, submitted: FloatArray) -> FloatArray | None:
        """A student's item in the reference's shape, per-sample ones as rows; None if it
        does not fit or has entries that are not numbers."""
        aligned = align(self._rows[key], submitted)
        if aligned is None or not np.isfinite(aligned).all():
            return None
        return aligned

    def _a_prev(self, layer: int, submission: Submission) -> FloatArray:
        """a^(l-1) for layers[layer]: the student's activations of the layer below if they gave
        them, else the right ones (x for the first layer)."""
        if layer == 0:
            return self.problem.x
        key = ItemKey("activations", layer - 1)
        own = self._own_rows(key, submission[key]) if key in submission else None
        return own if own is not None else self._rows[key]

    # Diagnosis ------------------------------------------------------------------------------------

    def _diagnose(
        self, grades: dict[ItemKey, ItemGrade], failed: list[ItemKey], submission: Submission
    ) -> None:
        written: dict[ItemKey, Written] = {}

        def written_of(key: ItemKey, values: FloatArray) -> Written:
            if key not in written:
                written[key] = Written.of(values)
            return written[key]

        unexplained, rounded = set(), set()
        for key in failed:
            aligned = align(self.reference[key], submission[key])
            if (
                aligned is not None
                and self._expected[key].consistent(aligned, written_of(key, aligned)).all()
            ):
                rounded.add(key)  # right to the digits written: rounded, not mistaken
            else:
                unexplained.add(key)
        fits: dict[ItemKey, list[tuple[int, int, Variant]]] = {key: [] for key in failed}
        for order, (variant, expected) in enumerate(
            zip(self.variants, self._variant_expected, strict=True)
        ):
            changed = [key for key in expected if key in submission and key in grades]
            if not any(key in unexplained for key in changed):
                continue  # nothing the right values cannot explain: no evidence of a mistake
            if all(self._fits(expected[key], submission[key], key, written_of) for key in changed):
                for key in changed:
                    # an item right by the student's own earlier item (an update by their own
                    # gradient) is named only a mistake made there too, never one of its own
                    source = grades[key].consistent_with
                    if key in fits and (source is None or source in expected):
                        fits[key].append((-len(changed), order, variant))
        for key in failed:
            candidates = fits[key]
            if candidates:
                best = min(c[0] for c in candidates)
                chosen = tuple(v for size, _, v in sorted(candidates) if size == best)
                grades[key] = replace(grades[key], diagnoses=chosen)
            elif key in rounded:
                grades[key] = replace(grades[key], rounding=self._rounding(grades[key], submission))

    def _rounding(self, grade: ItemGrade, submission: Submission) -> Rounding:
        """What was written of the entries outside the tolerance, and what to carry."""
        aligned = align(self.reference[grade.key], submission[grade.key])
        assert aligned is not None
        assert grade.comparison is not None
        digits = Written.of(aligned).digits[~grade.comparison.accepted]
        fewest = int(digits[digits > 0].min()) if (digits > 0).any() else 1
        return Rounding(fewest, self.tolerance.digits_to_carry())

    @staticmethod
    def _fits(
        expected: Expected,
        submitted: FloatArray,
        key: ItemKey,
        written_of: Callable[[ItemKey, FloatArray], Written],
    ) -> bool:
        """Whether a student's item matches a mistake's answer, to the digits written."""
        aligned = align(expected.values, submitted)
        if aligned is None:
            return False
        return bool(expected.consistent(aligned, written_of(key, aligned)).all())

    # Worked formulas ------------------------------------------------------------------------------

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


# What an item should be given the student's own earlier item ------------------------------------


@dataclass(frozen=True)
class _Carried:
    """A follow-through rule: the item it follows from, and how to compute the item from it."""

    source: Callable[[ItemKey, int], ItemKey | None]
    compute: Callable[[Grader, ItemKey, FloatArray, Submission], FloatArray | None]


def _step(g: Grader) -> float:
    p = g.problem
    return p.learning_rate if p.ascent else -p.learning_rate


def _updated(parameter: str) -> Callable[[Grader, ItemKey, FloatArray, Submission], FloatArray]:
    def compute(g: Grader, key: ItemKey, own: FloatArray, _: Submission) -> FloatArray:
        assert key.layer is not None
        base: FloatArray = getattr(g.problem.network.layers[key.layer], parameter)
        return base + _step(g) * own.reshape(base.shape)

    return compute


def _weight_gradient(g: Grader, key: ItemKey, deltas: FloatArray, s: Submission) -> FloatArray:
    assert key.layer is not None
    return g.problem.network.layout.gradient(g._a_prev(key.layer, s), deltas)


def _bias_gradient(g: Grader, key: ItemKey, deltas: FloatArray, _: Submission) -> FloatArray:
    total: FloatArray = deltas.sum(axis=0)
    return total


def _activations(g: Grader, key: ItemKey, z: FloatArray, _: Submission) -> FloatArray:
    layer = len(g.problem.network.layers) - 1 if key.layer is None else key.layer
    return g.problem.network.layers[layer].activation.forward(z)


def _loss(g: Grader, key: ItemKey, outputs: FloatArray, _: Submission) -> FloatArray:
    return np.asarray(g.problem.loss.value(outputs, g.problem.y), dtype=np.float64)


def _hidden_delta(g: Grader, key: ItemKey, above: FloatArray, _: Submission) -> FloatArray | None:
    """delta^l = f'(z^l) * (delta^(l+1) W^(l+1)^T), with the student's delta^(l+1)."""
    assert key.layer is not None
    network, forward = g.problem.network, g.result.forward
    W_above = network.layout.as_in_out(network.layers[key.layer + 1].weights)
    upstream: FloatArray = above.dot(W_above.T)
    z, a = forward.pre_activations[key.layer], forward.activations[key.layer]
    return network.layers[key.layer].activation.vjp(z, a, upstream)


def _same_layer(quantity: Quantity) -> Callable[[ItemKey, int], ItemKey | None]:
    return lambda key, _: ItemKey(quantity, key.layer)


def _last_layer(quantity: Quantity) -> Callable[[ItemKey, int], ItemKey | None]:
    return lambda _, n_layers: ItemKey(quantity, n_layers - 1)


def _layer_above(key: ItemKey, n_layers: int) -> ItemKey | None:
    assert key.layer is not None
    return ItemKey("deltas", key.layer + 1) if key.layer + 1 < n_layers else None


_FOLLOW_THROUGH: dict[Quantity, _Carried] = {
    "updated_weights": _Carried(_same_layer("weight_gradients"), _updated("weights")),
    "updated_biases": _Carried(_same_layer("bias_gradients"), _updated("biases")),
    "weight_gradients": _Carried(_same_layer("deltas"), _weight_gradient),
    "bias_gradients": _Carried(_same_layer("deltas"), _bias_gradient),
    "deltas": _Carried(_layer_above, _hidden_delta),
    "activations": _Carried(_same_layer("pre_activations"), _activations),
    "outputs": _Carried(_last_layer("pre_activations"), _activations),
    "loss": _Carried(lambda _, __: ItemKey("outputs"), _loss),
}
"""Each item's follow-through: the item of the student's it is computed from, and how."""
