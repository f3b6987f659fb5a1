"""POST /v1/problems: a seeded exercise for each student, optionally with its solution.

The answer's "problem" is a /v1/backprop request, ready to be handed out, posted to
/v1/backprop or used as the "problem" of /v1/grade. The same parameters give the same problem
on every machine and in every later version (see engine/problems.py).
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self  # typing.Self from Python 3.11 on

from engine import ACTIVATIONS
from engine.problems import GeneratedProblem
from schemas.arrays import NonNegativeFloat
from schemas.specs import ActivationSpec, LossSpec

MAX_LAYER_SIZE = 8
MAX_LAYERS = 6
MAX_BATCH = 8

_Size = Annotated[int, Field(strict=True, ge=1, le=MAX_LAYER_SIZE)]


class ProblemRequest(BaseModel):
    """The parameters of a generated problem; the seed makes it one student's."""

    model_config = ConfigDict(extra="forbid")

    seed: Annotated[int, Field(strict=True, ge=0, lt=2**64)] = Field(
        description="any integer in [0, 2^64): a student number, say"
    )
    layer_sizes: Annotated[list[_Size], Field(min_length=2, max_length=MAX_LAYERS + 1)] = Field(
        default_factory=lambda: [2, 2, 2],
        description="n_0 (inputs), n_1, ..., n_L: [2, 3, 2] is a 2-3-2 network",
    )
    activations: ActivationSpec | list[ActivationSpec] = Field(
        default="sigmoid",
        validate_default=True,
        description="one for every layer, or a list with one per layer",
    )
    loss: LossSpec = Field(default="mse", validate_default=True)
    batch_size: Annotated[int, Field(strict=True, ge=1, le=MAX_BATCH)] = 1
    decimals: Annotated[int, Field(strict=True, ge=0, le=4)] = Field(
        default=1, description="decimal places of the weights, biases, inputs and targets"
    )
    weight_range: Annotated[float, Field(strict=True, gt=0.0, le=10.0)] = Field(
        default=1.0, description="weights, biases and inputs lie in [-weight_range, weight_range]"
    )
    learning_rate: NonNegativeFloat = 0.5
    solution: StrictBool = Field(default=False, description="add the /v1/backprop answer")
    explain: StrictBool = Field(default=False, description="add worked formulas to the solution")

    @model_validator(mode="after")
    def _check_activations(self) -> Self:
        n_layers = len(self.layer_sizes) - 1
        activations = self.activations
        if not isinstance(activations, list):
            activations = [activations] * n_layers
        elif len(activations) != n_layers:
            _fail(
                "shape_mismatch",
                f"activations has {len(activations)} entries but layer_sizes makes "
                f"{n_layers} layers",
            )
        for i, activation in enumerate(activations[:-1]):
            if ACTIVATIONS[activation.name].last_layer_only:
                where = f"activations[{i}]" if isinstance(self.activations, list) else "activations"
                _fail(
                    f"{activation.name}_not_last",
                    f"{where} is {activation.name}, which can only be the last layer's activation",
                )
        return self


def problem_payload(req: ProblemRequest, generated: GeneratedProblem) -> dict[str, Any]:
    """The generated problem as a /v1/backprop request body, ready to hand out."""
    n_layers = len(req.layer_sizes) - 1
    activations = (
        req.activations if isinstance(req.activations, list) else [req.activations] * n_layers
    )
    return {
        "network": {
            "layers": [
                {"weights": W.tolist(), "biases": b.tolist(), "activation": _spec(f)}
                for W, b, f in zip(generated.weights, generated.biases, activations, strict=True)
            ]
        },
        "inputs": generated.inputs.tolist(),
        "targets": generated.targets.tolist(),
        "loss": _spec(req.loss),
        "learning_rate": req.learning_rate,
        **({"explain": True} if req.explain else {}),
    }


def _spec(spec: BaseModel) -> Any:
    """An activation or loss as a request writes it: its name alone when it has no parameters."""
    dumped = spec.model_dump(exclude_none=True, exclude_defaults=True) | {"name": spec.name}  # type: ignore[attr-defined]
    return dumped["name"] if len(dumped) == 1 else dumped


class ProblemResponse(BaseModel):
    problem: dict[str, Any] = Field(description="a /v1/backprop request")
    solution: dict[str, Any] | None = Field(
        default=None, description="the /v1/backprop answer, when asked for"
    )


def _fail(kind: str, message: str) -> NoReturn:
    raise PydanticCustomError(kind, "{message}", {"message": message})
