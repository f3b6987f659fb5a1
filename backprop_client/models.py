"""What the client sends and what it hands back: frozen dataclasses holding NumPy arrays.

They mirror the service's own models (schemas/ in the server, documented at /docs) without
importing them, so that the client runs on machines without the server. Layers are numbered
as in the answers: ``layers[i]`` is layer i + 1 of the textbook.

Shapes, with N samples and n_0, ..., n_L units (in_out layout, the textbook's default):

    Layer.weights        (n_in, n_out)   [(n_out, n_in) in the out_in layout]
    Layer.biases         (n_out,)
    Problem.inputs       (N, n_0), or (n_0,) for one flat sample
    Problem.targets      (N, n_L); (n_L,) for a flat sample; or class indices (N,) as integers
    pre_activations, activations, deltas         (N, n_l), flat (n_l,) for a flat sample
    weight_gradients, updated_weights            as Layer.weights
    bias_gradients, updated_biases               (n_l,)
    input_gradients                              as Problem.inputs
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from backprop_client.arrays import FloatArray, decode, encode, float_values

ActivationName = Literal[
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "softplus",
    "silu", "softmax",
]  # fmt: skip
Activation = ActivationName | Mapping[str, Any]
"""A name, or an object with its parameters: {"name": "leaky_relu", "negative_slope": 0.2}."""

LossName = Literal["mse", "cross_entropy", "binary_cross_entropy", "l1", "huber", "smooth_l1"]
Loss = LossName | Mapping[str, Any]
"""A name, or an object with its parameters: {"name": "mse", "reduction": "mean"}."""

Preset = Literal["textbook", "pytorch", "keras"]
CalculusPreset = Literal["textbook", "pytorch"]
"""The derivative endpoints' conventions (relu'(0) = 1 or 0)."""
Layout = Literal["in_out", "out_in"]
Quantity = Literal[
    "loss", "outputs", "pre_activations", "activations", "deltas", "weight_gradients",
    "bias_gradients", "updated_weights", "updated_biases",
]  # fmt: skip
Status = Literal["passed", "failed", "missing"]
Verdict = Literal["good", "acceptable", "suspicious", "wrong", "kink"]


# What is sent -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A dense layer: z = a_prev W + b, a = f(z). Shapes in the module docstring."""

    weights: npt.ArrayLike
    biases: npt.ArrayLike
    activation: Activation


@dataclass(frozen=True)
class Problem:
    """A network, its data and its conventions: the body of /v1/backprop without its options.

    It is what /v1/problems hands out, what /v1/grade grades against, and what /v1/backprop,
    /v1/forward and /v1/gradcheck compute. Fields left None are left out of the request, so the
    service's defaults apply (learning_rate and targets are required by /v1/backprop: leaving
    them out gets the service's InvalidRequestError saying so).
    """

    layers: Sequence[Layer]
    inputs: npt.ArrayLike
    targets: npt.ArrayLike | int | None = None
    loss: Loss = "mse"
    learning_rate: float | None = None
    conventions: Preset = "textbook"
    weight_layout: Layout | None = None
    relu_grad_at_zero: Literal[0, 1] | None = None
    ascent: bool = False

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Problem:
        """The problem of a /v1/backprop request body (arrays as lists or Base64Arrays)."""
        targets = body.get("targets")
        return cls(
            layers=[
                Layer(_array(layer["weights"]), _array(layer["biases"]), layer["activation"])
                for layer in body["network"]["layers"]
            ],
            inputs=_array(body["inputs"]),
            targets=None if targets is None else _targets(targets),
            loss=body.get("loss", "mse"),
            learning_rate=body.get("learning_rate"),
            conventions=body.get("conventions", "textbook"),
            weight_layout=body.get("weight_layout"),
            relu_grad_at_zero=body.get("relu_grad_at_zero"),
            ascent=body.get("ascent", False),
        )

    def stepped(self, result: BackpropResult) -> Problem:
        """The same problem with the parameters of one gradient step: the answer's updates."""
        layers = [
            Layer(answer.updated_weights, answer.updated_biases, layer.activation)
            for layer, answer in zip(self.layers, result.layers, strict=True)
        ]
        return replace(self, layers=layers)

    def float_values(self) -> int:
        """How many float numbers the request holds (what "auto" array encoding looks at)."""
        arrays = [self.inputs, None if isinstance(self.targets, int) else self.targets]
        arrays += [a for layer in self.layers for a in (layer.weights, layer.biases)]
        return sum(float_values(a) for a in arrays)

    def body(self, encoding: Literal["lists", "base64"]) -> dict[str, Any]:
        """The request's JSON, arrays as lists or Base64Arrays."""
        body: dict[str, Any] = {
            "network": {
                "layers": [
                    {
                        "weights": encode(layer.weights, encoding),
                        "biases": encode(layer.biases, encoding),
                        "activation": _plain(layer.activation),
                    }
                    for layer in self.layers
                ]
            },
            "inputs": encode(self.inputs, encoding),
            "loss": _plain(self.loss),
        }
        if self.targets is not None:
            body["targets"] = (
                self.targets if isinstance(self.targets, int) else encode(self.targets, encoding)
            )
        if self.learning_rate is not None:
            body["learning_rate"] = self.learning_rate
        if self.conventions != "textbook":
            body["conventions"] = self.conventions
        if self.weight_layout is not None:
            body["weight_layout"] = self.weight_layout
        if self.relu_grad_at_zero is not None:
            body["relu_grad_at_zero"] = self.relu_grad_at_zero
        if self.ascent:
            body["ascent"] = True
        return body


