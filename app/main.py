"""The FastAPI application: ``app.main:app``, built by ``create_app``."""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp

from app.config import Settings, get_settings
from app.errors import install_error_handler
from app.middleware import Gate
from app.openapi import COMMON_ERRORS, install_openapi
from app.pipeline import BodyRoute, ComputePool, Operation, Pipeline
from app.routes import catalog, derivatives, grading, health, network, playground
from schemas import SPEC_EXAMPLE, BackpropRequest
from schemas.examples import SPEC_EXAMPLE_LOSS

logger = logging.getLogger("backprop_service")

DESCRIPTION = """
Backpropagation as a service: POST a fully connected network, its inputs and targets, and get
back the forward pass, the loss, every layer's deltas, the weight and bias gradients and the
updated parameters, in float64, by the textbook's conventions or PyTorch's.

Every error answer has one shape: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""


TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class Service(FastAPI):
    """FastAPI with the gate (app/middleware.py) in front of its whole middleware stack, and
    CORS, when configured, in front of the gate, so that its refusals carry CORS headers too."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(**options)
        self.settings = settings
        self.operations: dict[str, Operation] = {}
        self.pipeline = Pipeline(
            settings.limits(),
            settings.max_body_values,
            ComputePool(
                settings.compute_threads,
                settings.compute_wait_seconds,
                settings.retry_after_seconds,
            ),
        )

    def include_routers(self, routers: list[APIRouter]) -> None:
        """Include each router, and note the Operations (app/pipeline.py) of its routes."""
        for router in routers:
            self.include_router(router)
            for route in router.routes:
                if isinstance(route, BodyRoute):
                    self.operations[route.path] = route.operation

    def build_middleware_stack(self) -> ASGIApp:
        settings = self.settings
        app: ASGIApp = Gate(
            super().build_middleware_stack(),
            max_in_flight=settings.max_in_flight,
            retry_after=settings.retry_after_seconds,
            max_body_bytes=settings.max_body_bytes,
            smaller={derivatives.router.prefix: derivatives.MAX_BODY_BYTES},
            pipeline=self.pipeline,
            operations=self.operations,
        )
        if settings.cors_origins:
            app = CORSMiddleware(
                app,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type"],
            )
        return app


def create_app(settings: Settings | None = None) -> Service:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = _self_check()
        _settle_garbage_collector()
        yield
        app.state.ready = False

    app = Service(
        settings,
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
    app.state.ready = False
    app.include_routers([m.router for m in (network, grading, catalog, derivatives, health)])
    app.include_router(playground.router)
    install_error_handler(app)
    install_openapi(app, [operation.model for operation in app.operations.values()])
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
