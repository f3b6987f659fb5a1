"""An independent oracle: the contract's maths in plain Python scalars, and central differences.

Nothing here imports the engine or the schemas. It reads a request as docs/api.md defines it (a
dict, exactly what a client would POST), computes the forward pass and the loss one sample and one
unit at a time with the ``math`` module, and gets every gradient by central finite differences of
that
loss in float64:

    dL/dtheta ~ (L(theta + h) - L(theta - h)) / (2 h),   h = 1e-5 * max(1, |theta|)

The truncation error is about h^2 |L'''| / 6 and the rounding error about eps |L| / h, both near
1e-10 for the small, well-scaled networks the tests draw: FD_RTOL and FD_ATOL leave a factor of
about 100 over what is observed, and are still far too tight for a wrong derivative to pass
(tests/test_gradients.py shows one failing).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FD_RTOL = 1e-6
FD_ATOL = 1e-8

Rows = list[list[float]]

PRESETS: dict[str, dict[str, Any]] = {
    "textbook": {"weight_layout": "in_out", "relu_grad_at_zero": 1, "mse_reduction": "sum",
                 "mse_half": True, "reduction": "sum"},
    "pytorch": {"weight_layout": "out_in", "relu_grad_at_zero": 0, "mse_reduction": "mean",
                "mse_half": False, "reduction": "mean"},
    # Keras 3: Dense kernels (in, out), layers.LeakyReLU(negative_slope=0.3), "sum_over_batch_size"
    # reductions, and backend.epsilon() = 1e-7 clipping probabilities in the cross-entropies
    "keras": {"weight_layout": "in_out", "relu_grad_at_zero": 0, "mse_reduction": "mean",
              "mse_half": False, "reduction": "mean", "leaky_relu_negative_slope": 0.3,
              "epsilon": 1e-7},
}  # fmt: skip

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _gelu_tanh(z: float) -> float:
    return 0.5 * z * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))


def _softplus(beta: float, threshold: float) -> Callable[[float], float]:
    return lambda z: z if beta * z > threshold else math.log1p(math.exp(beta * z)) / beta


# name -> (parameters -> f), f one scalar at a time, parameter defaults as docs/api.md gives them
SCALAR_ACTIVATIONS: dict[str, Callable[[dict[str, Any]], Callable[[float], float]]] = {
    "linear": lambda p: lambda z: z,
    "sigmoid": lambda p: _sigmoid,
    "tanh": lambda p: math.tanh,
    "relu": lambda p: lambda z: z if z > 0 else 0.0,
    "leaky_relu": lambda p: lambda z: z if z > 0 else p.get("negative_slope", 0.01) * z,
    "elu": lambda p: lambda z: z if z > 0 else p.get("alpha", 1.0) * math.expm1(z),
    "selu": lambda p: lambda z: SELU_SCALE * (z if z > 0 else SELU_ALPHA * math.expm1(z)),
    "gelu": lambda p: (
        _gelu_tanh
        if p.get("approximate", "none") == "tanh"
        else lambda z: 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0)))
    ),
    "softplus": lambda p: _softplus(p.get("beta", 1.0), p.get("threshold", 20.0)),
    "silu": lambda p: lambda z: z * _sigmoid(z),
}


def activate(spec: dict[str, Any] | str, row: list[float]) -> list[float]:
    """f applied to one sample's pre-activations."""
    spec = {"name": spec} if isinstance(spec, str) else spec
    if spec["name"] == "softmax":
        m = max(row)
        exps = [math.exp(z - m) for z in row]
        total = sum(exps)
        return [e / total for e in exps]
    f = SCALAR_ACTIVATIONS[spec["name"]](spec)
    return [f(z) for z in row]


@dataclass
class Conventions:
    weight_layout: str
    relu_grad_at_zero: int
    loss: dict[str, Any]


def conventions_of(request: dict[str, Any]) -> Conventions:
    preset = PRESETS[request.get("conventions", "textbook")]
    loss = request.get("loss", "mse")
    loss = dict({"name": loss} if isinstance(loss, str) else loss)
    if loss["name"] == "mse":
        loss.setdefault("reduction", preset["mse_reduction"])
        loss.setdefault("half", preset["mse_half"])
    else:
        loss.setdefault("reduction", preset["reduction"])
    if loss["name"] in ("cross_entropy", "binary_cross_entropy") and "epsilon" in preset:
        loss.setdefault("epsilon", preset["epsilon"])
    return Conventions(
        weight_layout=request.get("weight_layout") or preset["weight_layout"],
        relu_grad_at_zero=request.get("relu_grad_at_zero", preset["relu_grad_at_zero"]),
        loss=loss,
    )