def _plain(spec: Any) -> Any:
    return spec if isinstance(spec, str) else dict(spec)


def _array(value: Any) -> FloatArray:
    return decode(value)


def _targets(value: Any) -> npt.ArrayLike | int:
    """Targets as given: class indices stay integers, anything else becomes float64."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        return np.asarray(value, dtype=np.int64)
    return decode(value)


# What comes back: /v1/backprop and /v1/forward -----------------------------------------------


@dataclass(frozen=True)
class ConventionsUsed:
    """The conventions the service applied, every default resolved."""

    preset: Preset
    weight_layout: Layout
    relu_grad_at_zero: int
    loss: Mapping[str, Any]

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> ConventionsUsed:
        return cls(body["preset"], body["weight_layout"], body["relu_grad_at_zero"], body["loss"])


@dataclass(frozen=True)
class LayerForward:
    """z = a_prev W + b and a = f(z) of one layer, (N, n_l) or flat (n_l,)."""

    pre_activations: FloatArray
    activations: FloatArray


@dataclass(frozen=True)
class LayerBackprop(LayerForward):
    """A layer's forward values, its delta = dL/dz, its gradients and its updated parameters."""

    deltas: FloatArray
    weight_gradients: FloatArray
    bias_gradients: FloatArray
    updated_weights: FloatArray
    updated_biases: FloatArray


@dataclass(frozen=True)
class WorkedEntry:
    """One entry's formula with the numbers substituted, as text and LaTeX.

    index: the entry's place in the answer's array of the same quantity.
    """

    index: tuple[int, ...]
    text: str
    latex: str


@dataclass(frozen=True)
class Explanation:
    """Worked formulas of one sample: layers[i][quantity] lists the entries of layer i + 1."""

    sample: int
    layers: tuple[Mapping[str, tuple[WorkedEntry, ...]], ...]

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> Explanation:
        return cls(
            body["sample"],
            tuple(
                {
                    quantity: tuple(
                        WorkedEntry(tuple(e["index"]), e["text"], e["latex"]) for e in entries
                    )
                    for quantity, entries in layer.items()
                }
                for layer in body["layers"]
            ),
        )


@dataclass(frozen=True)
class ForwardResult:
    """POST /v1/forward: the outputs, each layer's z and a, and the loss when targets were given."""

    loss: float | None
    outputs: FloatArray
    layers: tuple[LayerForward, ...]
    conventions: ConventionsUsed

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> ForwardResult:
        return cls(
            body.get("loss"),
            decode(body["outputs"]),
            tuple(
                LayerForward(decode(layer["pre_activations"]), decode(layer["activations"]))
                for layer in body["layers"]
            ),
            ConventionsUsed.read(body["conventions"]),
        )


_BACKPROP_ARRAYS = (
    "pre_activations", "activations", "deltas", "weight_gradients", "bias_gradients",
    "updated_weights", "updated_biases",
)  # fmt: skip


