"""GET /v1/activations, /v1/losses and /v1/conventions: what the engine supports, read from its
registries and presets; GET /v1/limits and GET /v1/version: the limits in force and the version
answering."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from engine import ACTIVATIONS, LOSSES, PRESETS, Preset, activations, losses, make_activation


class ActivationParameter(BaseModel):
    name: str
    default: float | str = Field(description="the default under the textbook preset")
    defaults: dict[str, float | str] = Field(
        description="the default under each preset (textbook, pytorch, keras)"
    )
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
        description="the default under each preset (textbook, pytorch, keras); null: none"
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
                "parameters": [
                    {**p, "defaults": _activation_defaults(name, p["name"])}
                    for p in activations.parameters_of(cls)
                ],
                "last_layer_only": cls.last_layer_only,
                "kink_follows_relu_grad_at_zero": activations.follows_kink_convention(cls),
            }
            for name, cls in ACTIVATIONS.items()
        ]
    }


def _activation_defaults(name: str, parameter: str) -> dict[str, Any]:
    return {
        preset.value: getattr(make_activation(name, {}, conventions), parameter)
        for preset, conventions in PRESETS.items()
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


class MSEDefaults(BaseModel):
    reduction: Literal["sum", "mean", "batch_mean"]
    half: bool


class PresetInfo(BaseModel):
    name: Literal["textbook", "pytorch", "keras"]
    description: str
    weight_layout: Literal["in_out", "out_in"]
    relu_grad_at_zero: Literal[0, 1] = Field(
        description="ReLU'(0) and LeakyReLU'(0): 1 takes the right-hand side, 0 the left"
    )
    mse: MSEDefaults = Field(description="MSE's reduction and whether it has the 1/2")
    reduction: Literal["sum", "mean"] = Field(description="every other loss's reduction")
    leaky_relu_negative_slope: float = Field(description="LeakyReLU's slope when left out")
    epsilon: float | None = Field(
        description="cross_entropy's and binary_cross_entropy's epsilon when left out: "
        "outputs taken as probabilities are clipped to [epsilon, 1 - epsilon] (and "
        "cross_entropy's rows divided by their sum) as Keras does; null: as they are"
    )


class ConventionsCatalog(BaseModel):
    presets: list[PresetInfo]


_PRESET_DESCRIPTIONS: dict[Preset, str] = {
    Preset.TEXTBOOK: "the textbook's (the default): w_jk joins unit j to unit k, ReLU'(0) = 1, "
    "MSE = 1/2 of the sum of squares (so dL/do = o - t), every loss summed",
    Preset.PYTORCH: "PyTorch's: nn.Linear's [out, in] weights, autograd's ReLU'(0) = 0, "
    "every loss averaged (reduction='mean', MSELoss without 1/2)",
    Preset.KERAS: "Keras 3's: Dense's [in, out] kernels, the LeakyReLU layer's slope 0.3, "
    "ReLU'(0) = 0 (TensorFlow and PyTorch backends), losses reduced by "
    "'sum_over_batch_size' (the mean over samples of each sample's mean, or sum for "
    "cross_entropy), probabilities clipped to [1e-7, 1 - 1e-7] and categorical rows divided "
    "by their sum, as Keras' backend computes them; a softmax or sigmoid last layer gives "
    "its logits to the loss, as Keras' TensorFlow backend does",
}


def conventions_catalog() -> dict[str, Any]:
    """Each preset, with exactly what it sets (engine.PRESETS)."""
    return {
        "presets": [
            {
                "name": preset.value,
                "description": _PRESET_DESCRIPTIONS[preset],
                "weight_layout": c.weight_layout.value,
                "relu_grad_at_zero": c.relu_grad_at_zero,
                "mse": {"reduction": c.mse_reduction, "half": c.mse_half},
                "reduction": c.reduction,
                "leaky_relu_negative_slope": c.leaky_relu_negative_slope,
                "epsilon": c.epsilon,
            }
            for preset, c in PRESETS.items()
        ]
    }
