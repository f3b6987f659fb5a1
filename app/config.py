"""Settings, read from the environment (BACKPROP_*), with safe defaults for every one of them.

Each limit bounds one resource before it is spent; docs/deployment.md gives the worst case they
allow together. GET /v1/limits tells clients the values in force.

A setting that is not valid, or a BACKPROP_* variable that is no setting (a typo would otherwise
be ignored without a word), is a SettingsError: one line per setting, naming its variable, the
value given and what is accepted, which ``backprop-service serve`` prints before exiting (and an
import of app.main, as ``uvicorn app.main:app`` does, too).
"""

from __future__ import annotations

import difflib
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import fields
from functools import lru_cache
from typing import Annotated, Any, Literal

from annotated_types import Gt
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # Compression
    gzip_minimum_bytes: PositiveInt = Field(
        default=4096,
        description="answers of at least this many bytes are gzip-compressed for clients that "
        "accept gzip (Accept-Encoding)",
    )
    gzip_level: int = Field(
        default=1,
        ge=0,
        le=9,
        description="the compression level of gzip answers: 1 is the fastest, 9 the smallest; "
        "0 sends every answer uncompressed",
    )

    # What is exposed
    docs_enabled: bool = Field(default=True, description="serve /docs and /openapi.json")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed by CORS, comma-separated (https://a.example,https://b.example)"
        ' or as a JSON list (["https://a.example"]); none by default',
    )
    metrics_enabled: bool = Field(
        default=True, description="serve GET /metrics (Prometheus' text format)"
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="the server's log lines: text, or json (one object per line with time, "
        "level, request_id and, for requests, route, method, status and duration_ms)",
    )
    telemetry_enabled: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (traces, metrics and logs through the global "
        "providers); off by default, since even with no provider it costs about 12 us per "
        "request, a tenth of a tiny one",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """A list setting as people type it: comma-separated, or a JSON list."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc.msg}") from None
        return [item.strip() for item in value.split(",") if item.strip()]

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


class SettingsError(ValueError):
    """Settings that are not valid: one line per setting, which says what is accepted."""


@lru_cache
def get_settings() -> Settings:
    """The environment's settings; SettingsError when one is not valid."""
    return load_settings()


def load_settings() -> Settings:
    """The environment's settings, or a SettingsError saying what is wrong with them."""
    problems = _unknown_variables(os.environ)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems.extend(dict.fromkeys(_invalid(error, os.environ) for error in exc.errors()))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def accepted(field: FieldInfo) -> str:
    """What a setting accepts, in words: "a whole number greater than 0", "true or false"."""
    kind, *args = typing.get_args(field.annotation) or (field.annotation,)
    if typing.get_origin(field.annotation) is typing.Literal:
        return "one of " + ", ".join(str(a) for a in (kind, *args))
    if typing.get_origin(field.annotation) is list:
        return 'a comma-separated list (a,b) or a JSON list (["a", "b"])'
    above = next((f" greater than {m.gt}" for m in field.metadata if isinstance(m, Gt)), "")
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return words.get(kind, str(kind)) + above


def _invalid(error: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """One line for a setting's error: its variable, the value given, what is accepted."""
    name = str(error["loc"][0]) if error["loc"] else ""
    field = Settings.model_fields.get(name)
    if field is None:  # not one setting's error: say it as Pydantic does
        return f"the settings are not valid: {error['msg']}"
    variable = ENV_PREFIX + name.upper()
    given = str(next((v for k, v in environ.items() if k.upper() == variable), error["input"]))
    shown = repr(given if len(given) <= 40 else given[:37] + "...")
    return f"{variable}={shown} is not valid: expected {accepted(field)}"


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    known = [ENV_PREFIX + name.upper() for name in Settings.model_fields]
    problems = []
    for variable in sorted(environ):
        if variable.upper().startswith(ENV_PREFIX) and variable.upper() not in known:
            close = difflib.get_close_matches(variable.upper(), known, n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{variable} is not a setting{hint}: docs/deployment.md lists them")
    return problems