def weight(W: Rows, j: int, k: int, layout: str) -> float:
    """w_jk: from input j to output k, whatever the storage layout."""
    return W[j][k] if layout == "in_out" else W[k][j]


def as_rows(values: Any) -> Rows:
    return values if isinstance(values[0], list) else [values]


def forward(
    request: dict[str, Any], z_nudge: tuple[int, int, int, float] | None = None
) -> tuple[list[Rows], list[Rows]]:
    """z^l and a^l of every layer, sample by sample; z_nudge = (layer, sample, unit, h) adds h."""
    layout = conventions_of(request).weight_layout
    zs: list[Rows] = []
    activations: list[Rows] = []
    a_rows = as_rows(request["inputs"])
    for i, layer in enumerate(request["network"]["layers"]):
        W, b = layer["weights"], layer["biases"]
        z_rows = []
        for n, a in enumerate(a_rows):
            z = [
                sum(a[j] * weight(W, j, k, layout) for j in range(len(a))) + b[k]
                for k in range(len(b))
            ]
            if z_nudge is not None and z_nudge[:2] == (i, n):
                z[z_nudge[2]] += z_nudge[3]
            z_rows.append(z)
        spec = layer["activation"]
        if _name(spec) == "leaky_relu" and (isinstance(spec, str) or "negative_slope" not in spec):
            slope = PRESETS[request.get("conventions", "textbook")].get(
                "leaky_relu_negative_slope", 0.01
            )
            spec = {"name": "leaky_relu", "negative_slope": slope}
        a_rows = [activate(spec, z) for z in z_rows]
        zs.append(z_rows)
        activations.append(a_rows)
    return zs, activations


def target_rows(request: dict[str, Any], n_outputs: int) -> Rows:
    targets = request["targets"]
    if isinstance(targets, int):
        targets = [targets]
    flat_inputs = not isinstance(request["inputs"][0], list)
    if isinstance(targets[0], list):
        return [[float(v) for v in row] for row in targets]
    if flat_inputs and len(targets) == n_outputs and not isinstance(request["targets"], int):
        return [[float(v) for v in targets]]
    return [[1.0 if k == c else 0.0 for k in range(n_outputs)] for c in targets]


def _log_sigmoid(z: float) -> float:
    """log(1 / (1 + e^-z)) = -softplus(-z), accurate for every z."""
    return -(max(-z, 0.0) + math.log1p(math.exp(-abs(z))))


def _log_softmax(row: list[float]) -> list[float]:
    m = max(row)
    lse = m + math.log(sum(math.exp(z - m) for z in row))
    return [z - lse for z in row]


def loss_value(request: dict[str, Any], outputs: Rows, logits: Rows | None = None) -> float:
    """The reduced loss of the outputs against the request's targets.

    With the last layer's z (logits), the logarithms of sigmoid and softmax outputs are taken
    from z (log sigmoid(z) = -softplus(-z), log softmax(z) = z - logsumexp(z)): the same values,
    without the cancellation of log(1 - o) for o near 1 that would swamp a finite difference.
    """
    spec = conventions_of(request).loss
    Y = target_rows(request, len(outputs[0]))
    N, C = len(outputs), len(outputs[0])
    pairs = [(o, y) for o_row, y_row in zip(outputs, Y, strict=True)
             for o, y in zip(o_row, y_row, strict=True)]  # fmt: skip
    name, reduction = spec["name"], spec["reduction"]
    per_element_mean = N * C if reduction == "mean" else 1
    if name == "mse":
        total = sum((o - y) ** 2 for o, y in pairs) * (0.5 if spec["half"] else 1.0)
        return total / (N if reduction == "batch_mean" else per_element_mean)
    elementwise = _elementwise_loss(spec)
    if elementwise is not None:
        return sum(elementwise(o - y) for o, y in pairs) / per_element_mean
    last = _name(request["network"]["layers"][-1]["activation"])
    if name == "binary_cross_entropy":
        if spec.get("from_logits", False):
            terms = (max(o, 0.0) - o * y + math.log1p(math.exp(-abs(o))) for o, y in pairs)
        elif last == "sigmoid" and logits is not None:
            zs = [z for row in logits for z in row]
            terms = (-(y * _log_sigmoid(z) + (1 - y) * _log_sigmoid(-z))
                     for z, (_, y) in zip(zs, pairs, strict=True))  # fmt: skip
        else:  # Keras' binary_crossentropy clips o to [epsilon, 1 - epsilon]
            fuzz = spec.get("epsilon") or 0.0
            clipped = ((min(max(o, fuzz), 1 - fuzz), y) for o, y in pairs)
            terms = (-(y * math.log(c) + (1 - y) * math.log(1 - c)) for c, y in clipped)
        return sum(terms) / per_element_mean
    if name == "cross_entropy":
        eps = spec.get("label_smoothing", 0.0)
        total = 0.0
        for n, (o_row, y_row) in enumerate(zip(outputs, Y, strict=True)):
            if spec.get("from_logits", False):
                log_p = _log_softmax(o_row)
            elif last == "softmax" and logits is not None:
                log_p = _log_softmax(logits[n])
            else:
                log_p = _log_probabilities(o_row, spec.get("epsilon"))
            smoothed = [(1 - eps) * y + eps / C for y in y_row]
            total -= sum(y * lp for y, lp in zip(smoothed, log_p, strict=True))
        return total / (N if reduction == "mean" else 1)
    raise ValueError(f"unknown loss {name}")


