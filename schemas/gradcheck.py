"""POST /v1/gradcheck: backprop's gradient against central finite differences, per tensor."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self  # typing.Self from Python 3.11 on

from engine.gradcheck import DEFAULT_EPSILON, THRESHOLDS, GradientCheck
from schemas.arrays import Targets
from schemas.requests import NetworkRequest

MAX_PARAMETERS = 5000
"""Weights and biases one check may perturb: it costs two forward passes for each."""

MAX_WORK = 200_000_000
"""samples x parameters^2: the multiply-adds of all those forward passes."""


class GradcheckRequest(NetworkRequest):
    """A /v1/backprop request without the step: the network, its data, the loss."""

    targets: Targets = Field(description="as for /v1/backprop")
    epsilon: Annotated[float, Field(strict=True, gt=0.0, le=1e-2)] = Field(
        default=DEFAULT_EPSILON, description="the step h of (L(theta + h) - L(theta - h)) / 2h"
    )

    @model_validator(mode="after")
    def _check_cost(self) -> Self:
        parameters = sum(layer.weights.size + layer.biases.size for layer in self.network.layers)
        work = self.n_samples * parameters * parameters
        if parameters > MAX_PARAMETERS or work > MAX_WORK:
            raise PydanticCustomError(
                "limit_exceeded",
                "{message}",
                {
                    "message": f"gradcheck perturbs each of the network's {parameters:,} "
                    f"weights and biases in turn, which is too much work for one request (at "
                    f"most {MAX_PARAMETERS:,} parameters and samples x parameters^2 up to "
                    f"{MAX_WORK:,}): check a smaller network or fewer samples"
                },
            )
        return self


class TensorCheckAnswer(BaseModel):
    layer: int = Field(description="0-based, as layers[i] of a /v1/backprop answer")
    parameter: Literal["weights", "biases"]
    max_relative_error: float = Field(description="max |a - n| / max(|a|, |n|) over entries")
    verdict: Literal["good", "acceptable", "suspicious", "wrong"]
    worst_index: list[int]
    analytic: float
    numeric: float


class GradcheckResponse(BaseModel):
    verdict: Literal["good", "acceptable", "suspicious", "wrong"]
    max_relative_error: float
    epsilon: float
    near_kink: bool = Field(
        description="some z of a ReLU-like activation is within a step of its kink at 0, where "
        "finite differences are unreliable"
    )
    thresholds: dict[str, float] = Field(
        description="upper bound of the relative error for each verdict (CS231n)"
    )
    parameters: list[TensorCheckAnswer]


def gradcheck_payload(result: GradientCheck) -> dict[str, Any]:
    """The /v1/gradcheck answer of the engine's check."""
    return {
        "verdict": result.verdict,
        "max_relative_error": result.max_relative_error,
        "epsilon": result.epsilon,
        "near_kink": result.near_kink,
        "thresholds": {name: bound for bound, name in THRESHOLDS},
        "parameters": [
            {
                "layer": c.layer,
                "parameter": c.parameter,
                "max_relative_error": c.max_relative_error,
                "verdict": c.verdict,
                "worst_index": list(c.worst_index),
                "analytic": c.analytic,
                "numeric": c.numeric,
            }
            for c in result.checks
        ],
    }
