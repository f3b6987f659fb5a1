"""POST /v1/grade, /v1/grade/batch, /v1/gradcheck and /v1/problems: the autograder's tools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import services
from app.dependencies import pipeline_of
from app.openapi import ERROR_RESPONSES, openapi_body
from schemas import SPEC_EXAMPLE
from schemas.gradcheck import GradcheckRequest, GradcheckResponse
from schemas.grading import BatchGradeRequest, BatchResponse, GradeRequest, Report
from schemas.problems import ProblemRequest, ProblemResponse

router = APIRouter(prefix="/v1", tags=["grading"])
BATCH = "/grade/batch"  # its body has its own limit, max_batch_body_bytes

_SPEC_SUBMISSION = {
    "loss": 0.4322,
    "layers": [
        {"deltas": [[-0.01049, -0.01016, -0.008323]]},
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
    openapi_extra=openapi_body(GradeRequest, GRADE_EXAMPLE),
)
async def grade(request: Request) -> Response:
    """The submission against the reference, item by item, in the format asked for."""
    return await pipeline_of(request).answer(
        request, GradeRequest, services.grade, students_json=True
    )


@router.post(
    BATCH,
    summary="Grade a whole class's answers to one problem",
    response_model=BatchResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=openapi_body(BatchGradeRequest, BATCH_EXAMPLE),
)
async def grade_batch(request: Request) -> Response:
    """Each submission's report; the reference and the mistakes are computed once."""
    return await pipeline_of(request).answer(
        request, BatchGradeRequest, services.grade_batch, students_json=True
    )


@router.post(
    "/gradcheck",
    summary="Check backprop's gradient against central finite differences",
    response_model=GradcheckResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=openapi_body(GradcheckRequest, GRADCHECK_EXAMPLE),
)
async def gradcheck(request: Request) -> Response:
    """Per weight and bias tensor, the largest relative error and its verdict."""
    return await pipeline_of(request).answer(request, GradcheckRequest, services.gradcheck)


@router.post(
    "/problems",
    summary="A seeded problem for each student, optionally with its solution",
    response_model=ProblemResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=openapi_body(ProblemRequest, PROBLEM_EXAMPLE),
)
async def problems(request: Request) -> Response:
    """The same seed and parameters give the same problem, everywhere and for good."""
    return await pipeline_of(request).answer(request, ProblemRequest, services.problems)
