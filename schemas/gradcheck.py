"""POST /v1/gradcheck: backprop's gradient against central finite differences, per tensor."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self  # typing.Self from Python 3.11 on

from engine.gradcheck import DEFAULT_EPSILON, KINK, THRESHOLDS, GradientCheck
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


Verdict = Literal["good", "acceptable", "suspicious", "wrong"]
TensorVerdict = Literal["good", "acceptable", "suspicious", "wrong", "kink"]


class KinkAnswer(BaseModel):
    index: list[int]
    verdict: Literal["kink"]
    message: Literal["kink: finite differences do not apply here"]
    analytic: float = Field(description="backprop's dL/dtheta (its convention at the kink)")
    numeric: float = Field(description="the central difference, (left + right) / 2")
    left: float = Field(description="(L(theta) - L(theta - h)) / h")
    right: float = Field(description="(L(theta + h) - L(theta)) / h")


class TensorCheckAnswer(BaseModel):
    layer: int = Field(description="0-based, as layers[i] of a /v1/backprop answer")
    parameter: Literal["weights", "biases"]
    max_relative_error: float | None = Field(
        description="max |a - n| / max(|a|, |n|) over the entries not at a kink (0 where "
        "|a - n| is within rounding_floor); null when every entry is at a kink"
    )
    verdict: TensorVerdict = Field(
        description="from max_relative_error; kink when every entry is at a kink"
    )
    worst_index: list[int] | None
    analytic: float | None
    numeric: float | None
    kinks: list[KinkAnswer] = Field(
        description="the entries whose central difference straddles a kink, each with its "
        "one-sided differences; they count in no verdict"
    )


class GradcheckResponse(BaseModel):
    verdict: TensorVerdict = Field(
        description="on every entry not at a kink; kink when every entry is at one"
    )
    max_relative_error: float | None
    epsilon: float
    rounding_floor: float | None = Field(
        description="u = 16 eps M / h: a difference |a - n| up to u is float64 rounding in "
        "L(theta + h) - L(theta - h), and counts as agreement; null where u is not below "
        "1e-4 of the largest gradient entry (the step is too small for float64), and then "
        "no difference is forgiven"
    )
    near_kink: bool = Field(
        description="some entry's central difference straddles a kink (see kinks)"
    )
    kinks: int = Field(description="how many entries straddle a kink, over every tensor")
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
        "rounding_floor": result.rounding_floor,
        "near_kink": result.near_kink,
        "kinks": result.kinks,
        "thresholds": {name: bound for bound, name in THRESHOLDS},
        "parameters": [
            {
                "layer": c.layer,
                "parameter": c.parameter,
                "max_relative_error": c.max_relative_error,
                "verdict": c.verdict,
                "worst_index": None if c.worst_index is None else list(c.worst_index),
                "analytic": c.analytic,
                "numeric": c.numeric,
                "kinks": [
                    {
                        "index": list(k.index),
                        "verdict": "kink",
                        "message": KINK,
                        "analytic": k.analytic,
                        "numeric": k.numeric,
                        "left": k.left,
                        "right": k.right,
                    }
                    for k in c.kinks
                ],
            }
            for c in result.checks
        ],
    }
