"""POST /v1/grade, /v1/grade/batch, /v1/gradcheck and /v1/problems: the autograder's tools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.openapi import ERROR_RESPONSES, json_body
from app.pipeline import BodyRoute, answer
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
    openapi_extra=json_body(GradeRequest, GRADE_EXAMPLE),
)
async def grade(request: Request) -> Response:
    """The submission against the reference, item by item, in the format asked for."""
    return await answer(request, GradeRequest, grade_payload, heavy=True)


@router.post(
    "/grade/batch",
    summary="Grade a whole class's answers to one problem",
    response_model=BatchResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(BatchGradeRequest, BATCH_EXAMPLE),
)
async def grade_batch(request: Request) -> Response:
    """Each submission's report; the reference and the mistakes are computed once."""
    return await answer(request, BatchGradeRequest, batch_payload, heavy=True)


@router.post(
    "/gradcheck",
    summary="Check backprop's gradient against central finite differences",
    response_model=GradcheckResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(GradcheckRequest, GRADCHECK_EXAMPLE),
)
async def gradcheck(request: Request) -> Response:
    """Per weight and bias tensor, the largest relative error and its verdict."""
    return await answer(request, GradcheckRequest, gradcheck_payload, heavy=True)


@router.post(
    "/problems",
    summary="A seeded problem for each student, optionally with its solution",
    response_model=ProblemResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(ProblemRequest, PROBLEM_EXAMPLE),
)
async def problems(request: Request) -> Response:
    """The same seed and parameters give the same problem, everywhere and for good."""
    return await answer(request, ProblemRequest, compute_problem)


def compute_problem(req: ProblemRequest) -> dict[str, Any]:
    backprop_request = problem_request(req)
    payload: dict[str, Any] = {"problem": req.backprop_request()}
    if req.solution:
        payload["solution"] = compute_backprop(backprop_request)
    return payload