def _log_probabilities(row: list[float], epsilon: float | None) -> list[float]:
    """ln o of outputs taken as probabilities; Keras' categorical_crossentropy (epsilon set)
    divides them by their sum and clips them to [epsilon, 1 - epsilon] first."""
    if epsilon is None:
        return [math.log(o) for o in row]
    total = sum(row)
    return [math.log(min(max(o / total, epsilon), 1 - epsilon)) for o in row]


def _elementwise_loss(spec: dict[str, Any]) -> Callable[[float], float] | None:
    """l1, huber and smooth_l1 as a function of d = o - y (None for the other losses)."""
    if spec["name"] == "l1":
        return abs
    if spec["name"] == "huber":
        delta = spec.get("delta", 1.0)
        return lambda d: 0.5 * d * d if abs(d) < delta else delta * (abs(d) - 0.5 * delta)
    if spec["name"] == "smooth_l1":  # torch.nn.SmoothL1Loss; beta = 0 is l1
        beta = spec.get("beta", 1.0)
        return lambda d: 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta
    return None


def loss_of(request: dict[str, Any], z_nudge: tuple[int, int, int, float] | None = None) -> float:
    zs, activations = forward(request, z_nudge)
    return loss_value(request, activations[-1], zs[-1])


def _name(spec: dict[str, Any] | str) -> str:
    return spec if isinstance(spec, str) else str(spec["name"])


def _central_difference(f: Callable[[float], float], x: float) -> float:
    h = 1e-5 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2.0 * h)


def numeric_gradients(request: dict[str, Any]) -> dict[str, Any]:
    """Every gradient of the loss by central differences.

    Returns {"deltas": [rows per layer], "weight_gradients": [...], "bias_gradients": [...],
    "input_gradients": rows}, weight gradients in the request's own layout.
    """
    zs, _ = forward(request)
    probe = copy.deepcopy(request)

    def nudged(container: list[Any], index: int) -> Callable[[float], float]:
        def f(value: float) -> float:
            saved = container[index]
            container[index] = value
            try:
                return loss_of(probe)
            finally:
                container[index] = saved

        return f

    deltas = [
        [
            [
                (loss_of(request, (i, n, k, h)) - loss_of(request, (i, n, k, -h))) / (2 * h)
                for k, z in enumerate(z_row)
                for h in [1e-5 * max(1.0, abs(z))]
            ]
            for n, z_row in enumerate(layer_z)
        ]
        for i, layer_z in enumerate(zs)
    ]
    weight_gradients = []
    bias_gradients = []
    for layer in probe["network"]["layers"]:
        W, b = layer["weights"], layer["biases"]
        weight_gradients.append(
            [[_central_difference(nudged(row, c), row[c]) for c in range(len(row))] for row in W]
        )
        bias_gradients.append([_central_difference(nudged(b, k), b[k]) for k in range(len(b))])
    flat = not isinstance(probe["inputs"][0], list)
    input_rows = [probe["inputs"]] if flat else probe["inputs"]
    input_gradients = [
        [_central_difference(nudged(row, j), row[j]) for j in range(len(row))] for row in input_rows
    ]
    return {
        "deltas": deltas,
        "weight_gradients": weight_gradients,
        "bias_gradients": bias_gradients,
        "input_gradients": input_gradients,
    }


def assert_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> None:
    """Every entry of nested lists within atol + rtol * max(|actual|, |expected|)."""
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{what}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{what}: {len(actual)} entries, not {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, rtol=rtol, atol=atol, what=f"{what}[{i}]")
        return
    bound = atol + rtol * max(abs(actual), abs(expected))
    error = abs(actual - expected)
    assert error <= bound, (
        f"{what}: {actual!r} differs from {expected!r} by {error:.3g} > {bound:.3g}"
    )
