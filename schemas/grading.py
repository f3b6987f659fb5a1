"""POST /v1/grade and /v1/grade/batch: a problem, a student's answer (or a class's), the report.

    {"problem": {... a /v1/backprop request ...},
     "submission": {"loss": 0.43, "layers": [{}, {"deltas": [[-0.0077, 0.064]]}]},
     "quantities": ["deltas"], "tolerance": {"rtol": 0.01, "atol": 0.0001},
     "points": {"quantities": {"deltas": 2}}, "partial_credit": true, "format": "gradescope"}

The problem and the options are the instructor's, checked as strictly as any request. The
submission is the student's: any subset of a /v1/backprop answer, as an object or as the text
of the student's file, read forgivingly (schemas/intake.py): a stray key, a null entry, a wrong
shape or an extra layer is reported in the graded answer, never a 422, and only text that is
not JSON at all makes a report that says it could not be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, NoReturn

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self  # typing.Self from Python 3.11 on

import engine
from engine.grading import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    QUANTITIES,
    Comparison,
    Grader,
    ItemGrade,
    ItemKey,
    Quantity,
    Tolerance,
    all_items,
)
from engine.grading.grader import UPDATES
from engine.grading.items import PER_SAMPLE
from schemas import picture
from schemas.arrays import NonNegativeFloat
from schemas.errors import MAX_PROBLEMS, excerpt
from schemas.gradebook import GradedItem, Rendered, ReportFormat, report, summary, unreadable
from schemas.requests import BackpropRequest
from schemas.worked import Formula, written

MAX_SUBMISSIONS = 5000
"""Submissions in one /v1/grade/batch request."""

MAX_GRADING_WORK = 50_000_000
"""Multiply-adds of the problem's forward pass (samples x weights): grading solves the problem
under every mistake, so its work is bounded far below max_work (0.2 s here at the limit)."""
MAX_GRADING_ANSWER_VALUES = 200_000
"""Numbers in the problem's answer, and so in a complete student answer to it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# What a student hands in ------------------------------------------------------------------------

SUBMISSION_SCHEMA: dict[str, Any] = {
    "description": "the student's answer: any subset of a /v1/backprop answer (loss, outputs, "
    "layers[i] with any of pre_activations, activations, deltas, weight_gradients, "
    "bias_gradients, updated_weights, updated_biases), as an object, or the text of the "
    "student's file. Any JSON value is accepted and read forgivingly (docs/grading.md): what "
    "cannot be graded is reported in the answer, never refused",
    "example": {"loss": 0.4322, "layers": [{}, {"deltas": [[-0.00771, 0.06405]]}]},
}

Answer = Annotated[Any, WithJsonSchema(SUBMISSION_SCHEMA)]


# How to grade it ---------------------------------------------------------------------------------


class ToleranceSpec(_Strict):
    """An entry is correct when |submitted - expected| <= atol + rtol |expected|."""

    rtol: NonNegativeFloat = Field(
        default=DEFAULT_RTOL,
        description="relative to the expected value; 1% suits answers carried by hand with "
        "3 to 4 significant figures, and no mistake the grader names is that close",
    )
    atol: NonNegativeFloat = Field(
        default=DEFAULT_ATOL,
        description="for entries at or near 0; 1e-4 accepts an answer rounded to 4 decimals",
    )


MAX_POINTS = 1e6
"""An item's points at most: a total of any number of items stays a finite score."""

Points = Annotated[NonNegativeFloat, Field(le=MAX_POINTS)]


class PointsSpec(_Strict):
    """Points per item (0 to 1,000,000): an item's id first, then its quantity, its layer, and
    the default."""

    default: Points = Field(default=1.0, description="points of every other item")
    quantities: dict[Quantity, Points] = Field(
        default_factory=dict, description='per quantity, e.g. {"deltas": 2}'
    )
    layers: list[Points] | None = Field(
        default=None, description="per layer: layers[i] is the points of each item of layer i + 1"
    )
    items: dict[str, Points] = Field(
        default_factory=dict, description='per item id, e.g. {"layers[1].deltas": 3, "loss": 1}'
    )


