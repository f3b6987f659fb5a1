"""The /v1/forward and /v1/backprop answers: their models, and their assembly from engine results.

The models document the answers in OpenAPI and let tests check real answers against them; the
service itself writes the answers with orjson straight from NumPy arrays (see ``*_payload``),
so large arrays are never turned into Python lists or validated a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

import engine
from engine.types import FloatArray
from schemas.arrays import ArrayEncoding, Base64Array, encode_base64
from schemas.explanations import Explanation

PerSample = list[list[float]] | list[float] | Base64Array
"""One row per sample, or one flat row when the request's inputs was one flat sample (lists);
or the same array as a Base64Array, when the request's array_encoding asks for it."""
Rows = list[list[float]] | Base64Array
Row = list[float] | Base64Array


class ConventionsUsed(BaseModel):
    preset: Literal["textbook", "pytorch", "keras"]
    weight_layout: Literal["in_out", "out_in"]
    relu_grad_at_zero: Literal[0, 1]
    loss: dict[str, str | float | bool] = Field(
        description="the loss with every parameter resolved, e.g. "
        '{"name": "mse", "reduction": "sum", "half": true}'
    )


class LayerForward(BaseModel):
    pre_activations: PerSample = Field(description="z^l = a^(l-1) W^l + b^l, [n_samples, n_l]")
    activations: PerSample = Field(description="a^l = f(z^l), [n_samples, n_l]")


class LayerBackprop(LayerForward):
    deltas: PerSample = Field(description="delta^l = dL/dz^l, [n_samples, n_l]")
    weight_gradients: Rows = Field(description="dL/dW^l, in the weights' layout")
    bias_gradients: Row = Field(description="dL/db^l = sum over samples of delta^l")
    updated_weights: Rows = Field(description="W - eta dL/dW (+ for ascent)")
    updated_biases: Row = Field(description="b - eta dL/db (+ for ascent)")


class ForwardResponse(BaseModel):
    loss: float | None = Field(default=None, description="present when targets were given")
    outputs: PerSample
    layers: list[LayerForward]
    conventions: ConventionsUsed


class BackpropResponse(BaseModel):
    loss: float
    outputs: PerSample
    layers: list[LayerBackprop] = Field(description="layers[i] is layer i + 1 of the request")
    input_gradients: PerSample = Field(description="dL/dx = delta^1 W^1^T, [n_samples, n_0]")
    conventions: ConventionsUsed
    explanation: Explanation | None = Field(
        default=None, description='worked formulas, present when the request says "explain": true'
    )


def conventions_payload(conventions: engine.Conventions, loss: engine.Loss) -> dict[str, Any]:
    return {
        "preset": conventions.preset.value,
        "weight_layout": conventions.weight_layout.value,
        "relu_grad_at_zero": conventions.relu_grad_at_zero,
        "loss": {name: value for name, value in loss.params().items() if value is not None},
    }


def forward_payload(
    fwd: engine.ForwardPass,
    loss: float | None,
    *,
    single_sample: bool,
    conventions: dict[str, Any],
    arrays: ArrayEncoding = "lists",
) -> dict[str, Any]:
    """The /v1/forward answer, arrays left as NumPy arrays for orjson to write."""
    per_sample = _per_sample(single_sample, _ENCODERS[arrays])
    payload: dict[str, Any] = {} if loss is None else {"loss": loss}
    payload["outputs"] = per_sample(fwd.outputs)
    payload["layers"] = [
        {"pre_activations": per_sample(z), "activations": per_sample(a)}
        for z, a in zip(fwd.pre_activations, fwd.activations, strict=True)
    ]
    payload["conventions"] = conventions
    return payload


def backprop_payload(
    result: engine.Backprop,
    *,
    single_sample: bool,
    conventions: dict[str, Any],
    arrays: ArrayEncoding = "lists",
    explanation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The /v1/backprop answer, arrays left as NumPy arrays for orjson to write."""
    encode = _ENCODERS[arrays]
    per_sample = _per_sample(single_sample, encode)
    fwd = result.forward
    payload = {
        "loss": result.loss,
        "outputs": per_sample(fwd.outputs),
        "layers": [
            {
                "pre_activations": per_sample(z),
                "activations": per_sample(a),
                "deltas": per_sample(grads.delta),
                "weight_gradients": encode(grads.weight_gradient),
                "bias_gradients": encode(grads.bias_gradient),
                "updated_weights": encode(grads.updated_weights),
                "updated_biases": encode(grads.updated_biases),
            }
            for z, a, grads in zip(fwd.pre_activations, fwd.activations, result.layers, strict=True)
        ],
        "input_gradients": per_sample(result.input_gradient),
        "conventions": conventions,
    }
    if explanation is not None:
        payload["explanation"] = explanation
    return payload


def _as_array(array: FloatArray) -> FloatArray:
    return array  # orjson writes it as JSON lists


_ENCODERS: dict[ArrayEncoding, Callable[[FloatArray], Any]] = {
    "lists": _as_array,
    "base64": encode_base64,
}


def _per_sample(single_sample: bool, encode: Callable[[FloatArray], Any]) -> Any:
    def per_sample(rows: FloatArray) -> Any:
        return encode(rows[0] if single_sample else rows)

    return per_sample
