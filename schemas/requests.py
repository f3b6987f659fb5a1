"""The /v1/forward and /v1/backprop requests, with the one validator that checks every shape.

Field types check each value on its own (finite numbers, rectangular matrices, known names);
``_check_shapes`` then checks every shape against its neighbours and the size limits, and says
in plain words what is wrong and where: "network.layers[1].weights has 2 rows but layer 1 has 3
outputs". Layers are numbered from 1 in prose, as in the textbook, and indexed from 0 in paths.
"""

from __future__ import annotations

from typing import Annotated, Literal, NoReturn

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self  # typing.Self from Python 3.11 on

import engine
from engine.explain import too_large_to_explain
from schemas.arrays import ArrayEncoding, Matrix, NonNegativeFloat, Samples, Targets, Vector
from schemas.limits import DEFAULT_LIMITS, Cost, Limits
from schemas.specs import ActivationSpec, LossSpec

ZeroOrOne = Annotated[int, Field(strict=True, ge=0, le=1)]
Preset = Literal["textbook", "pytorch", "keras"]
Layout = Literal["in_out", "out_in"]


class LayerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: Matrix = Field(
        description="W: [n_in, n_out] in the in_out layout (w_jk joins input j to output k), "
        "[n_out, n_in] in the out_in layout"
    )
    biases: Vector = Field(description="b: one per output, [n_out]")
    activation: ActivationSpec


class NetworkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layers: list[LayerSpec] = Field(min_length=1, description="the layers, input side first")


