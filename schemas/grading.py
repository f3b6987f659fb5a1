"""POST /v1/grade and /v1/grade/batch: a problem, a student's answer (or a class's), the report.

    {"problem": {... a /v1/backprop request ...},
     "submission": {"loss": 0.43, "layers": [{}, {"deltas": [[-0.0077, 0.064]]}]},
     "quantities": ["deltas"], "tolerance": {"rtol": 0.01, "atol": 0.0001},
     "points": {"quantities": {"deltas": 2}}, "partial_credit": true, "format": "gradescope"}

A submission holds any subset of a /v1/backprop answer. Its numbers are checked as strictly
as any request's (finite JSON numbers, rectangular rows), but its shapes are not: a wrong shape
is the student's mistake, reported as feedback in the graded item, never as a 422.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

import engine
from engine.grading import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    QUANTITIES,
    Grader,
    ItemGrade,
    ItemKey,
    Quantity,
    Tolerance,
    all_items,
)
from engine.grading.items import PER_SAMPLE
from schemas.arrays import FiniteFloat, NonNegativeFloat, Samples
from schemas.gradebook import GradedItem, ReportFormat, report
from schemas.requests import BackpropRequest
from schemas.worked import Formula, written

MAX_SUBMISSIONS = 5000
"""Submissions in one /v1/grade/batch request."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# What a student hands in ------------------------------------------------------------------------


class LayerAnswer(_Strict):
    """Any of a layer's quantities, as in layers[i] of a /v1/backprop answer."""

    pre_activations: Samples | None = None
    activations: Samples | None = None
    deltas: Samples | None = None
    weight_gradients: Samples | None = None
    bias_gradients: Samples | None = None
    updated_weights: Samples | None = None
    updated_biases: Samples | None = None


class Submission(_Strict):
    """Any subset of a /v1/backprop answer. input_gradients and conventions are accepted (so
    that a whole answer can be handed in) but not graded."""

    loss: FiniteFloat | None = None
    outputs: Samples | None = None
    layers: list[LayerAnswer] = Field(
        default_factory=list,
        description="layers[i] answers layer i + 1; trailing ones may be left out",
    )
    input_gradients: Samples | None = Field(default=None, description="accepted, not graded")
    conventions: dict[str, Any] | None = Field(default=None, description="accepted, not graded")


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


class PointsSpec(_Strict):
    """Points per item: an item's id first, then its quantity, its layer, and the default."""

    default: NonNegativeFloat = Field(default=1.0, description="points of every other item")
    quantities: dict[Quantity, NonNegativeFloat] = Field(
        default_factory=dict, description='per quantity, e.g. {"deltas": 2}'
    )
    layers: list[NonNegativeFloat] | None = Field(
        default=None, description="per layer: layers[i] is the points of each item of layer i + 1"
    )
    items: dict[str, NonNegativeFloat] = Field(
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
    format: ReportFormat = Field(default="native", description="native, gradescope or prairielearn")

    def _check_options(self) -> None:
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
                    f'points.items names "{item}", which is not an item of this problem '
                    f'(items are "loss", "outputs" and "layers[i].deltas" with i from 0 to '
                    f"{n_layers - 1}, and so on)",
                )

    def _check_submission(self, submission: Submission, where: str) -> None:
        n_layers = len(self.problem.network.layers)
        if len(submission.layers) > n_layers:
            _fail(
                "too_many_layers",
                f"{where}.layers has {len(submission.layers)} entries but the network has "
                f"{n_layers} layers",
            )


class GradeRequest(GradingOptions):
    """POST /v1/grade: one answer to one problem."""

    submission: Submission

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._check_options()
        self._check_submission(self.submission, "submission")
        return self


class Handin(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the student's id, echoed in the answer"
    )
    submission: Submission


class BatchGradeRequest(GradingOptions):
    """POST /v1/grade/batch: a whole class's answers to one problem."""

    submissions: Annotated[list[Handin], Field(min_length=1, max_length=MAX_SUBMISSIONS)]

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._check_options()
        seen: set[str] = set()
        for i, handin in enumerate(self.submissions):
            if handin.id in seen:
                _fail("duplicate_id", f'submissions[{i}].id "{handin.id}" appears twice')
            seen.add(handin.id)
            self._check_submission(handin.submission, f"submissions[{i}].submission")
        return self


