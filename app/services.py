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
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

import engine
from engine import calculus
from engine.explain import explain
from engine.gradcheck import gradcheck as check_gradients
from engine.grading import ItemGrade
from engine.problems import generate
from schemas import convert
from schemas.derivatives import (
    DerivativeRequest,
    DescentRequest,
    derivative_payload,
    descent_payload,
)
from schemas.derivatives import GradeRequest as DerivativeGradeRequest
from schemas.derivatives import grade_payload as derivative_grade_payload
from schemas.examples import SPEC_EXAMPLE, SPEC_EXAMPLE_LOSS
from schemas.explanations import explanation_payload
from schemas.gradcheck import GradcheckRequest, gradcheck_payload
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

Payload = dict[str, Any]


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload whose arrays are NumPy arrays."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


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
    """One answer graded: its report, and the engine's grades (None when it was unreadable)."""

    report: Payload
    grades: list[ItemGrade] | None


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

    def grade(self, answer: Any) -> Graded:
        """An answer (a JSON value, or the text of a file) graded, or its unreadable report."""
        intake = read_answer(answer, self.n_layers)
        if intake.unreadable is not None:
            return Graded(unreadable_report(self.grader, self.options, intake.unreadable), None)
        grades = self.grader.grade(intake.answers, intake.notes)
        return Graded(report_of(self.grader, grades, self.options, intake.warnings), grades)

    def report(self, answer: Any) -> Payload:
        return self.grade(answer).report


def gradcheck(req: GradcheckRequest) -> Payload:
    """POST /v1/gradcheck: backprop's gradient against central finite differences."""
    return gradcheck_payload(check_gradients(convert.problem(req), epsilon=req.epsilon))


def problems(req: ProblemRequest) -> Payload:
    """POST /v1/problems: a seeded problem, and its solution when asked for."""
    problem = problem_payload(req, generate(convert.problem_parameters(req)))
    payload: Payload = {"problem": problem}
    if req.solution:
        payload["solution"] = backprop(BackpropRequest.model_validate(problem))
    return payload


# Derivatives --------------------------------------------------------------------------------------


def derivatives(req: DerivativeRequest) -> Payload:
    """POST /v1/derivatives: each partial derivative, its value at the point, its steps."""
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
