"""The FastAPI application: ``app.main:app``, built by ``create_app``.

Stock wiring, as FastAPI's guides show it: the routers, the exception handlers, and the
middlewares added with ``app.add_middleware``. Every request goes through FastAPI's middleware
stack, its router and the routes' dependencies, so a middleware, a dependency or an exception
handler a deployer adds the usual way applies to every endpoint.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, params
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from app import services
from app.compression import GzipAnswerMiddleware, GzipRequestMiddleware
from app.config import Settings, SettingsError, get_settings
from app.dependencies import make_pipeline
from app.errors import install_error_handler
from app.metrics import Metrics, MetricsMiddleware
from app.middleware import AdmissionMiddleware, BodyLimit, BodyLimitMiddleware
from app.openapi import COMMON_ERRORS, install_openapi
from app.request_ids import RequestIdMiddleware
from app.routes import catalog, derivatives, docs, grading, health, network, playground
from app.routes import metrics as metrics_route
from app.version import service_version
from engine import calculus

logger = logging.getLogger("backprop_service")

DESCRIPTION = """
Backpropagation as a service: POST a fully connected network, its inputs and targets, and get
back the forward pass, the loss, every layer's deltas, the weight and bias gradients and the
updated parameters, in float64, by the textbook's conventions or PyTorch's.

Every error answer has one shape: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""

TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

ROUTERS = (network.router, grading.router, derivatives.router, catalog.router, health.router)
"""The API's routers, the busiest first: the router tries routes in order."""


def create_app(
    settings: Settings | None = None, *, dependencies: Sequence[params.Depends] = ()
) -> FastAPI:
    """The service's app under these settings (default: the environment's, app/config.py).

    dependencies: FastAPI dependencies every endpoint runs first, an authentication check, say
    (``create_app(dependencies=[Depends(check_token)])``); the app is an ordinary FastAPI app,
    so ``app.add_middleware``, ``app.add_exception_handler`` and ``app.include_router`` with
    dependencies work as FastAPI's guides show too.
    """
    settings = settings or get_settings()

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics.started()
        # the SymPy workers start now, so that no verdict depends on how long the server is up
        app.state.ready = _self_check() and await anyio.to_thread.run_sync(calculus.warm_up)
        _settle_garbage_collector()
        yield
        app.state.ready = False
        metrics.stopped()

    app = FastAPI(
        title="backprop-service",
        version=service_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by app/routes/docs.py, after the API's routes
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        responses=COMMON_ERRORS,
        telemetry=None if settings.telemetry_enabled else TELEMETRY_OFF,
        dependencies=list(dependencies) or None,
    )
    app.state.settings = settings
    app.state.pipeline = make_pipeline(settings, on_compute_wait=metrics.compute_wait.observe)
    app.state.metrics = metrics
    app.state.ready = False
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(playground.router)
    if settings.metrics_enabled:
        app.include_router(metrics_route.router)
    if settings.docs_enabled:
        app.include_router(docs.router)
        app.mount(docs.ASSETS_PATH, docs.assets(), name="docs-assets")
    install_error_handler(app)
    install_openapi(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        by_prefix={
            grading.router.prefix + grading.BATCH: BodyLimit(
                settings.max_batch_body_bytes, "max_batch_body_bytes"
            ),
            derivatives.router.prefix: BodyLimit(
                derivatives.MAX_BODY_BYTES, f"of {derivatives.router.prefix}"
            ),
        },
    )
    app.add_middleware(GzipRequestMiddleware)  # outside the body limits: they count inflated bytes
    app.add_middleware(
        AdmissionMiddleware,
        max_in_flight=settings.max_in_flight,
        retry_after=settings.retry_after_seconds,
    )
    if settings.gzip_level:
        app.add_middleware(
            GzipAnswerMiddleware,
            minimum_size=settings.gzip_minimum_bytes,
            compresslevel=settings.gzip_level,
            exclude_content_types=("image/*", "font/*"),  # already compressed, or tiny
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # counts the refusals above too
    app.add_middleware(RequestIdMiddleware)  # outside the others: their refusals get an id too
    if settings.cors_origins:  # outermost, so that a browser can read the refusals too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-request-id"],
            expose_headers=["x-request-id"],
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
    """The contract's worked example, answered as any request is (docs/api.md has its loss)."""
    ok = services.self_check()
    if not ok:
        logger.error("self-check failed: the worked example's loss is not the published one")
    return ok


try:
    app = create_app()
except SettingsError as exc:  # as `backprop-service serve` says it, and no traceback
    lines = [f"backprop-service: {line}" for line in str(exc).splitlines()]
    raise SystemExit("\n".join(lines)) from None
