"""Every endpoint as a ``Call``: the request to send and how to read its answer.

The functions here build requests and do no I/O; ``Client`` and ``AsyncClient`` send them, so
that both clients share every endpoint's arguments, encoding and decoding. Their arguments are
the service's, named as in its API (docs at /docs on a running server).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from backprop_client.arrays import ArrayEncoding, choose, encode, float_values
from backprop_client.models import (
    Activation,
    ActivationInfo,
    BackpropResult,
    BatchReport,
    CalculusPreset,
    DerivativeResult,
    DescentResult,
    ForwardResult,
    GeneratedProblem,
    GradcheckResult,
    GradeReport,
    LimitInfo,
    Loss,
    LossInfo,
    Problem,
    Quantity,
)

T = TypeVar("T")

Submission = Mapping[str, Any] | BackpropResult
"""A student's answer: any part of a /v1/backprop answer, {"loss": 0.43, "layers": [{},
{"deltas": array}]}, arrays as NumPy arrays or lists; or a whole BackpropResult."""

ResultsFormat = Literal["gradescope", "prairielearn"]


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request and the reader of its JSON answer.

    if_unavailable: what a 503 answer means for an endpoint where it is an answer and not a
    busy server (GET /readyz: not ready), instead of a reason to retry.
    """

    method: Literal["GET", "POST"]
    path: str
    read: Callable[[Any], T]
    body: dict[str, Any] | None = None
    if_unavailable: Callable[[], T] | None = None


# The network -------------------------------------------------------------------------------------


def _network_body(
    problem: Problem, array_encoding: ArrayEncoding, *, step: bool, more: int = 0
) -> tuple[dict[str, Any], Literal["lists", "base64"]]:
    encoding = choose(array_encoding, problem.float_values() + more)
    body = problem.body(encoding)
    if not step:  # /v1/forward and /v1/gradcheck take no step: no learning_rate, no ascent
        body.pop("learning_rate", None)
        body.pop("ascent", None)
    return body, encoding


def backprop(
    problem: Problem,
    *,
    explain: bool = False,
    explain_sample: int = 0,
    array_encoding: ArrayEncoding = "auto",
) -> Call[BackpropResult]:
    """POST /v1/backprop: forward pass, loss, every delta and gradient, one gradient step.

    explain: add every entry's worked formula (for networks small enough to work by hand), of
    sample ``explain_sample``. array_encoding: "auto" sends and asks for Base64Array arrays from
    BASE64_MIN_VALUES numbers on; "lists" or "base64" force one form.
    """
    body, encoding = _network_body(problem, array_encoding, step=True)
    if encoding == "base64":
        body["array_encoding"] = "base64"
    if explain:
        body["explain"] = True
        body["explain_sample"] = explain_sample
    return Call("POST", "/v1/backprop", BackpropResult.read, body)


def forward(problem: Problem, *, array_encoding: ArrayEncoding = "auto") -> Call[ForwardResult]:
    """POST /v1/forward: each layer's z and a, and the loss when the problem has targets."""
    body, encoding = _network_body(problem, array_encoding, step=False)
    if encoding == "base64":
        body["array_encoding"] = "base64"
    return Call("POST", "/v1/forward", ForwardResult.read, body)


def gradcheck(
    problem: Problem, *, epsilon: float | None = None, array_encoding: ArrayEncoding = "auto"
) -> Call[GradcheckResult]:
    """POST /v1/gradcheck: backprop's gradient against central differences, per tensor.

    epsilon: the step h of (L(theta + h) - L(theta - h)) / 2h (the service's default: 1e-6).
    """
    body, _ = _network_body(problem, array_encoding, step=False)
    if epsilon is not None:
        body["epsilon"] = epsilon
    return Call("POST", "/v1/gradcheck", GradcheckResult.read, body)


# Grading -----------------------------------------------------------------------------------------


def _submission_values(submission: Submission) -> int:
    answer = _as_mapping(submission)
    arrays = [answer.get("outputs"), answer.get("input_gradients")]
    arrays += [v for layer in answer.get("layers") or () for v in dict(layer).values()]
    return sum(float_values(a) for a in arrays)


def _as_mapping(submission: Submission) -> Mapping[str, Any]:
    return submission.as_submission() if isinstance(submission, BackpropResult) else submission


