"""POST /v1/grade, /v1/grade/batch, /v1/gradcheck and /v1/problems: the autograder's tools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.openapi import ERROR_RESPONSES
from app.pipeline import BodyRoute, Payload, answers
from app.routes.network import compute_backprop
from schemas import SPEC_EXAMPLE
from schemas.gradcheck import GradcheckRequest, GradcheckResponse, gradcheck_payload
from schemas.grading import (
    BatchGradeRequest,
    BatchResponse,
    GradeRequest,
    Report,
    batch_payload,
    grade_payload,
)
from schemas.problems import ProblemRequest, ProblemResponse, problem_request

router = APIRouter(prefix="/v1", tags=["grading"], route_class=BodyRoute)

_SPEC_SUBMISSION = {
    "loss": 0.4322,
    "layers": [
        {"deltas": [[0.01049, 0.01016, 0.008323]]},
        {"deltas": [[0.00771, -0.06405]]},
    ],
}

GRADE_EXAMPLE: dict[str, Any] = {
    "problem": SPEC_EXAMPLE,
    "submission": _SPEC_SUBMISSION,
    "quantities": ["loss", "deltas"],
    "format": "native",
}
BATCH_EXAMPLE: dict[str, Any] = {
    "problem": SPEC_EXAMPLE,
    "submissions": [{"id": "student-1", "submission": _SPEC_SUBMISSION}],
    "quantities": ["loss", "deltas"],
}
GRADCHECK_EXAMPLE: dict[str, Any] = {
    key: value for key, value in SPEC_EXAMPLE.items() if key != "learning_rate"
}
PROBLEM_EXAMPLE: dict[str, Any] = {"seed": 42, "layer_sizes": [2, 3, 2], "solution": True}


@router.post(
    "/grade",
    summary="Grade one answer: score, partial credit, feedback and the mistake made",
    response_model=Report,
    responses=ERROR_RESPONSES,
)
@answers(GradeRequest, example=GRADE_EXAMPLE, heavy=True)
def grade(req: GradeRequest) -> Payload:
    """The submission against the reference, item by item, in the format asked for."""
    return grade_payload(req)


@router.post(
    "/grade/batch",
    summary="Grade a whole class's answers to one problem",
    response_model=BatchResponse,
    responses=ERROR_RESPONSES,
)
@answers(BatchGradeRequest, example=BATCH_EXAMPLE, heavy=True)
def grade_batch(req: BatchGradeRequest) -> Payload:
    """Each submission's report; the reference and the mistakes are computed once."""
    return batch_payload(req)


@router.post(
    "/gradcheck",
    summary="Check backprop's gradient against central finite differences",
    response_model=GradcheckResponse,
    responses=ERROR_RESPONSES,
)
@answers(GradcheckRequest, example=GRADCHECK_EXAMPLE, heavy=True)
def gradcheck(req: GradcheckRequest) -> Payload:
    """Per weight and bias tensor, the largest relative error and its verdict."""
    return gradcheck_payload(req)


@router.post(
    "/problems",
    summary="A seeded problem for each student, optionally with its solution",
    response_model=ProblemResponse,
    responses=ERROR_RESPONSES,
)
@answers(ProblemRequest, example=PROBLEM_EXAMPLE)
def problems(req: ProblemRequest) -> Payload:
    """The same seed and parameters give the same problem, everywhere and for good."""
    return compute_problem(req)


def compute_problem(req: ProblemRequest) -> Payload:
    backprop_request = problem_request(req)
    payload: dict[str, Any] = {"problem": req.backprop_request()}
    if req.solution:
        payload["solution"] = compute_backprop(backprop_request)
    return payload
