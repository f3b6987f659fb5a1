"""POST /v1/derivatives, /v1/derivatives/grade and /v1/derivatives/descent.

Plain ``def`` routes: FastAPI runs them in its thread pool, so that the work (and the wait for
SymPy's verdict, bounded by its deadline) never blocks the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from app.openapi import ERROR_RESPONSES
from app.pipeline import require_json
from engine import calculus
from schemas.derivatives import (
    DerivativeRequest,
    DerivativeResponse,
    DescentRequest,
    DescentResponse,
    GradeRequest,
    derivative_payload,
    descent_payload,
    grade_payload,
)

MAX_BODY_BYTES = 256 * 1024
"""A derivatives request's body: expressions are at most 1,000 characters, so this leaves room
for any legitimate request, and FastAPI parses these bodies (json.loads) on the event loop."""


def json_only(request: Request) -> None:
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
def derivatives(req: DerivativeRequest) -> dict[str, Any]:
    """Each partial derivative as text and LaTeX, its value at the point, and its steps."""
    derivations = calculus.gradient(req.expression, req.by)
    values = value = None
    if req.point is not None:
        value = calculus.value_at(req.expression, req.point, at_zero=req.at_zero)
        values = [
            calculus.value_at(d.derivative, req.point, at_zero=req.at_zero, what=f"d/d{d.variable}")
            for d in derivations
        ]
    return derivative_payload(req, derivations, values, value)


@router.post(
    "/grade",
    summary="Grade a student's derivative: equivalent or not, and where it differs",
    responses=ERROR_RESPONSES,
)
def grade(req: GradeRequest) -> dict[str, Any]:
    """A report in the format asked for (native, gradescope or prairielearn)."""
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
    return grade_payload(req, derivation, verdict)


@router.post(
    "/descent",
    summary="Gradient descent (or ascent) on an expression: theta' = theta -/+ eta grad f",
    response_model=DescentResponse,
    responses=ERROR_RESPONSES,
)
def descent(req: DescentRequest) -> dict[str, Any]:
    """The gradient, and the path of points, values and gradients from the start."""
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
