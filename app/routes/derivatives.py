"""POST /v1/derivatives, /v1/derivatives/grade and /v1/derivatives/descent.

FastAPI parses and documents these bodies itself (they are small: expressions of at most 1,000
characters). The work, SymPy's verdict included, runs in the compute threads, under the same
bound on waiting as every other computation, so that it never blocks the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from app import services
from app.dependencies import PipelineDep
from app.openapi import ERROR_RESPONSES
from app.pipeline import require_json
from schemas.derivatives import (
    DerivativeRequest,
    DerivativeResponse,
    DescentRequest,
    DescentResponse,
    GradeRequest,
)

MAX_BODY_BYTES = 256 * 1024
"""A derivatives request's body: expressions are at most 1,000 characters, so this leaves room
for any legitimate request, and FastAPI parses these bodies (json.loads) on the event loop."""


async def json_only(request: Request) -> None:
    """415 for a body not sent as JSON, as the network endpoints answer."""
    require_json(request.headers.get("content-type"))


router = APIRouter(
    prefix="/v1/derivatives", tags=["derivatives"], dependencies=[Depends(json_only)]
)


@router.post(
    "",
    summary="Derivative, partial derivatives and gradient, with the rules' steps",
    response_model=DerivativeResponse,
    responses=ERROR_RESPONSES,
)
async def derivatives(req: DerivativeRequest, pipeline: PipelineDep) -> dict[str, Any]:
    """Each partial derivative as text and LaTeX, its value at the point, and its steps."""
    return await pipeline.compute.run(lambda: services.derivatives(req))


@router.post(
    "/grade",
    summary="Grade a student's derivative: equivalent or not, and where it differs",
    responses=ERROR_RESPONSES,
)
async def grade(req: GradeRequest, pipeline: PipelineDep) -> dict[str, Any]:
    """A report in the format asked for (native, gradescope or prairielearn)."""
    return await pipeline.compute.run(lambda: services.grade_derivative(req))


@router.post(
    "/descent",
    summary="Gradient descent (or ascent) on an expression: theta' = theta -/+ eta grad f",
    response_model=DescentResponse,
    responses=ERROR_RESPONSES,
)
async def descent(req: DescentRequest, pipeline: PipelineDep) -> dict[str, Any]:
    """The gradient, and the path of points, values and gradients from the start."""
    return await pipeline.compute.run(lambda: services.descent(req))
