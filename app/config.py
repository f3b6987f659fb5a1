"""Settings, read from the environment (BACKPROP_*), with safe defaults for every one of them.

Each limit bounds one resource before it is spent; docs/deployment.md gives the worst case they
allow together. GET /v1/limits tells clients the values in force.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import DEFAULT_LIMITS, Limits

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]

ENV_PREFIX = "BACKPROP_"


def _shape_limit(name: str) -> Any:
    """A Settings field for one of the request shape limits, default and doc from schemas."""
    doc = next(f.metadata["doc"] for f in fields(Limits) if f.name == name)
    return Field(default=getattr(DEFAULT_LIMITS, name), gt=0, description=doc)


class Settings(BaseSettings):
    """Every setting, e.g. BACKPROP_MAX_BODY_BYTES=1048576 in the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    # What one request may be
    max_head_bytes: PositiveInt = Field(
        default=64 * 1024, description="bytes in a request line and its headers"
    )
    max_body_bytes: PositiveInt = Field(
        default=32 * 1024 * 1024, description="bytes in a request body"
    )
    max_batch_body_bytes: PositiveInt = Field(
        default=48 * 1024 * 1024,
        description="bytes in a /v1/grade/batch body (5,000 answers to a 4-8-8-3 problem, "
        "written to the last digit, take 34 MiB)",
    )
    max_body_values: PositiveInt = Field(
        default=4_000_000,
        description="values in a request body (counted by its commas before it is parsed)",
    )
    max_layers: int = _shape_limit("max_layers")
    max_width: int = _shape_limit("max_width")
    max_batch: int = _shape_limit("max_batch")
    max_parameters: int = _shape_limit("max_parameters")
    max_activation_elements: int = _shape_limit("max_activation_elements")
    max_work: int = _shape_limit("max_work")
    max_answer_values: int = _shape_limit("max_answer_values")

    # How long and how many at once
    head_timeout_seconds: PositiveFloat = Field(
        default=10.0, description="seconds a client has to send a request line and its headers"
    )
    body_timeout_seconds: PositiveFloat = Field(
        default=30.0, description="seconds a client has to send its whole request body"
    )
    write_timeout_seconds: PositiveFloat = Field(
        default=20.0,
        description="seconds an answer the client is not reading may make no progress before "
        "the connection is dropped (and its buffered answer freed)",
    )
    max_in_flight: PositiveInt = Field(
        default=64,
        description="requests one worker process handles at once; more are answered 503",
    )
    compute_threads: PositiveInt = Field(
        default=2, description="large requests computed at once per worker (the others wait)"
    )
    compute_wait_seconds: PositiveFloat = Field(
        default=10.0,
        description="seconds a large request may wait for a compute thread before a 503",
    )
    retry_after_seconds: PositiveInt = Field(
        default=1, description="the Retry-After of a 503 answer"
    )

    # The HTTP server (uvicorn)
    keep_alive_seconds: PositiveInt = Field(
        default=5, description="seconds an idle keep-alive connection is kept open"
    )
    max_connections: PositiveInt = Field(
        default=1000,
        description="connections one worker keeps at once; past it a new connection displaces "
        "the oldest one that has not sent a byte, or is answered 503",
    )
    graceful_shutdown_seconds: PositiveInt = Field(
        default=20, description="seconds given to requests in flight when the server stops"
    )

    # What is exposed
    docs_enabled: bool = Field(default=True, description="serve /docs and /openapi.json")
    cors_origins: list[str] = Field(
        default_factory=list,
        description='origins allowed by CORS, as JSON: ["https://example.org"]; none by default',
    )
    telemetry_enabled: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (traces, metrics and logs through the global "
        "providers); off by default, since even with no provider it costs about 12 us per "
        "request, a tenth of a tiny one",
    )

    def limits(self) -> Limits:
        """The request shape limits these settings set."""
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})

    def describe_limits(self) -> list[dict[str, Any]]:
        """Every limit and time bound: name, value, environment variable, what it bounds."""
        bounded = [name for name in type(self).model_fields if name.startswith("max_")]
        bounded += [
            "head_timeout_seconds",
            "body_timeout_seconds",
            "write_timeout_seconds",
            "compute_threads",
            "compute_wait_seconds",
        ]
        return [
            {
                "name": name,
                "value": getattr(self, name),
                "setting": ENV_PREFIX + name.upper(),
                "description": type(self).model_fields[name].description,
            }
            for name in bounded
        ]


@lru_cache
def get_settings() -> Settings:
    return Settings()
