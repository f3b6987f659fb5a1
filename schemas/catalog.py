"""GET /v1/activations and GET /v1/losses: what the engine supports, read from its registries;
GET /v1/limits and GET /v1/version: the limits in force and the version answering."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from engine import ACTIVATIONS, LOSSES, activations, losses


class ActivationParameter(BaseModel):
    name: str
    default: float | str
    description: str


class ActivationInfo(BaseModel):
    name: str
    formula: str
    derivative: str
    parameters: list[ActivationParameter]
    last_layer_only: bool = Field(description="softmax mixes units: only the last layer may use it")
    kink_follows_relu_grad_at_zero: bool = Field(
        description="its derivative at z = 0 is set by the relu_grad_at_zero convention"
    )


class ActivationCatalog(BaseModel):
    activations: list[ActivationInfo]


class LossParameter(BaseModel):
    name: str
    description: str
    defaults: dict[str, str | float | bool | None] = Field(
        description="the default under each preset (textbook, pytorch)"
    )


class LossInfo(BaseModel):
    name: str
    formula: str
    gradient: str
    parameters: list[LossParameter]
    reductions: list[str]
    class_indices: bool = Field(description="whether targets may be class indices")
    fused_with: str | None = Field(
        description="the last-layer activation whose dL/dz is computed in one stable step"
    )


class LossCatalog(BaseModel):
    losses: list[LossInfo]


def activation_catalog() -> dict[str, Any]:
    return {
        "activations": [
            {
                "name": name,
                "formula": cls.formula,
                "derivative": cls.derivative_formula,
                "parameters": activations.parameters_of(cls),
                "last_layer_only": cls.last_layer_only,
                "kink_follows_relu_grad_at_zero": activations.follows_kink_convention(cls),
            }
            for name, cls in ACTIVATIONS.items()
        ]
    }


def loss_catalog() -> dict[str, Any]:
    return {
        "losses": [
            {
                "name": name,
                "formula": cls.formula,
                "gradient": cls.gradient_formula,
                "parameters": losses.parameters_of(cls),
                "reductions": list(cls.reductions),
                "class_indices": cls.targets == "classes",
                "fused_with": None if cls.link is None else cls.link.name,
            }
            for name, cls in LOSSES.items()
        ]
    }


class LimitInfo(BaseModel):
    name: str
    value: int | float
    setting: str = Field(description="the environment variable that sets it")
    description: str


class LimitCatalog(BaseModel):
    limits: list[LimitInfo]


class VersionInfo(BaseModel):
    version: str = Field(description="the service's version, as installed (e.g. 1.0.0)")