class GradingOptions(_Strict):
    """What /v1/grade and /v1/grade/batch share: the problem and how to grade answers to it."""

    problem: BackpropRequest = Field(description="a /v1/backprop request: the exercise")
    quantities: Annotated[list[Quantity], Field(min_length=1)] = Field(
        default_factory=lambda: list(QUANTITIES),
        description="what the exercise asks for; an item the answer leaves out is missing",
    )
    tolerance: ToleranceSpec = Field(default_factory=ToleranceSpec)
    points: PointsSpec = Field(default_factory=PointsSpec)
    partial_credit: StrictBool = Field(
        default=False,
        description="an item that fails earns its points times the share of entries within "
        "tolerance (otherwise nothing)",
    )
    worked_formulas: StrictBool = Field(
        default=True,
        description="feedback on a wrong entry shows its worked formula (small networks only)",
    )
    show_expected: StrictBool = Field(
        default=True,
        description="feedback shows the expected value of the furthest-off entry and its worked "
        "formula; false for graded work with resubmissions: it says only which entries are "
        "wrong (sample, unit) and the mistake named, and no expected value appears anywhere",
    )
    significant_figures: Annotated[int, Field(strict=True, ge=1, le=17)] | None = Field(
        default=None,
        description="also accept an entry that is the right value rounded to the digits the "
        "student wrote, when they wrote at least this many significant figures",
    )
    follow_through: StrictBool = Field(
        default=False,
        description="error carried forward: an item wrong against the reference but right given "
        "the student's own earlier answer (an update from their gradient, the loss from their "
        "outputs, ...) earns its points",
    )
    format: ReportFormat = Field(default="native", description="native, gradescope or prairielearn")
    feedback_format: picture.FeedbackFormat = Field(
        default="text",
        description="text (the default), or html or markdown: the report drawn for people, with "
        "an SVG of the network on which every graded item is marked (passed, failed, missing) "
        "and every wrong entry listed is marked on its unit or weight, the mistake named. "
        "native: items' feedback in that format and the whole report in rendered; gradescope: "
        "output_format html or md, the picture in the top-level output; prairielearn: the "
        "picture in images, as a data: URI (its messages stay text). HTML and Markdown hold the "
        "SVG inline. No expected value is drawn, and with show_expected false none "
        "appears at all (docs/grading.md)",
    )

    def _check_options(self) -> None:
        work, values = self.problem.cost()
        if work > MAX_GRADING_WORK or values > MAX_GRADING_ANSWER_VALUES:
            _fail(
                "limit_exceeded",
                f"the problem is too large to grade: grading solves it once per mistake it "
                f"looks for, so a problem may take at most {MAX_GRADING_WORK:,} multiply-adds "
                f"(samples x weights; this one {work:,}) and its answer at most "
                f"{MAX_GRADING_ANSWER_VALUES:,} numbers (this one {values:,})",
            )
        n_layers = len(self.problem.network.layers)
        layers = self.points.layers
        if layers is not None and len(layers) != n_layers:
            _fail(
                "shape_mismatch",
                f"points.layers has {len(layers)} entries but the network has {n_layers} layers",
            )
        ids = {key.id for key in all_items(n_layers)}
        for item in self.points.items:
            if item not in ids:
                _fail(
                    "unknown_item",
                    f'points.items names "{excerpt(item)}", which is not an item of this problem '
                    f'(items are "loss", "outputs" and "layers[i].deltas" with i from 0 to '
                    f"{n_layers - 1}, and so on)",
                )


class GradeRequest(GradingOptions):
    """POST /v1/grade: one answer to one problem."""

    submission: Answer

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._check_options()
        return self


class Handin(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the student's id, echoed in the answer"
    )
    submission: Answer


