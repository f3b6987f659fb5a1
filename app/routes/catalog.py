"""GET /v1/activations, /v1/losses, /v1/conventions, /v1/limits and /v1/version: what is
supported, the presets, what is accepted, and which version answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.dependencies import settings_of
from app.version import service_version
from schemas.catalog import (
    ActivationCatalog,
    ConventionsCatalog,
    LimitCatalog,
    LossCatalog,
    VersionInfo,
    activation_catalog,
    conventions_catalog,
    loss_catalog,
)

router = APIRouter(prefix="/v1", tags=["catalog"])

_ACTIVATIONS = activation_catalog()
_LOSSES = loss_catalog()
_CONVENTIONS = conventions_catalog()


@router.get("/activations", response_model=ActivationCatalog)
def activations() -> dict[str, Any]:
    """Each activation with its formula, its derivative and its parameters."""
    return _ACTIVATIONS


@router.get("/losses", response_model=LossCatalog)
def losses() -> dict[str, Any]:
    """Each loss with its formula, its gradient, its parameters and their preset defaults."""
    return _LOSSES


@router.get("/conventions", response_model=ConventionsCatalog)
def conventions() -> dict[str, Any]:
    """Each preset (textbook, pytorch, keras) with exactly what it sets."""
    return _CONVENTIONS


@router.get("/limits", response_model=LimitCatalog)
def limits(request: Request) -> dict[str, Any]:
    """The limits in force: what one request may be, and how long and how many at once."""
    return {"limits": settings_of(request).describe_limits()}


@router.get("/version", response_model=VersionInfo)
def version() -> VersionInfo:
    """The version of the service answering (as ``backprop-service --version`` says it)."""
    return VersionInfo(version=service_version())
