"""The service layer: a validated request in, the answer's payload out.

Every way into the service calls these functions, and nothing else turns a request into engine
calls: the HTTP routes (app/routes/), the command line (app/offline.py), the start-up self-check
(``self_check``) and the autograder harnesses. Each one reads the same way:

    the request as engine objects      schemas/convert.py
    the maths                          engine/
    the answer, arrays left as NumPy   schemas/responses.py, schemas/grading.py, ...

Nothing here knows about HTTP (no FastAPI, no Starlette), so the offline commands import it
without the web stack. Payloads hold NumPy arrays; ``dumps`` writes them as JSON.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from numpy.typing import NDArray

import engine
from engine.explain import explain
from engine.grading import ItemGrade
from engine.problems import generate
from schemas import convert
from schemas.errors import LONE_SURROGATES
from schemas.examples import SPEC_EXAMPLE, SPEC_EXAMPLE_LOSS
from schemas.explanations import explanation_payload
from schemas.grading import (
    BatchGradeRequest,
    GradeRequest,
    GradingOptions,
    report_of,
    unreadable_report,
)
from schemas.intake import read_answer
from schemas.problems import ProblemRequest, problem_payload
from schemas.requests import BackpropRequest, ForwardRequest
from schemas.responses import backprop_payload, conventions_payload, forward_payload

if TYPE_CHECKING:  # imported where used: the offline grader starts without them
    from schemas.derivatives import DerivativeRequest, DescentRequest
    from schemas.derivatives import GradeRequest as DerivativeGradeRequest
    from schemas.gradcheck import GradcheckRequest

Payload = dict[str, Any]


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload whose arrays are NumPy arrays. Text with a lone surrogate (a
    client's "\\ud800", read by Python's json module and quoted back in a warning) is not
    UTF-8 and orjson refuses it: such characters are written as U+FFFD instead."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError as error:
        if "surrogates" not in str(error):
            raise
        return orjson.dumps(_without_surrogates(payload), option=orjson.OPT_SERIALIZE_NUMPY)


def _without_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its text (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.translate(LONE_SURROGATES)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(v) for v in value]
    return value


PIECE_VALUES = 16_384
"""Numbers serialized in one call of orjson, which holds the GIL throughout (about 0.4 ms)."""

WHOLE_VALUES = 1_000_000
"""Answers with up to this many numbers in large arrays are written in one call (about 25 ms
of GIL for a million numbers; the 784-256-128-10 x64 answer has about 550,000): the pieces
cost 15-20% more (splitting the skeleton, joining the pieces), which matters only where one
call would stall other clients for longer."""


def dumps_in_pieces(payload: Any) -> bytes:
    """``dumps``, the same bytes, with every large array written PIECE_VALUES numbers at a
    time: between two pieces another thread (the event loop's) can take the GIL, so that
    writing a 60 MB answer in a compute thread does not stall every other client for a second
    (the pieces are joined at the end: one copy, about 10 ms for 60 MB).
    """
    large: list[NDArray[Any]] = []
    placeholder = f"large array {uuid.uuid4().hex}"
    skeleton = dumps(_set_aside(payload, large, placeholder))
    if not large:
        return skeleton
    if sum(array.size for array in large) <= WHOLE_VALUES:
        return dumps(payload)  # one call is shorter than splitting and joining, and short
    between = skeleton.split(orjson.dumps(placeholder))
    assert len(between) == len(large) + 1, "a placeholder is written once per large array"
    pieces = [between[0]]
    for array, after in zip(large, between[1:], strict=True):
        pieces += _array_pieces(array)
        pieces.append(after)
    return b"".join(pieces)


def _set_aside(value: Any, large: list[NDArray[Any]], placeholder: str) -> Any:
    """The payload with each large array replaced by the placeholder, the arrays in ``large``
    in the order they are written (orjson keeps a dict's order)."""
    if isinstance(value, np.ndarray):
        if value.size <= PIECE_VALUES:
            return value
        large.append(value)
        return placeholder
    if isinstance(value, dict):
        return {key: _set_aside(item, large, placeholder) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_set_aside(item, large, placeholder) for item in value]
    return value


def _array_pieces(array: NDArray[Any]) -> list[bytes]:
    """An array's JSON in pieces of at most PIECE_VALUES numbers: blocks of rows, or each row
    on its own when one row is larger than a piece; a vector, slice by slice."""
    if array.size <= PIECE_VALUES:
        return [dumps(np.ascontiguousarray(array))]
    if array.ndim > 1 and array[0].size > PIECE_VALUES:
        parts = [b"".join(_array_pieces(row)) for row in array]
    else:
        step = PIECE_VALUES if array.ndim == 1 else PIECE_VALUES // array[0].size
        parts = [
            dumps(np.ascontiguousarray(array[i : i + step]))[1:-1]
            for i in range(0, len(array), step)
        ]
    pieces = [b"["]
    for k, part in enumerate(parts):
        pieces += [b",", part] if k else [part]
    pieces.append(b"]")
    return pieces


# The network --------------------------------------------------------------------------------------


def backprop(req: BackpropRequest) -> Payload:
    """POST /v1/backprop: forward pass, loss, deltas, gradients and one step."""
    problem = convert.problem(req)
    result = problem.solve()
    explanation = (
        explanation_payload(
            explain(problem, result, sample=req.explain_sample),
            sample=req.explain_sample,
            single_sample=req.single_sample,
        )
        if req.explain
        else None
    )
    return backprop_payload(
        result,
        single_sample=req.single_sample,
        conventions=conventions_payload(convert.conventions(req), problem.loss),
        arrays=req.array_encoding,
        explanation=explanation,
    )


def forward(req: ForwardRequest) -> Payload:
    """POST /v1/forward: the forward pass, and the loss when targets are given."""
    used = convert.conventions(req)
    network, loss = convert.network(req, used), convert.loss(req, used)
    fwd = engine.forward(network, convert.samples(req))
    value = (
        None
        if req.targets is None
        else engine.evaluate_loss(network, fwd, convert.target_rows(req), loss)
    )
    return forward_payload(
        fwd,
        value,
        single_sample=req.single_sample,
        conventions=conventions_payload(used, loss),
        arrays=req.array_encoding,
    )


def self_check() -> bool:
    """Answer the contract's worked example and compare its loss with the published figure."""
    answer = backprop(BackpropRequest.model_validate(SPEC_EXAMPLE))
    return math.isclose(answer["loss"], SPEC_EXAMPLE_LOSS, rel_tol=1e-12)


# Grading ------------------------------------------------------------------------------------------


def grade(req: GradeRequest) -> Payload:
    """POST /v1/grade: one answer against the reference, in the format asked for."""
    return Grading(req).report(req.submission)


def grade_batch(req: BatchGradeRequest) -> Payload:
    """POST /v1/grade/batch: each answer's report, the reference and mistakes computed once.

    Each submission is read and graded on its own: one that cannot be read gets a report that
    says so, and the others are graded as usual.
    """
    grading = Grading(req)
    results: list[Payload] = []
    scores: list[float] = []
    mistakes: Counter[str] = Counter()
    unreadable = 0
    for handin in req.submissions:
        graded = grading.grade(handin.submission)
        # kept as JSON bytes: a class's reports as Python objects were 5x their size; copied
        # to bytes of their own size, as orjson's buffer for a report of 128 KB or more (a
        # drawn one) left holes in the heap that took 7x the bytes kept
        report = memoryview(dumps(graded.report)).tobytes()
        results.append({"id": handin.id, "report": orjson.Fragment(report)})
        if graded.grades is None:
            unreadable += 1
            scores.append(0.0)
            continue
        scores.append(sum(g.score for g in graded.grades))
        mistakes.update({m.id for g in graded.grades for m in g.mistakes})
    return {
        "results": results,
        "class_summary": {
            "submissions": len(scores),
            "unreadable": unreadable,
            "max_score": grading.max_score,
            "mean_score": sum(scores) / len(scores),
            "full_marks": sum(score == grading.max_score for score in scores),
            "mistakes": dict(mistakes.most_common()),
        },
    }


@dataclass(frozen=True)
class Graded:
    """One answer graded: its report, the engine's grades (None when it was unreadable, and
    then ``unreadable`` says why) and what of it was not graded (``warnings``)."""

    report: Payload
    grades: list[ItemGrade] | None
    unreadable: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return 0.0 if self.grades is None else sum(g.score for g in self.grades)

    @property
    def mistakes(self) -> list[str]:
        """The ids of the mistakes named, each once, in answer order."""
        named = (m.id for g in self.grades or () for v in g.diagnoses for m in v.mistakes)
        return list(dict.fromkeys(named))


class Grading:
    """A problem ready to grade any number of answers: its reference and mistakes computed
    once, each answer read forgivingly (schemas/intake.py). The offline grader's folder mode
    and the autograder harnesses grade a class with one."""

    def __init__(self, options: GradingOptions) -> None:
        self.options = options
        self.grader = convert.grader(options)
        self.n_layers = len(options.problem.network.layers)

    @property
    def max_score(self) -> float:
        return sum(self.grader.points.of(key) for key in self.grader.items)

    def grade(self, answer: Any, *, report: bool = True) -> Graded:
        """An answer (a JSON value, or the text of a file) graded, or its unreadable report.

        report=False leaves the report out (empty) for callers that need only the grades, such
        as a gradebook: writing the feedback is a quarter of the cost of grading an answer.
        """
        intake = read_answer(answer, self.n_layers)
        if intake.unreadable is not None:
            made = unreadable_report(self.grader, self.options, intake.unreadable) if report else {}
            return Graded(made, None, intake.unreadable)
        grades = self.grader.grade(intake.answers, intake.notes)
        made = report_of(self.grader, grades, self.options, intake.warnings) if report else {}
        return Graded(made, grades, warnings=tuple(intake.warnings))

    def report(self, answer: Any) -> Payload:
        return self.grade(answer).report


def gradcheck(req: GradcheckRequest) -> Payload:
    """POST /v1/gradcheck: backprop's gradient against central finite differences."""
    from engine.gradcheck import gradcheck as check_gradients  # noqa: PLC0415
    from schemas.gradcheck import gradcheck_payload  # noqa: PLC0415

    return gradcheck_payload(check_gradients(convert.problem(req), epsilon=req.epsilon))


def problems(req: ProblemRequest) -> Payload:
    """POST /v1/problems: a seeded problem, and its solution when asked for."""
    problem = problem_payload(req, generate(convert.problem_parameters(req)))
    payload: Payload = {"problem": problem}
    if req.solution:
        payload["solution"] = backprop(BackpropRequest.model_validate(problem))
    return payload


# Derivatives --------------------------------------------------------------------------------------
# SymPy's side and the expression grammar are imported where they are used, so that grading a
# backprop answer offline does not load them (app/offline.py).


def derivatives(req: DerivativeRequest) -> Payload:
    """POST /v1/derivatives: each partial derivative, its value at the point, its steps."""
    from engine import calculus  # noqa: PLC0415
    from schemas.derivatives import derivative_payload  # noqa: PLC0415

    derivations = calculus.gradient(req.expression, req.by)
    values = value = None
    if req.point is not None:
        value = calculus.value_at(req.expression, req.point, at_zero=req.at_zero)
        values = [
            calculus.value_at(d.derivative, req.point, at_zero=req.at_zero, what=f"d/d{d.variable}")
            for d in derivations
        ]
    return derivative_payload(req, derivations, values, value)


def grade_derivative(req: DerivativeGradeRequest) -> Payload:
    """POST /v1/derivatives/grade: whether a student's derivative is right, and where not."""
    from engine import calculus  # noqa: PLC0415
    from schemas.derivatives import grade_payload as derivative_grade_payload  # noqa: PLC0415

    derivation = calculus.derive(req.function, req.by)
    verdict = calculus.check_equivalence(
        derivation.derivative,
        req.answer,
        domain=req.domain,
        samples=req.samples,
        seed=req.seed,
        at_zero=req.at_zero,
        symbolic=calculus.sympy_check(),
    )
    return derivative_grade_payload(req, derivation, verdict)


def descent(req: DescentRequest) -> Payload:
    """POST /v1/derivatives/descent: the gradient, and the path from the start."""
    from engine import calculus  # noqa: PLC0415
    from schemas.derivatives import descent_payload  # noqa: PLC0415

    derivations = calculus.gradient(req.expression, req.variables)
    path = calculus.gradient_descent(
        req.expression,
        {d.variable: d.derivative for d in derivations},
        req.start,
        learning_rate=req.learning_rate,
        steps=req.steps,
        ascent=req.ascent,
        at_zero=req.at_zero,
    )
    return descent_payload(derivations, path)
