"""GET /v1/activations and GET /v1/losses: what is supported, with formulas and parameters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.catalog import ActivationCatalog, LossCatalog, activation_catalog, loss_catalog

router = APIRouter(prefix="/v1", tags=["catalog"])

_ACTIVATIONS = activation_catalog()
_LOSSES = loss_catalog()


@router.get("/activations", response_model=ActivationCatalog)
def activations() -> dict[str, Any]:
    """Each activation with its formula, its derivative and its parameters."""
    return _ACTIVATIONS


@router.get("/losses", response_model=LossCatalog)
def losses() -> dict[str, Any]:
    """Each loss with its formula, its gradient, its parameters and their preset defaults."""
    return _LOSSES