def _encode_submission(
    submission: Submission, encoding: Literal["lists", "base64"]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in _as_mapping(submission).items():
        if key == "layers":
            body[key] = [
                {q: encode(v, encoding) for q, v in dict(layer).items()} for layer in value
            ]
        elif key in ("loss", "conventions"):
            body[key] = value if not hasattr(value, "item") else value.item()
        else:
            body[key] = encode(value, encoding)
    return body


def _grading_body(
    problem: Problem,
    array_encoding: ArrayEncoding,
    submissions: int,
    *,
    quantities: Sequence[Quantity] | None,
    rtol: float | None,
    atol: float | None,
    points: Mapping[str, Any] | None,
    partial_credit: bool,
    worked_formulas: bool,
    report_format: str,
) -> tuple[dict[str, Any], Literal["lists", "base64"]]:
    problem_body, encoding = _network_body(problem, array_encoding, step=True, more=submissions)
    body: dict[str, Any] = {"problem": problem_body, "format": report_format}
    if quantities is not None:
        body["quantities"] = list(quantities)
    tolerance = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    if tolerance:
        body["tolerance"] = tolerance
    if points is not None:
        body["points"] = dict(points)
    if partial_credit:
        body["partial_credit"] = True
    if not worked_formulas:
        body["worked_formulas"] = False
    return body, encoding


def grade(
    problem: Problem,
    submission: Submission,
    *,
    quantities: Sequence[Quantity] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    points: Mapping[str, Any] | None = None,
    partial_credit: bool = False,
    worked_formulas: bool = True,
    array_encoding: ArrayEncoding = "auto",
) -> Call[GradeReport]:
    """POST /v1/grade: one answer against the problem, item by item, with the mistake named.

    quantities: what the exercise asks for (the service's default: all nine); rtol, atol: the
    tolerance |submitted - expected| <= atol + rtol |expected| (defaults 0.01 and 1e-4);
    points: {"default", "quantities", "layers", "items"} as docs/grading.md describes.
    """
    body, encoding = _grading_body(
        problem, array_encoding, _submission_values(submission),
        quantities=quantities, rtol=rtol, atol=atol, points=points,
        partial_credit=partial_credit, worked_formulas=worked_formulas, report_format="native",
    )  # fmt: skip
    body["submission"] = _encode_submission(submission, encoding)
    return Call("POST", "/v1/grade", GradeReport.read, body)


def grade_results(
    problem: Problem,
    submission: Submission,
    results_format: ResultsFormat,
    *,
    quantities: Sequence[Quantity] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    points: Mapping[str, Any] | None = None,
    partial_credit: bool = False,
    worked_formulas: bool = True,
    array_encoding: ArrayEncoding = "auto",
) -> Call[dict[str, Any]]:
    """POST /v1/grade for an autograder: Gradescope's or PrairieLearn's results.json, as is."""
    body, encoding = _grading_body(
        problem, array_encoding, _submission_values(submission),
        quantities=quantities, rtol=rtol, atol=atol, points=points,
        partial_credit=partial_credit, worked_formulas=worked_formulas,
        report_format=results_format,
    )  # fmt: skip
    body["submission"] = _encode_submission(submission, encoding)
    return Call("POST", "/v1/grade", dict, body)


def grade_batch(
    problem: Problem,
    submissions: Mapping[str, Submission],
    *,
    quantities: Sequence[Quantity] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    points: Mapping[str, Any] | None = None,
    partial_credit: bool = False,
    worked_formulas: bool = True,
    array_encoding: ArrayEncoding = "auto",
) -> Call[BatchReport]:
    """POST /v1/grade/batch: a class's answers, by student id, to one problem (up to 5000)."""
    values = sum(_submission_values(s) for s in submissions.values())
    body, encoding = _grading_body(
        problem, array_encoding, values,
        quantities=quantities, rtol=rtol, atol=atol, points=points,
        partial_credit=partial_credit, worked_formulas=worked_formulas, report_format="native",
    )  # fmt: skip
    body["submissions"] = [
        {"id": student, "submission": _encode_submission(s, encoding)}
        for student, s in submissions.items()
    ]
    return Call("POST", "/v1/grade/batch", BatchReport.read, body)


def problems(
    seed: int,
    *,
    layer_sizes: Sequence[int] | None = None,
    activations: Activation | Sequence[Activation] | None = None,
    loss: Loss | None = None,
    batch_size: int | None = None,
    decimals: int | None = None,
    weight_range: float | None = None,
    learning_rate: float | None = None,
    solution: bool = False,
    explain: bool = False,
) -> Call[GeneratedProblem]:
    """POST /v1/problems: the seeded problem of one student, and its solution if asked.

    layer_sizes: n_0, ..., n_L (the service's default: [2, 2, 2]); None leaves a parameter to
    the service's default.
    """
    body: dict[str, Any] = {"seed": seed}
    optional = {
        "layer_sizes": None if layer_sizes is None else list(layer_sizes),
        "activations": _spec_list(activations),
        "loss": None if loss is None else _spec(loss),
        "batch_size": batch_size,
        "decimals": decimals,
        "weight_range": weight_range,
        "learning_rate": learning_rate,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    if solution:
        body["solution"] = True
    if explain:
        body["explain"] = True
    return Call("POST", "/v1/problems", GeneratedProblem.read, body)


def _spec(spec: Any) -> Any:
    return spec if isinstance(spec, str) else dict(spec)


def _spec_list(spec: Activation | Sequence[Activation] | None) -> Any:
    if spec is None or isinstance(spec, str | Mapping):
        return None if spec is None else _spec(spec)
    return [_spec(s) for s in spec]


# Derivatives -------------------------------------------------------------------------------------


def _calculus(
    body: dict[str, Any], conventions: CalculusPreset, relu_grad_at_zero: Literal[0, 1] | None
) -> dict[str, Any]:
    if conventions != "textbook":
        body["conventions"] = conventions
    if relu_grad_at_zero is not None:
        body["relu_grad_at_zero"] = relu_grad_at_zero
    return body


def derivatives(
    expression: str,
    *,
    variables: Sequence[str] | None = None,
    point: Mapping[str, float] | None = None,
    conventions: CalculusPreset = "textbook",
    relu_grad_at_zero: Literal[0, 1] | None = None,
) -> Call[DerivativeResult]:
    """POST /v1/derivatives: each partial derivative, rule by rule, and its value at a point."""
    body: dict[str, Any] = {"expression": expression}
    if variables is not None:
        body["variables"] = list(variables)
    if point is not None:
        body["point"] = {name: float(v) for name, v in point.items()}
    return Call(
        "POST",
        "/v1/derivatives",
        DerivativeResult.read,
        _calculus(body, conventions, relu_grad_at_zero),
    )


def derivatives_grade(
    function: str,
    answer: str,
    *,
    variable: str | None = None,
    domain: Mapping[str, tuple[float, float]] | None = None,
    samples: int | None = None,
    seed: int | None = None,
    name: str | None = None,
    max_score: float | None = None,
    conventions: CalculusPreset = "textbook",
    relu_grad_at_zero: Literal[0, 1] | None = None,
) -> Call[GradeReport]:
    """POST /v1/derivatives/grade: is ``answer`` the derivative of ``function``? (native report;
    its one item's details hold "equivalent" and, when wrong, a "counterexample")."""
    body: dict[str, Any] = {"function": function, "answer": answer}
    optional = {
        "variable": variable,
        "domain": None if domain is None else {k: list(v) for k, v in domain.items()},
        "samples": samples,
        "seed": seed,
        "name": name,
        "max_score": max_score,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    return Call(
        "POST",
        "/v1/derivatives/grade",
        GradeReport.read,
        _calculus(body, conventions, relu_grad_at_zero),
    )


def derivatives_descent(
    expression: str,
    start: Mapping[str, float],
    *,
    learning_rate: float,
    steps: int = 1,
    ascent: bool = False,
    conventions: CalculusPreset = "textbook",
    relu_grad_at_zero: Literal[0, 1] | None = None,
) -> Call[DescentResult]:
    """POST /v1/derivatives/descent: theta' = theta -/+ eta grad f, ``steps`` times."""
    body: dict[str, Any] = {
        "expression": expression,
        "start": {k: float(v) for k, v in start.items()},
        "learning_rate": learning_rate,
        "steps": steps,
    }
    if ascent:
        body["ascent"] = True
    return Call(
        "POST",
        "/v1/derivatives/descent",
        DescentResult.read,
        _calculus(body, conventions, relu_grad_at_zero),
    )


# Catalogues and health ---------------------------------------------------------------------------


def _activations(body: Any) -> tuple[ActivationInfo, ...]:
    return tuple(
        ActivationInfo(
            a["name"],
            a["formula"],
            a["derivative"],
            tuple(a["parameters"]),
            a["last_layer_only"],
            a["kink_follows_relu_grad_at_zero"],
        )
        for a in body["activations"]
    )


def _losses(body: Any) -> tuple[LossInfo, ...]:
    return tuple(
        LossInfo(
            x["name"],
            x["formula"],
            x["gradient"],
            tuple(x["parameters"]),
            tuple(x["reductions"]),
            x["class_indices"],
            x["fused_with"],
        )
        for x in body["losses"]
    )


def _limits(body: Any) -> dict[str, LimitInfo]:
    return {
        x["name"]: LimitInfo(x["name"], x["value"], x["setting"], x["description"])
        for x in body["limits"]
    }


def activations() -> Call[tuple[ActivationInfo, ...]]:
    """GET /v1/activations: each activation, its formula, derivative and parameters."""
    return Call("GET", "/v1/activations", _activations)


def losses() -> Call[tuple[LossInfo, ...]]:
    """GET /v1/losses: each loss, its formula, gradient, parameters and preset defaults."""
    return Call("GET", "/v1/losses", _losses)


def limits() -> Call[dict[str, LimitInfo]]:
    """GET /v1/limits: the size and time limits in force, by name."""
    return Call("GET", "/v1/limits", _limits)


def conventions() -> Call[dict[str, Mapping[str, Any]]]:
    """GET /v1/conventions: each preset (textbook, pytorch, keras) and what it sets, by name."""
    return Call("GET", "/v1/conventions", lambda body: {p["name"]: p for p in body["presets"]})


def version() -> Call[str]:
    """GET /v1/version: the version of the service answering."""
    return Call("GET", "/v1/version", lambda body: str(body["version"]))


def healthz() -> Call[str]:
    """GET /healthz: "ok" when the process answers."""
    return Call("GET", "/healthz", lambda body: str(body["status"]))


def readyz() -> Call[bool]:
    """GET /readyz: True when the service is ready (its self-check passed), False on its 503."""
    return Call("GET", "/readyz", lambda body: body["status"] == "ready", if_unavailable=_false)


def _false() -> bool:
    return False
