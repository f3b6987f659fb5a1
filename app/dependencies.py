"""What routes are given by FastAPI's dependency injection: the pipeline that answers bodies.

The app made by ``create_app`` keeps its pipeline (its settings' limits and compute threads) in
``app.state``. A router included into another FastAPI app gets one made from the environment's
settings, so that every router of the service also works on its own.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings, get_settings
from app.pipeline import ComputePool, Pipeline


def make_pipeline(settings: Settings) -> Pipeline:
    """The limits and compute threads these settings set."""
    return Pipeline(
        settings.limits(),
        settings.max_body_values,
        ComputePool(
            settings.compute_threads, settings.compute_wait_seconds, settings.retry_after_seconds
        ),
    )


@cache
def _default_pipeline() -> Pipeline:
    return make_pipeline(get_settings())


def pipeline_of(request: Request) -> Pipeline:
    """The pipeline of the app serving the request."""
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    return pipeline if pipeline is not None else _default_pipeline()


async def get_pipeline(request: Request) -> Pipeline:
    """The app's pipeline (an async dependency: FastAPI runs it on the event loop)."""
    return pipeline_of(request)


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
