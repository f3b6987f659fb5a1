"""GET /healthz (the process is up) and GET /readyz (it answers correctly and is not stopping).

Both answer HEAD too, as load balancers and probes often ask: the same status and headers, no
body (the HEAD routes are left out of the OpenAPI document).
"""

from __future__ import annotations

from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from engine import calculus
from schemas import ErrorResponse

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.head("/healthz", response_model=Health, include_in_schema=False)
@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers HTTP."""
    return Health(status="ok")


READINESS_TIMEOUT_SECONDS = 5.0
"""How long the readiness probe waits for a SymPy worker to prove it still answers."""


@router.head("/readyz", response_model=Health, include_in_schema=False)
@router.get("/readyz", response_model=Health, responses={503: {"model": ErrorResponse}})
async def readyz(request: Request) -> Health:
    """Readiness: the start-up self-check passed, a SymPy worker answers a real symbolic check
    (derivative grading needs one), and the server is not shutting down."""
    if not getattr(request.app.state, "ready", True):  # an app without our start-up: no check
        raise HTTPException(503, "not ready: starting, shutting down, or the self-check failed")
    if not await anyio.to_thread.run_sync(calculus.warm_up, READINESS_TIMEOUT_SECONDS):
        raise HTTPException(503, "not ready: the symbolic (SymPy) workers do not answer")
    return Health(status="ready")