class NetworkRequest(BaseModel):
    """What /v1/forward and /v1/backprop share: a network, its inputs and the conventions."""

    model_config = ConfigDict(extra="forbid")

    network: NetworkSpec
    inputs: Samples = Field(
        description="[n_samples, n_0], or one flat sample [n_0] (then per-sample answers are flat)"
    )
    targets: Targets | None = None
    loss: LossSpec = Field(default="mse", validate_default=True)
    conventions: Preset = Field(
        default="textbook",
        description="the preset: textbook (in_out, ReLU'(0) = 1, MSE = 1/2 sum, sums), "
        "pytorch (out_in, ReLU'(0) = 0, MSE = mean, means) or keras (in_out, ReLU'(0) = 0, "
        "means, LeakyReLU's slope 0.3, probabilities clipped at epsilon 1e-7); GET "
        "/v1/conventions lists what each sets",
    )
    weight_layout: Layout | None = Field(
        default=None, description="overrides the preset's weight layout"
    )
    relu_grad_at_zero: ZeroOrOne | None = Field(
        default=None,
        description="overrides the preset's derivative at the kink z = 0 of relu and "
        "leaky_relu: 1 takes the right-hand side (1), 0 the left-hand side (0, or the slope)",
    )
    array_encoding: ArrayEncoding = Field(
        default="lists",
        description="how the answer writes its arrays: JSON lists of numbers, or Base64Array "
        "objects (the numbers' float64 bytes), which make a large network's request and answer "
        "about twice as fast end to end; any array of the request may be a Base64Array either way",
    )

    @model_validator(mode="after")
    def _check_shapes(self, info: ValidationInfo) -> Self:
        limits = (info.context or {}).get("limits", DEFAULT_LIMITS)
        widths = self._check_layers(limits)
        self._check_sizes(widths, limits)
        if self.targets is not None:
            self._check_targets(widths[-1])
        return self

    def cost(self) -> Cost:
        """The forward pass's multiply-adds and the /v1/backprop answer's numbers, as the size
        limits max_work and max_answer_values count them."""
        weights = units = 0
        for layer in self.network.layers:
            weights += layer.weights.size
            units += layer.biases.size
        n_outputs = layer.biases.size
        n_samples = self.n_samples
        per_sample = self.inputs.shape[-1] + 3 * units + n_outputs
        return Cost(n_samples * weights, n_samples * per_sample + 2 * (weights + units))

    # What the checks need -------------------------------------------------------------------

    @property
    def single_sample(self) -> bool:
        """Whether inputs is one flat sample (answers then have flat per-sample arrays)."""
        return self.inputs.ndim == 1

    @property
    def n_samples(self) -> int:
        return 1 if self.inputs.ndim == 1 else int(self.inputs.shape[0])

    @property
    def layout(self) -> engine.WeightLayout:
        """The weight layout in force: the override, or the preset's."""
        return _LAYOUTS[self.weight_layout or _PRESET_LAYOUTS[self.conventions]]

    # The checks ---------------------------------------------------------------------------------

    def widths(self) -> list[int]:
        """n_0, n_1, ..., n_L as the weight matrices give them (once their shapes are checked)."""
        out_axis = 1 if self.layout is engine.WeightLayout.IN_OUT else 0
        return [
            self.inputs.shape[-1],
            *(layer.weights.shape[out_axis] for layer in self.network.layers),
        ]

    def _check_layers(self, limits: Limits) -> list[int]:
        """Each layer against the one below it; returns n_0, ..., n_L."""
        layers = self.network.layers
        if len(layers) > limits.max_layers:
            _fail(
                "limit_exceeded",
                f"the network has {len(layers)} layers, over the limit "
                f"max_layers = {limits.max_layers}",
            )
        in_out = self.layout is engine.WeightLayout.IN_OUT
        widths = [self.inputs.shape[-1]]
        for i, layer in enumerate(layers):
            n_in, n_out = layer.weights.shape if in_out else layer.weights.shape[::-1]
            if n_in != widths[-1]:
                _layer_mismatch(i, n_in, n_out, widths[-1], in_out)
            if layer.biases.shape[0] != n_out:
                where, out_axis = f"network.layers[{i}]", "columns" if in_out else "rows"
                entries = _count(layer.biases.shape[0], "entry", "entries")
                _fail(
                    "shape_mismatch",
                    f"{where}.biases has {entries} but {where}.weights has {n_out} {out_axis}, "
                    "one per output",
                )
            if i != len(layers) - 1 and engine.ACTIVATIONS[layer.activation.name].last_layer_only:
                name = layer.activation.name
                _fail(
                    f"{name}_not_last",
                    f"network.layers[{i}].activation is {name}, which can only be the last "
                    f"layer's activation (network.layers[{len(layers) - 1}])",
                )
            widths.append(n_out)
        return widths

    def _check_sizes(self, widths: list[int], limits: Limits) -> None:
        sizes = _sizes(widths, self.n_samples)
        bounds = limits.size_bounds
        if all(map(int.__le__, sizes, bounds)):
            return
        for (name, what), size, limit in zip(_SIZES, sizes, bounds, strict=True):
            if size > limit:
                _fail(
                    "limit_exceeded",
                    f"{what.format(f'{size:,}')}, over the limit {name} = {limit:,}",
                )

    def _check_targets(self, n_outputs: int) -> None:
        targets = self.targets
        n_samples = self.n_samples
        if isinstance(targets, int) or (isinstance(targets, list) and not self.single_sample):
            classes = [targets] if isinstance(targets, int) else targets
            self._check_classes(classes, n_samples, n_outputs)
            return
        if isinstance(targets, list):  # integers, read as the target row of a flat sample
            _check_length("targets has {} numbers", len(targets), n_outputs)
            for i, value in enumerate(targets):
                if abs(value) > _LARGEST_FLOAT:
                    _fail("finite_number", f"targets[{i}] is too large for a float64")
            return
        assert targets is not None
        if targets.ndim == 1 and not self.single_sample:
            takes_classes = engine.LOSSES[self.loss.name].targets == "classes"
            also = ", or one class index per sample" if takes_classes else ""
            _fail(
                "shape_mismatch",
                f"targets is one flat row but inputs has {n_samples} samples: "
                f"give one row of {n_outputs} targets per sample{also}",
            )
        if targets.ndim == 2 and self.single_sample:
            _fail(
                "shape_mismatch",
                "targets has rows but inputs is one flat sample: give targets "
                f"as one flat row of {n_outputs} numbers",
            )
        if targets.ndim == 2 and targets.shape[0] != n_samples:
            _fail(
                "shape_mismatch",
                f"targets has {targets.shape[0]} rows but inputs has {n_samples} samples",
            )
        what = "targets has {} columns" if targets.ndim == 2 else "targets has {} numbers"
        _check_length(what, targets.shape[-1], n_outputs)

    def _check_classes(self, classes: list[int], n_samples: int, n_outputs: int) -> None:
        if engine.LOSSES[self.loss.name].targets != "classes":
            takes = [name for name, loss in engine.LOSSES.items() if loss.targets == "classes"]
            _fail(
                "targets_need_rows",
                f"class indices as targets only work with {' or '.join(takes)}: "
                f"give one row of {n_outputs} targets per sample",
            )
        if len(classes) != n_samples:
            _fail(
                "shape_mismatch",
                f"targets has {len(classes)} class indices but inputs has {n_samples} samples",
            )
        for i, k in enumerate(classes):
            if not 0 <= k < n_outputs:
                where = "targets" if isinstance(self.targets, int) else f"targets[{i}]"
                _fail(
                    "class_out_of_range",
                    f"{where} is class {k}, but the last layer has "
                    f"{n_outputs} outputs (classes 0 to {n_outputs - 1})",
                )


