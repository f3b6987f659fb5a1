"""The FastAPI application: ``app.main:app``, built by ``create_app``."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.config import Settings, get_settings
from app.errors import install_error_handler
from app.middleware import AdmissionLimit, RequestBodyGuard
from app.openapi import COMMON_ERRORS, install_openapi
from app.pipeline import ComputePool
from app.routes import catalog, derivatives, grading, health, network
from schemas import SPEC_EXAMPLE, BackpropRequest, ForwardRequest
from schemas.examples import SPEC_EXAMPLE_LOSS
from schemas.gradcheck import GradcheckRequest
from schemas.grading import BatchGradeRequest, GradeRequest
from schemas.problems import ProblemRequest

logger = logging.getLogger("backprop_service")

DESCRIPTION = """
Backpropagation as a service: POST a fully connected network, its inputs and targets, and get
back the forward pass, the loss, every layer's deltas, the weight and bias gradients and the
updated parameters, in float64, by the textbook's conventions or PyTorch's.

Every error answer has one shape: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = _self_check()
        yield
        app.state.ready = False

    app = FastAPI(
        title="backprop-service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        responses=COMMON_ERRORS,
    )
    app.state.settings = settings
    app.state.limits = settings.limits()
    app.state.ready = False
    app.state.compute = ComputePool(
        settings.compute_threads, settings.compute_wait_seconds, settings.retry_after_seconds
    )
    for module in (network, grading, catalog, derivatives, health):
        app.include_router(module.router)
    install_error_handler(app)
    # Added innermost first: a request meets admission, then CORS, then the body guard.
    app.add_middleware(
        RequestBodyGuard,
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.body_timeout_seconds,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
        )
    app.add_middleware(
        AdmissionLimit,
        max_in_flight=settings.max_in_flight,
        retry_after=settings.retry_after_seconds,
    )
    install_openapi(
        app,
        [
            BackpropRequest,
            ForwardRequest,
            GradeRequest,
            BatchGradeRequest,
            GradcheckRequest,
            ProblemRequest,
        ],
    )
    return app


def _self_check() -> bool:
    """Answer the SPEC.md example and compare the loss with the figure SPEC.md gives."""
    result = network.compute_backprop(BackpropRequest.model_validate(SPEC_EXAMPLE))
    ok = math.isclose(result["loss"], SPEC_EXAMPLE_LOSS, rel_tol=1e-12)
    if not ok:
        logger.error("self-check failed: loss %r, expected %r", result["loss"], SPEC_EXAMPLE_LOSS)
    return ok


app = create_app()
