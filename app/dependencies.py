"""What routes need of the app serving them: its settings, and the pipeline that answers bodies.

The app made by ``create_app`` keeps them in ``app.state``. A router included into another
FastAPI app gets them made from the environment's settings, so that every router of the service
also works on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings, get_settings
from app.pipeline import ComputePool, Pipeline


def make_pipeline(
    settings: Settings, *, on_compute_wait: Callable[[float], None] | None = None
) -> Pipeline:
    """The limits and compute threads these settings set; on_compute_wait is told how long
    each request waited for a compute thread."""
    return Pipeline(
        settings.limits(),
        settings.max_body_values,
        ComputePool(
            settings.compute_threads,
            settings.compute_wait_seconds,
            settings.retry_after_seconds,
            on_compute_wait,
        ),
    )


@cache
def _default_pipeline() -> Pipeline:
    return make_pipeline(get_settings())


def settings_of(request: Request) -> Settings:
    """The settings of the app serving the request (the environment's in another app)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings if settings is not None else get_settings()


def pipeline_of(request: Request) -> Pipeline:
    """The pipeline of the app serving the request."""
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    return pipeline if pipeline is not None else _default_pipeline()


async def get_pipeline(request: Request) -> Pipeline:
    """The app's pipeline (an async dependency: FastAPI runs it on the event loop)."""
    return pipeline_of(request)


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
