"""The FastAPI application: ``app.main:app``, built by ``create_app``."""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from app.config import Settings, get_settings
from app.errors import install_error_handler
from app.middleware import AdmissionLimit, DirectRoutes, RequestBodyGuard
from app.openapi import COMMON_ERRORS, install_openapi
from app.pipeline import BodyRoute, ComputePool
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


TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = _self_check()
        _settle_garbage_collector()
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
        telemetry=None if settings.telemetry_enabled else TELEMETRY_OFF,
    )
    app.state.settings = settings
    app.state.limits = settings.limits()
    app.state.ready = False
    app.state.compute = ComputePool(
        settings.compute_threads, settings.compute_wait_seconds, settings.retry_after_seconds
    )
    routers = [module.router for module in (network, grading, catalog, derivatives, health)]
    for router in routers:
        app.include_router(router)
    install_error_handler(app)
    # Middleware added first is innermost. DirectRoutes stays right above the router, so that
    # every other middleware also sees the requests it takes past the router; a request meets
    # admission, then CORS, then the body guard.
    body_routes = [r for router in routers for r in router.routes if isinstance(r, BodyRoute)]
    app.add_middleware(DirectRoutes, endpoints={r.path: r.endpoint for r in body_routes})
    app.add_middleware(
        RequestBodyGuard,
        max_bytes=settings.max_body_bytes,
        smaller={derivatives.router.prefix: derivatives.MAX_BODY_BYTES},
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


GC_YOUNG_THRESHOLD = 10_000
"""New container objects that set off a collection of the youngest generation (Python: 700)."""


def _settle_garbage_collector() -> None:
    """Collect less often, and never walk what start-up left.

    A JSON matrix becomes a list per row: a 784-256-128-10 request holds 1,200 lists with
    290,000 floats in them, and the default threshold of 700 new containers set off a
    collection in nearly every such request, which visited every float: 1.7 ms, 4% of the
    request. Requests leave no cycles behind, so a collection can wait for 10,000 new
    containers. gc.freeze() moves what start-up made (FastAPI, Pydantic, NumPy: some 70,000
    objects) out of the collector's way for good.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _self_check() -> bool:
    """Answer the SPEC.md example and compare the loss with the figure SPEC.md gives."""
    result = network.compute_backprop(BackpropRequest.model_validate(SPEC_EXAMPLE))
    ok = math.isclose(result["loss"], SPEC_EXAMPLE_LOSS, rel_tol=1e-12)
    if not ok:
        logger.error("self-check failed: loss %r, expected %r", result["loss"], SPEC_EXAMPLE_LOSS)
    return ok


app = create_app()