# The answers -------------------------------------------------------------------------------------


def report_of(
    grader: Grader, grades: list[ItemGrade], report_format: ReportFormat
) -> dict[str, Any]:
    """The engine's grades as one report in the named format, with feedback in words."""
    return report([_graded_item(grader, g) for g in grades], report_format)


def _graded_item(grader: Grader, grade: ItemGrade) -> GradedItem:
    formula = None if grade.formula is None else written(grade.formula)
    details: dict[str, Any] = {"id": grade.key.id, "expected_shape": list(grade.expected_shape)}
    if grade.submitted_shape is not None:
        details["submitted_shape"] = list(grade.submitted_shape)
    c = grade.comparison
    if c is not None:
        details |= {
            "entries": c.entries,
            "entries_within_tolerance": c.within,
            "max_abs_error": c.max_abs_error,
            "max_relative_error": c.max_relative_error,
            "worst_entry": {
                "index": list(c.worst_index),
                "expected": c.expected,
                "submitted": c.submitted,
            },
        }
    if grade.mistakes:
        details["mistakes"] = [{"id": m.id, "description": m.description} for m in grade.mistakes]
    if formula is not None:
        details["worked_formula"] = {"text": formula.text, "latex": formula.latex}
    feedback = _feedback(
        grade, tolerance=grader.tolerance, layout=grader.problem.network.layout, formula=formula
    )
    return GradedItem(grade.key.name, grade.status, grade.score, grade.max_score, feedback, details)


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
    formula: Formula | None,
) -> str:
    key = grade.key
    if grade.status == "missing":
        return f"missing: the answer has no {key.name} (expected {_shape(grade.expected_shape)})"
    comparison = grade.comparison
    if comparison is None:
        assert grade.submitted_shape is not None
        lines = [
            f"wrong shape: expected {_shape(grade.expected_shape)}, "
            f"the answer has {_shape(grade.submitted_shape)}"
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
    if grade.mistakes:
        description = "; and ".join(m.description for m in grade.mistakes)
        lines.append(f"This is what you get when {description}.")
    if formula is not None:
        lines.append(f"Worked formula: {formula.text}")
    return "\n".join(lines)


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
    entries_within_tolerance: int | None = None
    max_abs_error: float | None = None
    max_relative_error: float | None = None
    worst_entry: dict[str, Any] | None = None
    mistakes: list[dict[str, str]] | None = Field(
        default=None, description="the mistake(s) whose recomputed answer matches this item"
    )
    worked_formula: dict[str, str] | None = None


class NativeReport(BaseModel):
    score: float
    max_score: float
    summary: str
    items: list[NativeItem]


class GradescopeTest(BaseModel):
    name: str
    score: float
    max_score: float
    status: str
    output: str
    visibility: str


class GradescopeResults(BaseModel):
    """results.json as Gradescope's autograder specification defines it."""

    score: float
    output: str
    tests: list[GradescopeTest]


class PrairieLearnTest(BaseModel):
    name: str
    points: float
    max_points: float
    message: str


class PrairieLearnResults(BaseModel):
    """results.json for PrairieLearn's external grader."""

    gradable: bool
    score: float = Field(ge=0.0, le=1.0)
    message: str
    tests: list[PrairieLearnTest]


Report = NativeReport | GradescopeResults | PrairieLearnResults


class BatchResult(BaseModel):
    id: str
    report: Report


class ClassSummary(BaseModel):
    submissions: int
    max_score: float
    mean_score: float
    full_marks: int = Field(description="submissions with every point")
    mistakes: dict[str, int] = Field(description="mistake id: how many submissions made it")


class BatchResponse(BaseModel):
    results: list[BatchResult]
    class_summary: ClassSummary


def _fail(kind: str, message: str) -> NoReturn:
    raise PydanticCustomError(kind, "{message}", {"message": message})