@dataclass(frozen=True)
class BackpropResult:
    """POST /v1/backprop: the loss, every layer's values and gradients, and dL/dx.

    explanation: the worked formulas, when the request asked for them.
    """

    loss: float
    outputs: FloatArray
    layers: tuple[LayerBackprop, ...]
    input_gradients: FloatArray
    conventions: ConventionsUsed
    explanation: Explanation | None = None

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> BackpropResult:
        explanation = body.get("explanation")
        return cls(
            body["loss"],
            decode(body["outputs"]),
            tuple(
                LayerBackprop(**{name: decode(layer[name]) for name in _BACKPROP_ARRAYS})
                for layer in body["layers"]
            ),
            decode(body["input_gradients"]),
            ConventionsUsed.read(body["conventions"]),
            None if explanation is None else Explanation.read(explanation),
        )

    def as_submission(self) -> dict[str, Any]:
        """The whole answer as a submission for /v1/grade (a reference solution, say)."""
        return {
            "loss": self.loss,
            "outputs": self.outputs,
            "layers": [
                {name: getattr(layer, name) for name in _BACKPROP_ARRAYS} for layer in self.layers
            ],
        }


# Grading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """A classic mistake whose recomputed answer matches a failed item (docs/grading.md)."""

    id: str
    description: str


@dataclass(frozen=True)
class WorstEntry:
    index: tuple[int, ...]
    expected: float
    submitted: float


@dataclass(frozen=True)
class GradedItem:
    """One graded item ("layer 2 deltas") of a native report.

    id is its path in a /v1/backprop answer ("layers[1].deltas") for a backprop grade, None
    for a derivative's; details holds the item's whole JSON, the evidence included.
    """

    name: str
    status: Status
    score: float
    max_score: float
    feedback: str
    id: str | None = None
    mistakes: tuple[Mistake, ...] = ()
    worst_entry: WorstEntry | None = None
    worked_formula: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> GradedItem:
        worst = body.get("worst_entry")
        formula = body.get("worked_formula")
        return cls(
            body["name"],
            body["status"],
            body["score"],
            body["max_score"],
            body["feedback"],
            body.get("id"),
            tuple(Mistake(m["id"], m["description"]) for m in body.get("mistakes") or ()),
            None
            if worst is None
            else WorstEntry(tuple(worst["index"]), worst["expected"], worst["submitted"]),
            None if formula is None else formula["text"],
            body,
        )


@dataclass(frozen=True)
class GradeReport:
    """A native grading report: the total, a one-line summary, and each item."""

    score: float
    max_score: float
    summary: str
    items: tuple[GradedItem, ...]

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> GradeReport:
        return cls(
            body["score"],
            body["max_score"],
            body["summary"],
            tuple(GradedItem.read(item) for item in body["items"]),
        )

    @property
    def failed(self) -> tuple[GradedItem, ...]:
        """The items that did not pass (failed or missing)."""
        return tuple(item for item in self.items if item.status != "passed")


@dataclass(frozen=True)
class ClassSummary:
    submissions: int
    max_score: float
    mean_score: float
    full_marks: int
    mistakes: Mapping[str, int]


@dataclass(frozen=True)
class BatchReport:
    """POST /v1/grade/batch: each student's report by id, in the order sent, and the class's."""

    reports: Mapping[str, GradeReport]
    class_summary: ClassSummary

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> BatchReport:
        s = body["class_summary"]
        return cls(
            {r["id"]: GradeReport.read(r["report"]) for r in body["results"]},
            ClassSummary(
                s["submissions"], s["max_score"], s["mean_score"], s["full_marks"], s["mistakes"]
            ),
        )


@dataclass(frozen=True)
class KinkEntry:
    """An entry whose central difference straddles a kink: judged by no verdict, with its
    one-sided differences (L(theta) - L(theta - h)) / h and (L(theta + h) - L(theta)) / h."""

    index: tuple[int, ...]
    analytic: float
    numeric: float
    left: float
    right: float
    message: str = "kink: finite differences do not apply here"


@dataclass(frozen=True)
class TensorCheck:
    """One weight or bias tensor's check: layers[layer] of the answer, 0-based.

    Its worst entry away from kinks (None, and verdict "kink", when every entry is at one)."""

    layer: int
    parameter: Literal["weights", "biases"]
    max_relative_error: float | None
    verdict: Verdict
    worst_index: tuple[int, ...] | None
    analytic: float | None
    numeric: float | None
    kinks: tuple[KinkEntry, ...] = ()


