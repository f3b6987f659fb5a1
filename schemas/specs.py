"""Activations and losses as a request names them: a name, or an object with a name and parameters.

"sigmoid" and {"name": "sigmoid"} are the same; {"name": "leaky_relu", "negative_slope": 0.2}
sets a parameter. Unknown names and unknown parameters are errors (a misspelt
"negative_slop" must not fall back to the default silently). Parameter defaults are read from
the engine, so they are written down once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from engine import activations, losses
from schemas.arrays import FiniteFloat, NonNegativeFloat, PositiveFloat


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def params(self) -> dict[str, Any]:
        """The parameters for the engine: everything but the name (plain values, all of them)."""
        return {field: value for field, value in self.__dict__.items() if field != "name"}


def _name_to_object(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


# Activations ------------------------------------------------------------------------------------

PlainActivationName = Literal["linear", "sigmoid", "tanh", "relu", "selu", "silu", "softmax"]


class PlainActivation(_Spec):
    """An activation without parameters."""

    name: PlainActivationName

    def params(self) -> dict[str, Any]:
        return {}


class LeakyReLUSpec(_Spec):
    name: Literal["leaky_relu"]
    negative_slope: FiniteFloat | None = Field(
        default=None, description="the preset's when left out: 0.01, or 0.3 under keras"
    )


class ELUSpec(_Spec):
    name: Literal["elu"]
    alpha: FiniteFloat = activations.ELU.alpha


class GELUSpec(_Spec):
    name: Literal["gelu"]
    approximate: Literal["none", "tanh"] = activations.GELU.approximate


class SoftplusSpec(_Spec):
    name: Literal["softplus"]
    beta: PositiveFloat = activations.Softplus.beta
    threshold: FiniteFloat = activations.Softplus.threshold


_ActivationObject = PlainActivation | LeakyReLUSpec | ELUSpec | GELUSpec | SoftplusSpec
ActivationName = Literal[
    "linear", "sigmoid", "tanh", "relu", "selu", "silu", "softmax",
    "leaky_relu", "elu", "gelu", "softplus",
]  # fmt: skip

ActivationSpec = Annotated[
    _ActivationObject,
    Field(discriminator="name"),
    BeforeValidator(_name_to_object, json_schema_input_type=ActivationName | _ActivationObject),
]
"""An activation: its name, or an object with its name and parameters."""


# Losses -------------------------------------------------------------------------------------------
# A reduction (and MSE's half, the cross-entropies' epsilon) left out takes the default of the
# request's conventions.

SumOrMean = Literal["sum", "mean"]
KerasEpsilon = Annotated[FiniteFloat, Field(gt=0.0, lt=0.5)]
"""Keras' fuzz factor: outputs taken as probabilities are clipped to [epsilon, 1 - epsilon]."""


class MSESpec(_Spec):
    name: Literal["mse"]
    reduction: Literal["sum", "mean", "batch_mean"] | None = None
    half: StrictBool | None = None


class CrossEntropySpec(_Spec):
    name: Literal["cross_entropy"]
    from_logits: StrictBool = losses.CrossEntropy.from_logits
    label_smoothing: Annotated[FiniteFloat, Field(ge=0.0, lt=1.0)] = (
        losses.CrossEntropy.label_smoothing
    )
    reduction: SumOrMean | None = None
    epsilon: KerasEpsilon | None = None


class BinaryCrossEntropySpec(_Spec):
    name: Literal["binary_cross_entropy"]
    from_logits: StrictBool = losses.BinaryCrossEntropy.from_logits
    reduction: SumOrMean | None = None
    epsilon: KerasEpsilon | None = None


class L1Spec(_Spec):
    name: Literal["l1"]
    reduction: SumOrMean | None = None


class HuberSpec(_Spec):
    name: Literal["huber"]
    delta: PositiveFloat = losses.Huber.delta
    reduction: SumOrMean | None = None


class SmoothL1Spec(_Spec):
    name: Literal["smooth_l1"]
    beta: NonNegativeFloat = losses.SmoothL1.beta
    reduction: SumOrMean | None = None


_LossObject = (
    MSESpec | CrossEntropySpec | BinaryCrossEntropySpec | L1Spec | HuberSpec | SmoothL1Spec
)
LossName = Literal["mse", "cross_entropy", "binary_cross_entropy", "l1", "huber", "smooth_l1"]

LossSpec = Annotated[
    _LossObject,
    Field(discriminator="name"),
    BeforeValidator(_name_to_object, json_schema_input_type=LossName | _LossObject),
]
"""A loss: its name, or an object with its name and parameters."""

SPEC_TAGS = frozenset(activations.ACTIVATIONS) | frozenset(losses.LOSSES)
"""The names that tag the unions above (they appear in the location of an error inside one)."""
