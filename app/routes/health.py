"""GET /healthz (the process is up) and GET /readyz (it answers correctly and is not stopping)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from schemas import ErrorResponse

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers HTTP."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": ErrorResponse}})
def readyz(request: Request) -> Health:
    """Readiness: the start-up self-check passed and the server is not shutting down."""
    if not request.app.state.ready:
        raise HTTPException(503, "not ready: starting, shutting down, or the self-check failed")
    return Health(status="ready")