@dataclass(frozen=True)
class GradcheckResult:
    """POST /v1/gradcheck: backprop's gradient against central finite differences."""

    verdict: Verdict
    max_relative_error: float | None
    epsilon: float
    near_kink: bool
    thresholds: Mapping[str, float]
    parameters: tuple[TensorCheck, ...]
    rounding_floor: float = 0.0

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> GradcheckResult:
        return cls(
            body["verdict"],
            body["max_relative_error"],
            body["epsilon"],
            body["near_kink"],
            body["thresholds"],
            tuple(
                TensorCheck(
                    c["layer"],
                    c["parameter"],
                    c["max_relative_error"],
                    c["verdict"],
                    None if c["worst_index"] is None else tuple(c["worst_index"]),
                    c["analytic"],
                    c["numeric"],
                    tuple(
                        KinkEntry(
                            tuple(k["index"]),
                            k["analytic"],
                            k["numeric"],
                            k["left"],
                            k["right"],
                            k["message"],
                        )
                        for k in c.get("kinks", ())
                    ),
                )
                for c in body["parameters"]
            ),
            body.get("rounding_floor", 0.0),
        )


@dataclass(frozen=True)
class GeneratedProblem:
    """POST /v1/problems: the problem (and its request body, to hand out), and the solution."""

    problem: Problem
    request: Mapping[str, Any]
    solution: BackpropResult | None

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> GeneratedProblem:
        solution = body.get("solution")
        return cls(
            Problem.from_request(body["problem"]),
            body["problem"],
            None if solution is None else BackpropResult.read(solution),
        )


# Derivatives --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """An expression as text (in the request grammar) and as LaTeX."""

    text: str
    latex: str

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> Rendered:
        return cls(body["text"], body["latex"])


@dataclass(frozen=True)
class DerivationStep:
    """A rule applied: "product rule" on expression, giving derivative; depth 0 is the whole."""

    rule: str
    formula: Rendered
    expression: Rendered
    derivative: Rendered
    detail: str
    depth: int
    table_entry: Mapping[str, Any] | None


@dataclass(frozen=True)
class PartialDerivative:
    variable: str
    derivative: Rendered
    value: float | None
    steps: tuple[DerivationStep, ...]


@dataclass(frozen=True)
class DerivativeResult:
    """POST /v1/derivatives: each partial derivative with its steps, and the gradient.

    gradient_value: the gradient at the point, shape (len(variables),), when one was given.
    """

    expression: Rendered
    variables: tuple[str, ...]
    value: float | None
    derivatives: tuple[PartialDerivative, ...]
    gradient_latex: str
    gradient_value: FloatArray | None

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> DerivativeResult:
        gradient = body["gradient"]
        return cls(
            Rendered.read(body["expression"]),
            tuple(body["variables"]),
            body.get("value"),
            tuple(
                PartialDerivative(
                    d["variable"],
                    Rendered.read(d["derivative"]),
                    d.get("value"),
                    tuple(
                        DerivationStep(
                            s["rule"],
                            Rendered.read(s["formula"]),
                            Rendered.read(s["expression"]),
                            Rendered.read(s["derivative"]),
                            s["detail"],
                            s["depth"],
                            s.get("table_entry"),
                        )
                        for s in d["steps"]
                    ),
                )
                for d in body["derivatives"]
            ),
            gradient["latex"],
            None if gradient.get("value") is None else decode(gradient["value"]),
        )


@dataclass(frozen=True)
class DescentPoint:
    point: Mapping[str, float]
    value: float
    gradient: Mapping[str, float]


@dataclass(frozen=True)
class DescentResult:
    """POST /v1/derivatives/descent: the partial derivatives and the path theta_0 ... theta_n."""

    gradient: Mapping[str, Rendered]
    path: tuple[DescentPoint, ...]

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> DescentResult:
        return cls(
            {g["variable"]: Rendered.read(g["derivative"]) for g in body["gradient"]},
            tuple(DescentPoint(p["point"], p["value"], p["gradient"]) for p in body["path"]),
        )

    @property
    def values(self) -> FloatArray:
        """f along the path, shape (steps + 1,)."""
        return np.array([p.value for p in self.path], dtype=np.float64)

    @property
    def point(self) -> Mapping[str, float]:
        """The last point."""
        return self.path[-1].point


# Catalogues ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationInfo:
    name: str
    formula: str
    derivative: str
    parameters: tuple[Mapping[str, Any], ...]
    last_layer_only: bool
    kink_follows_relu_grad_at_zero: bool


@dataclass(frozen=True)
class LossInfo:
    name: str
    formula: str
    gradient: str
    parameters: tuple[Mapping[str, Any], ...]
    reductions: tuple[str, ...]
    class_indices: bool
    fused_with: str | None


@dataclass(frozen=True)
class LimitInfo:
    name: str
    value: float
    setting: str
    description: str