class BatchGradeRequest(GradingOptions):
    """POST /v1/grade/batch: a whole class's answers to one problem."""

    submissions: Annotated[list[Handin], Field(min_length=1, max_length=MAX_SUBMISSIONS)]

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._check_options()
        seen: set[str] = set()
        for i, handin in enumerate(self.submissions):
            if handin.id in seen:
                _fail("duplicate_id", f'submissions[{i}].id "{excerpt(handin.id)}" appears twice')
            seen.add(handin.id)
        if self.feedback_format != "text":
            self._check_drawn_size()
        return self

    def _check_drawn_size(self) -> None:
        """A picture in every report: the class must fit picture.MAX_DRAWN_BATCH_BYTES."""
        problem = self.problem
        keys = all_items(len(problem.network.layers), tuple(self.quantities))
        largest = picture.largest_report(
            tuple(problem.widths()),
            problem.n_samples,
            problem.single_sample,
            problem.layout,
            tuple(keys),
        )
        fits = max(1, picture.MAX_DRAWN_BATCH_BYTES // largest)
        if len(self.submissions) > fits:
            _fail(
                "too_many_drawn",
                f"feedback_format {self.feedback_format} draws the network in every report, up "
                f"to {largest / 1024:.0f} KB each for this problem: at most {fits} submissions "
                f"fit in one batch, and {len(self.submissions)} were sent; grade the class in "
                f"batches of {fits} (or with feedback_format text)",
            )


# The answers -------------------------------------------------------------------------------------

MAX_LISTED = 5
"""Wrong entries named one by one in feedback; the others are counted."""


def report_of(
    grader: Grader,
    grades: list[ItemGrade],
    options: GradingOptions,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The engine's grades as one report in the format asked for, with feedback in words (and
    drawn on the network, for feedback_format html or markdown)."""
    show_expected = options.show_expected
    items = [_graded_item(grader, g, show_expected=show_expected) for g in grades]
    if options.feedback_format == "text":
        return report(items, options.format, warnings)
    drawn = picture.rendered(
        options.feedback_format,
        picture.NetworkView.of(grader.problem),
        [(item, _marks(g, show_expected)) for item, g in zip(items, grades, strict=True)],
        summary=summary(items),
        warnings=warnings,
    )
    return report(items, options.format, warnings, drawn)


def unreadable_report(grader: Grader, options: GradingOptions, reason: str) -> dict[str, Any]:
    """The report of an answer that is not JSON at all: nothing graded, the reason said."""
    max_score = sum(grader.points.of(key) for key in grader.items)
    message = f"The answer could not be read, so it was not graded: {reason}"
    drawn: Rendered | None = None
    if options.feedback_format != "text":
        drawn = picture.rendered_message(options.feedback_format, message)
    return unreadable(message, options.format, max_score, drawn)


def _marks(grade: ItemGrade, show_expected: bool) -> picture.Marks:
    """What the picture marks of an item: the wrong entries the report lists, and why."""
    c = grade.comparison
    wrong = tuple(_wrong(c)) if c is not None else ()
    shapes = None
    if c is None and grade.submitted_shape is not None and grade.note is None:
        shapes = (grade.expected_shape, grade.submitted_shape)
    worst = None
    if show_expected and c is not None and not c.passed:
        worst = (tuple(c.worst_index), c.expected, c.submitted)
    return picture.Marks(
        key=grade.key,
        name=grade.key.name,
        status=grade.status,
        score=grade.score,
        max_score=grade.max_score,
        wrong=wrong,
        unlisted=0 if c is None or c.passed else c.entries - c.within - len(wrong),
        compared=c is not None,
        diagnoses=tuple(tuple((m.id, m.description) for m in v.mistakes) for v in grade.diagnoses),
        shapes=shapes,
        worst=worst,
        carry=grade.rounding.carry if grade.rounding is not None else None,
        follow_through=(
            ItemKey(*grade.follow_through).name if grade.follow_through is not None else None
        ),
        note=grade.note,
    )


def _graded_item(grader: Grader, grade: ItemGrade, *, show_expected: bool) -> GradedItem:
    formula = _written(grade.formula) if grade.formula is not None and show_expected else None
    details: dict[str, Any] = {"id": grade.key.id, "expected_shape": list(grade.expected_shape)}
    if grade.submitted_shape is not None:
        details["submitted_shape"] = list(grade.submitted_shape)
    c = grade.comparison
    if c is not None:
        details["entries"] = c.entries
        details["entries_within_tolerance"] = c.within
        details["wrong_entries"] = [list(i) for i in _wrong(c)]
        if c.wrong_way:
            details["wrong_way"] = c.wrong_way
        if show_expected:
            details["max_abs_error"] = c.max_abs_error
            details["worst_entry"] = {
                "index": list(c.worst_index),
                "expected": c.expected,
                "submitted": c.submitted,
            }
    if grade.diagnoses:
        details["mistakes"] = [
            {"id": m.id, "description": m.description}
            for variant in grade.diagnoses
            for m in variant.mistakes
        ]
    if grade.follow_through is not None:
        details["follow_through"] = grade.follow_through.id
    if grade.rounding is not None:
        details["rounding"] = {
            "digits_written": grade.rounding.written,
            "digits_to_carry": grade.rounding.carry,
        }
    if grade.note is not None:
        details["note"] = grade.note
    if formula is not None:
        details["worked_formula"] = {"text": formula.text, "latex": formula.latex}
    feedback = _feedback(
        grade,
        tolerance=grader.tolerance,
        layout=grader.problem.network.layout,
        ascent=grader.problem.ascent,
        formula=formula,
        show_expected=show_expected,
    )
    return GradedItem(grade.key.name, grade.status, grade.score, grade.max_score, feedback, details)


_written = lru_cache(maxsize=4096)(written)
"""A worked formula rendered once per problem, not once per student (it is the same)."""


def _wrong(comparison: Comparison) -> list[tuple[int, ...]]:
    """The first MAX_PROBLEMS entries not accepted, in order."""
    if comparison.passed:
        return []
    return [tuple(at) for at in np.argwhere(~comparison.accepted)[:MAX_PROBLEMS].tolist()]


# Feedback, in words a student understands -------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a single number"
    return (
        f"shape ({', '.join(str(n) for n in shape)})" if len(shape) > 1 else f"{shape[0]} numbers"
    )


def _entry(key: ItemKey, index: tuple[int, ...], layout: engine.WeightLayout) -> str:
    """Where an entry is, in JSON indices and in words: "[0][1] (sample 1, unit 2)"."""
    if not index:
        return "the value"
    where = "".join(f"[{i}]" for i in index)
    if key.quantity in PER_SAMPLE and len(index) == 2:
        return f"{where} (sample {index[0] + 1}, unit {index[1] + 1})"
    if len(index) == 1:
        return f"{where} (unit {index[0] + 1})"
    j, k = index if layout is engine.WeightLayout.IN_OUT else index[::-1]
    assert key.layer is not None
    return f"{where} (w^{key.layer + 1}_({j + 1},{k + 1}), from unit {j + 1} below to unit {k + 1})"


def _feedback(
    grade: ItemGrade,
    *,
    tolerance: Tolerance,
    layout: engine.WeightLayout,
    ascent: bool,
    formula: Formula | None,
    show_expected: bool,
) -> str:
    key, c = grade.key, grade.comparison
    if grade.status == "missing":
        return f"missing: the answer has no {key.name} (expected {_shape(grade.expected_shape)})"
    if grade.status == "passed":
        entries = (
            "within tolerance"
            if c is None or c.entries == 1
            else (f"all {c.entries} entries within tolerance")
        )
        if grade.follow_through is not None:
            source = ItemKey(*grade.follow_through).name
            return (
                f"correct given your own {source} (follow-through: a mistake made there is "
                "not charged again here)"
            )
        return f"correct: {entries}"
    lines = [_what_is_wrong(grade, tolerance, layout, show_expected)]
    if c is not None and c.wrong_way:
        rule = "W + eta dL/dW, along" if ascent else "W - eta dL/dW, against"
        lines.append(
            f"{c.wrong_way} of the steps go{'es' if c.wrong_way == 1 else ''} the wrong way: "
            f"the update is {rule} the gradient."
        )
    if grade.consistent_with is not None and not grade.diagnoses:  # a named one says it all
        source = ItemKey(*grade.consistent_with).name
        lines.append(
            f"This follows from your own {source} by the right rule: the mistake is in "
            f"{source}, not here."
        )
    if grade.rounding is not None:
        r = grade.rounding
        lines.append(
            f"These agree with the right values to the {r.written} significant "
            f"figure{'s' if r.written != 1 else ''} written: carry {r.carry} significant figures "
            f"(the tolerance is {tolerance.rtol:.0%} of the value)."
        )
    if len(grade.diagnoses) == 1:
        lines.append(f"This is what you get when {grade.diagnoses[0].description}.")
    elif grade.diagnoses:
        alternatives = "; or when ".join(v.description for v in grade.diagnoses)
        lines.append(f"This fits more than one mistake: what you get when {alternatives}.")
    if grade.note is not None:
        lines.append(f"Note: {grade.note}.")
    if formula is not None:
        lines.append(f"Worked formula: {formula.text}")
    return "\n".join(lines)


def _what_is_wrong(
    grade: ItemGrade, tolerance: Tolerance, layout: engine.WeightLayout, show_expected: bool
) -> str:
    key, c = grade.key, grade.comparison
    if c is None:
        if grade.submitted_shape is None or (grade.note is not None and not grade.submitted_shape):
            return f"{key.name} could not be graded"
        return (
            f"wrong shape: expected {_shape(grade.expected_shape)}, "
            f"the answer has {_shape(grade.submitted_shape)}"
        )
    steps = key.quantity in UPDATES
    what = (
        "steps W' - W"
        if key.quantity == "updated_weights"
        else ("steps b' - b" if key.quantity == "updated_biases" else "entries")
    )
    wrong, n_wrong = _wrong(c), c.entries - c.within  # _wrong lists the first few
    allowed = (
        f"rtol {tolerance.rtol:g} of the step, atol {tolerance.atol:g}"
        if steps
        else f"rtol {tolerance.rtol:g}, atol {tolerance.atol:g}"
    )
    if show_expected:
        if c.entries == 1:
            line = f"expected {c.expected:.6g}, the answer has {c.submitted:.6g} ({allowed})"
        else:
            line = (
                f"{n_wrong} of {c.entries} {what} outside the tolerance ({allowed}); the "
                f"furthest off is {_entry(key, c.worst_index, layout)}: expected "
                f"{c.expected:.6g}, the answer has {c.submitted:.6g}"
            )
    else:
        named = ", ".join(_entry(key, index, layout) for index in wrong[:MAX_LISTED])
        more = f" and {n_wrong - MAX_LISTED} more" if n_wrong > MAX_LISTED else ""
        line = (
            "wrong"
            if c.entries == 1
            else f"{n_wrong} of {c.entries} {what} wrong ({allowed}): {named}{more}"
        )
    return line


# Answer models, for the OpenAPI documentation ---------------------------------------------------


class NativeItem(BaseModel):
    name: str = Field(description='the item in words: "layer 2 deltas"')
    status: str = Field(description="passed, failed or missing")
    score: float
    max_score: float
    feedback: str
    id: str = Field(description='its path in a /v1/backprop answer: "layers[1].deltas"')
    expected_shape: list[int]
    submitted_shape: list[int] | None = None
    entries: int | None = None
    entries_within_tolerance: int | None = Field(
        default=None,
        description="entries accepted: within tolerance (an update's step within that of the "
        "step), or right to the digits written where significant_figures or a step allows",
    )
    wrong_entries: list[list[int]] | None = Field(
        default=None, description="the indices of the entries not accepted (the first 20)"
    )
    wrong_way: int | None = Field(
        default=None, description="update entries whose step goes the wrong way"
    )
    max_abs_error: float | None = Field(default=None, description="left out with show_expected")
    worst_entry: dict[str, Any] | None = Field(
        default=None,
        description="index, expected and submitted value of the furthest-off entry "
        "(left out with show_expected false)",
    )
    mistakes: list[dict[str, str]] | None = Field(
        default=None,
        description="the mistake(s) whose recomputed answer matches this item; more than one "
        "when several fit",
    )
    follow_through: str | None = Field(
        default=None, description="the id of the student's item this one was right given"
    )
    rounding: dict[str, int] | None = Field(
        default=None,
        description="the entries outside the tolerance are right to the digits written: "
        "digits_written, digits_to_carry",
    )
    note: str | None = Field(default=None, description="what could not be read of the item")
    worked_formula: dict[str, str] | None = None


class NativeReport(BaseModel):
    score: float
    max_score: float
    summary: str
    warnings: list[str] | None = Field(
        default=None,
        description="what was not graded: keys that are not items, layers beyond the network",
    )
    items: list[NativeItem]
    rendered: str | None = Field(
        default=None,
        description="feedback_format html or markdown: the whole report (summary, the picture "
        "of the network, warnings, every item's feedback) in that format",
    )


class GradescopeTest(BaseModel):
    name: str
    score: float
    max_score: float
    status: str
    output: str
    output_format: str | None = Field(
        default=None, description="html or md with feedback_format html or markdown"
    )
    visibility: str


class GradescopeResults(BaseModel):
    """results.json as Gradescope's autograder specification defines it."""

    score: float
    output: str
    output_format: str | None = Field(
        default=None,
        description="html or md with feedback_format html or markdown: output then holds the "
        "summary with the picture of the network",
    )
    tests: list[GradescopeTest]


class PrairieLearnTest(BaseModel):
    name: str
    points: float
    max_points: float
    message: str


class PrairieLearnImage(BaseModel):
    label: str
    url: str = Field(description="data:image/svg+xml;base64,...")


class PrairieLearnResults(BaseModel):
    """results.json for PrairieLearn's external grader."""

    gradable: bool
    score: float = Field(ge=0.0, le=1.0)
    message: str
    images: list[PrairieLearnImage] | None = Field(
        default=None,
        description="with feedback_format html or markdown: the picture of the network, which "
        "<pl-external-grader-results> draws",
    )
    tests: list[PrairieLearnTest]


Report = NativeReport | GradescopeResults | PrairieLearnResults


class BatchResult(BaseModel):
    id: str
    report: Report


class ClassSummary(BaseModel):
    submissions: int
    unreadable: int = Field(description="submissions that are not JSON at all (scored 0)")
    max_score: float
    mean_score: float
    full_marks: int = Field(description="submissions with every point")
    mistakes: dict[str, int] = Field(description="mistake id: how many submissions made it")


class BatchResponse(BaseModel):
    results: list[BatchResult]
    class_summary: ClassSummary


def _fail(kind: str, message: str) -> NoReturn:
    raise PydanticCustomError(kind, "{message}", {"message": message})
