"""Settings, read from the environment (BACKPROP_*), with safe defaults for every one of them."""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import DEFAULT_LIMITS, Limits

PositiveInt = Annotated[int, Field(gt=0)]


class Settings(BaseSettings):
    """Every setting, e.g. BACKPROP_MAX_BODY_BYTES=1048576 in the environment."""

    model_config = SettingsConfigDict(env_prefix="BACKPROP_", frozen=True)

    max_body_bytes: PositiveInt = Field(
        default=32 * 1024 * 1024, description="largest request body, in bytes"
    )
    max_layers: PositiveInt = DEFAULT_LIMITS.max_layers
    max_width: PositiveInt = DEFAULT_LIMITS.max_width
    max_batch: PositiveInt = DEFAULT_LIMITS.max_batch
    max_parameters: PositiveInt = DEFAULT_LIMITS.max_parameters
    max_activation_elements: PositiveInt = DEFAULT_LIMITS.max_activation_elements
    max_work: PositiveInt = DEFAULT_LIMITS.max_work
    docs_enabled: bool = Field(default=True, description="serve /docs and /openapi.json")
    telemetry_enabled: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (traces, metrics and logs through the global "
        "providers); off by default, since even with no provider it costs about 12 us per "
        "request, a tenth of a tiny one",
    )

    def limits(self) -> Limits:
        """The request size limits these settings set."""
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})


@lru_cache
def get_settings() -> Settings:
    return Settings()