class ForwardRequest(NetworkRequest):
    """POST /v1/forward: the loss is computed when targets are given."""


class BackpropRequest(NetworkRequest):
    """POST /v1/backprop: one step of backpropagation and gradient descent (or ascent)."""

    targets: Targets = Field(
        description="[n_samples, n_L] rows, one flat row for a flat sample, or for "
        "cross_entropy class indices [n_samples] (one integer for a flat sample)"
    )
    learning_rate: NonNegativeFloat = Field(description="eta in W' = W - eta dL/dW")
    ascent: StrictBool = Field(default=False, description="W' = W + eta dL/dW instead")
    explain: StrictBool = Field(
        default=False,
        description="add each entry's textbook formula with the numbers substituted "
        "(small networks only)",
    )
    explain_sample: Annotated[int, Field(strict=True, ge=0)] = Field(
        default=0, description="the sample whose per-sample formulas are worked (0-based)"
    )

    @model_validator(mode="after")
    def _check_explain(self) -> Self:
        if not self.explain:
            return self
        n_samples = self.n_samples
        if self.explain_sample >= n_samples:
            _fail(
                "explain_sample_out_of_range",
                f"explain_sample is {self.explain_sample}, but inputs has {n_samples} "
                f"{'sample' if n_samples == 1 else 'samples'} (0 to {n_samples - 1})",
            )
        too_large = too_large_to_explain(self.widths(), n_samples)
        if too_large is not None:
            _fail(
                "too_large_to_explain", f"explain is for networks worked by hand, but {too_large}"
            )
        return self


def _sizes(widths: list[int], n_samples: int) -> tuple[int, ...]:
    """The sizes the limits of _SIZES bound, in that order, for widths n_0, ..., n_L."""
    weights = units = 0
    n_in = widths[0]
    for n_out in widths[1:]:
        weights += n_in * n_out
        units += n_out
        n_in = n_out
    parameters = weights + units
    widest = max(widths)
    per_sample = widths[0] + 3 * units + widths[-1]
    return (
        widest,
        n_samples,
        parameters,
        n_samples * widest,
        n_samples * weights,
        n_samples * per_sample + 2 * parameters,
    )


_LAYOUTS = {layout.value: layout for layout in engine.WeightLayout}
_PRESET_LAYOUTS = {preset.value: c.weight_layout.value for preset, c in engine.PRESETS.items()}

_SIZES = (
    ("max_width", "the widest layer (inputs included) has {} units"),
    ("max_batch", "inputs has {} samples"),
    ("max_parameters", "the network has {} weights and biases"),
    ("max_activation_elements", "samples x widest layer is {} numbers per array"),
    ("max_work", "the forward pass takes {} multiply-adds"),
    ("max_answer_values", "the answer would hold {} numbers"),
)
"""The size limits _check_sizes checks, in order, with what each size is in words."""


def _layer_mismatch(i: int, n_in: int, n_out: int, below: int, in_out: bool) -> NoReturn:
    """Layer i takes n_in inputs where the layer below gives it ``below``."""
    in_axis = "rows" if in_out else "columns"
    said = (
        f"each sample of inputs has {below} numbers" if i == 0 else f"layer {i} has {below} outputs"
    )
    hint = ""
    if n_out == below:
        hint = (
            f" (weights are read in the {'in_out' if in_out else 'out_in'} layout; "
            f"set weight_layout to {'out_in' if in_out else 'in_out'} if yours are "
            f"stored the other way round)"
        )
    _fail("shape_mismatch", f"network.layers[{i}].weights has {n_in} {in_axis} but {said}{hint}")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_LARGEST_FLOAT = float(np.finfo(np.float64).max)


def _check_length(what: str, length: int, n_outputs: int) -> None:
    if length != n_outputs:
        _fail("shape_mismatch", f"{what.format(length)} but the last layer has {n_outputs} outputs")


def _fail(kind: str, message: str) -> NoReturn:
    raise PydanticCustomError(kind, "{message}", {"message": message})
