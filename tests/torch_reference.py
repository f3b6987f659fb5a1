"""An independent reference for /v1/backprop: the same request, computed by PyTorch autograd.

Written from the contract (docs/api.md) alone, not from the engine: the forward pass is ``z = a W +
b`` with W transposed when the request's layout is out_in, every activation and loss is PyTorch's
own (torch.nn.functional), and every gradient is what ``loss.backward()`` leaves in ``.grad``:
deltas are ``z.grad`` (``retain_grad``), dL/dW is ``W.grad`` (in the layout the weights were sent
in, because W itself is the leaf), dL/dx is ``x.grad``. Only the conventions are ours:

- the preset's defaults (textbook: in_out, ReLU'(0) = 1, MSE = 1/2 sum, sums; pytorch:
  out_in, ReLU'(0) = 0, MSE = mean, means), each overridable as docs/api.md says;
- relu_grad_at_zero = 1: PyTorch takes the left-hand derivative at z = 0 for relu and
  leaky_relu; ``RightDerivativeAtZero`` replaces it there by PyTorch's own derivative
  evaluated just right of 0 (at the smallest positive normal float, where both are on their
  linear branch). elu and selu keep PyTorch's value at 0 under every setting (the contract's
  convention names only ReLU and LeakyReLU);
- the fused forms docs/api.md prescribes: a softmax last layer with cross_entropy (from_logits
  false) is F.cross_entropy on its logits z, a sigmoid last layer with binary_cross_entropy is
  F.binary_cross_entropy_with_logits on z. Their z.grad is then p - y scaled by the reduction,
  as docs/api.md's "Output layer" item says.

Requires torch; import it only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own alias)

Tensor = torch.Tensor
ActivationFn = Callable[[Tensor], Tensor]

KINKED = frozenset({"relu", "leaky_relu"})
"""The activations whose derivative at z = 0 follows relu_grad_at_zero."""

_TEXTBOOK = {
    "weight_layout": "in_out",
    "relu_grad_at_zero": 1,
    "mse_reduction": "sum",
    "mse_half": True,
    "reduction": "sum",
}
_PYTORCH = {
    "weight_layout": "out_in",
    "relu_grad_at_zero": 0,
    "mse_reduction": "mean",
    "mse_half": False,
    "reduction": "mean",
}


class RightDerivativeAtZero(torch.autograd.Function):
    """fn(z) forward; backward is PyTorch's derivative of fn, except that at z = 0 it is the
    derivative just right of 0 (fn's, at the smallest positive normal float64)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, fn: ActivationFn) -> Tensor:
        ctx.save_for_backward(z)
        ctx.fn = fn
        return fn(z)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (z,) = ctx.saved_tensors
        right_of_zero = torch.finfo(z.dtype).tiny
        probe = torch.where(z == 0, right_of_zero, z).detach().requires_grad_()
        with torch.enable_grad():
            (dz,) = torch.autograd.grad(ctx.fn(probe), probe, grad)
        return dz, None


def _spec(value: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    params = dict(value)
    return params.pop("name"), params


def activation(spec: str | dict[str, Any], relu_grad_at_zero: int) -> ActivationFn:
    """PyTorch's function for an activation spec of a request."""
    name, p = _spec(spec)
    fns: dict[str, ActivationFn] = {
        "linear": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, p.get("negative_slope", 0.01)),
        "elu": lambda z: F.elu(z, p.get("alpha", 1.0)),
        "selu": F.selu,
        "gelu": lambda z: F.gelu(z, approximate=p.get("approximate", "none")),
        "softplus": lambda z: F.softplus(z, p.get("beta", 1.0), p.get("threshold", 20.0)),
        "silu": F.silu,
        "softmax": lambda z: torch.softmax(z, dim=1),
    }
    fn = fns[name]
    if name in KINKED and relu_grad_at_zero == 1:
        return lambda z: RightDerivativeAtZero.apply(z, fn)
    return fn


def _conventions(request: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(_TEXTBOOK if request.get("conventions", "textbook") == "textbook" else _PYTORCH)
    for key in ("weight_layout", "relu_grad_at_zero"):
        if request.get(key) is not None:
            resolved[key] = request[key]
    return resolved


def _targets(request: dict[str, Any], n_outputs: int) -> tuple[Tensor, bool]:
    """Targets as (rows [N, n_L] float64, False) or (class indices [N] int64, True).

    As docs/api.md reads them: N class indices (a flat list of integers) when inputs has rows,
    one class index (an integer) for one flat sample, otherwise rows (one flat row for a flat
    sample).
    """
    t = request["targets"]
    flat = not isinstance(request["inputs"][0], list)
    if isinstance(t, int):
        return torch.tensor([t], dtype=torch.int64), True
    if not flat and not isinstance(t[0], list):
        return torch.tensor(t, dtype=torch.int64), True
    rows = torch.tensor(t, dtype=torch.float64)
    return (rows.reshape(1, n_outputs) if flat else rows), False


def resolved_loss(spec: str | dict[str, Any], conv: dict[str, Any]) -> dict[str, Any]:
    """The loss with every parameter the preset leaves open filled in."""
    name, p = _spec(spec)
    if name == "mse":
        return {
            "name": name,
            "reduction": p.get("reduction") or conv["mse_reduction"],
            "half": conv["mse_half"] if p.get("half") is None else p["half"],
        }
    return {
        "name": name,
        "reduction": p.get("reduction") or conv["reduction"],
        "from_logits": p.get("from_logits", False),
        "label_smoothing": p.get("label_smoothing", 0.0),
        "delta": p.get("delta", 1.0),
        "beta": p.get("beta", 1.0),
    }


def _mse(loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor) -> Tensor:
    n = o.shape[0]
    squares = F.mse_loss(o, target, reduction="sum")
    value = {
        "sum": squares,
        "mean": F.mse_loss(o, target, reduction="mean"),
        "batch_mean": squares / n,
    }[loss["reduction"]]
    return (0.5 if loss["half"] else 1.0) * value


def _l1(loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor) -> Tensor:
    return F.l1_loss(o, target, reduction=loss["reduction"])


def _huber(loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor) -> Tensor:
    return F.huber_loss(o, target, reduction=loss["reduction"], delta=loss["delta"])


def _smooth_l1(loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor) -> Tensor:
    return F.smooth_l1_loss(o, target, reduction=loss["reduction"], beta=loss["beta"])


def _cross_entropy(loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor) -> Tensor:
    """F.cross_entropy over logits; over probabilities (no such PyTorch loss) -sum y' ln o,
    y' = (1 - eps) y + eps / C as F.cross_entropy smooths."""
    smoothing, reduction = loss["label_smoothing"], loss["reduction"]
    if loss["from_logits"] or last == "softmax":
        logits = o if loss["from_logits"] else z
        return F.cross_entropy(logits, target, reduction=reduction, label_smoothing=smoothing)
    n, c = o.shape
    rows = F.one_hot(target, c).to(o.dtype) if target.dtype == torch.int64 else target
    rows = (1.0 - smoothing) * rows + smoothing / c
    # 0 ln 0 = 0 (its limit): an output that underflowed to 0 where the target is 0 adds
    # nothing, and no 0 / 0 reaches the gradient.
    total = -(rows * torch.log(torch.where(rows != 0.0, o, 1.0))).sum()
    return total if reduction == "sum" else total / n


def _binary_cross_entropy(
    loss: dict[str, Any], z: Tensor, o: Tensor, last: str, target: Tensor
) -> Tensor:
    reduction = loss["reduction"]
    if loss["from_logits"] or last == "sigmoid":
        logits = o if loss["from_logits"] else z
        return F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)
    return F.binary_cross_entropy(o, target, reduction=reduction)


_LOSSES = {
    "mse": _mse,
    "l1": _l1,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}


@dataclass
class Trace:
    """One backward pass of PyTorch, with what ``rounding_magnitudes`` needs to bound it."""

    request: dict[str, Any]
    loss_spec: dict[str, Any]
    names: list[str]
    params: list[dict[str, Any]]
    x: Tensor
    weights: list[Tensor]
    in_out: list[Tensor]
    biases: list[Tensor]
    zs: list[Tensor]
    activations: list[Tensor]
    target_rows: Tensor
    loss: Tensor
    relu_grad_at_zero: int


def trace(request: dict[str, Any]) -> Trace:
    """Run ``request`` forward and backward through PyTorch autograd in float64."""
    conv = _conventions(request)
    out_in = conv["weight_layout"] == "out_in"
    x = torch.tensor(request["inputs"], dtype=torch.float64)
    x = (x.reshape(1, -1) if x.ndim == 1 else x).requires_grad_()
    specs = request["network"]["layers"]
    Ws = [torch.tensor(s["weights"], dtype=torch.float64, requires_grad=True) for s in specs]
    bs = [torch.tensor(s["biases"], dtype=torch.float64, requires_grad=True) for s in specs]
    in_out = [W.T if out_in else W for W in Ws]
    zs: list[Tensor] = []
    activations: list[Tensor] = []
    a = x
    for spec, W, b in zip(specs, in_out, bs, strict=True):
        z = a @ W + b
        z.retain_grad()
        a = activation(spec["activation"], conv["relu_grad_at_zero"])(z)
        zs.append(z)
        activations.append(a)
    names, params = zip(*(_spec(s["activation"]) for s in specs), strict=True)
    target, is_index = _targets(request, a.shape[1])
    loss_spec = resolved_loss(request.get("loss", "mse"), conv)
    loss = _LOSSES[loss_spec["name"]](loss_spec, zs[-1], a, names[-1], target)
    loss.backward()
    rows = F.one_hot(target, a.shape[1]).to(torch.float64) if is_index else target
    return Trace(
        request, loss_spec, list(names), list(params), x, Ws, in_out, bs, zs, activations,
        rows, loss, conv["relu_grad_at_zero"],
    )  # fmt: skip


Array = np.ndarray[Any, np.dtype[np.float64]]


def _np(t: Tensor | None) -> Array:
    assert t is not None
    return t.detach().numpy().astype(np.float64)


def answer(t: Trace) -> dict[str, Any]:
    """The /v1/backprop answer PyTorch gives (arrays; per-sample arrays always 2-D)."""
    step = t.request["learning_rate"] * (1.0 if t.request.get("ascent", False) else -1.0)
    return {
        "loss": np.float64(t.loss.item()),
        "outputs": _np(t.activations[-1]),
        "input_gradients": _np(t.x.grad),
        "layers": [
            {
                "pre_activations": _np(z),
                "activations": _np(a),
                "deltas": _np(z.grad),
                "weight_gradients": _np(W.grad),
                "bias_gradients": _np(b.grad),
                "updated_weights": _np(W + step * W.grad),  # type: ignore[operator]
                "updated_biases": _np(b + step * b.grad),  # type: ignore[operator]
            }
            for z, a, W, b in zip(t.zs, t.activations, t.weights, t.biases, strict=True)
        ],
    }


def backprop(request: dict[str, Any]) -> dict[str, Any]:
    """The /v1/backprop answer to ``request`` as PyTorch computes it."""
    return answer(trace(request))


def fields(answer: dict[str, Any]) -> dict[str, Array]:
    """Every compared quantity of an answer as ``{"layers[1].deltas": array, "loss": ...}``.

    Per-sample arrays are made 2-D, so that a flat single-sample answer lines up with ours.
    """
    flat: dict[str, Array] = {
        "loss": np.asarray(answer["loss"], dtype=np.float64).reshape(1, 1),
        "outputs": np.atleast_2d(np.asarray(answer["outputs"], dtype=np.float64)),
    }
    if "input_gradients" in answer:
        flat["input_gradients"] = np.atleast_2d(
            np.asarray(answer["input_gradients"], dtype=np.float64)
        )
    for i, layer in enumerate(answer["layers"]):
        for name, values in layer.items():
            array = np.asarray(values, dtype=np.float64)
            flat[f"layers[{i}].{name}"] = array if "bias" in name else np.atleast_2d(array)
    return flat


# Rounding magnitudes --------------------------------------------------------------------------
# A running error analysis of the computation above (Higham, Accuracy and Stability of Numerical
# Algorithms, ch. 3): for every entry r of every answer field, a magnitude M with
# |fl(r) - r| <~ k eps M for a small k, whoever evaluates r in float64 by these formulas.
# Where nothing cancels, M is about |r|; where terms cancel (p - y, 1 - tanh^2, 1 + erf, a sum
# of the deltas of samples that pull apart), M is the size of the terms that cancel, the
# rounding error of each input carried forward by first-order sensitivity.


def _fprime(name: str, p: dict[str, Any], z: Tensor, relu_grad_at_zero: int) -> Tensor:
    """f'(z) as PyTorch's backward computes it (softmax excluded)."""
    probe = z.detach().clone().requires_grad_()
    with torch.enable_grad():
        out = activation({"name": name, **p}, relu_grad_at_zero)(probe)
        (d,) = torch.autograd.grad(out, probe, torch.ones_like(out))
    return d


def _own_error_of_f(name: str, z: Tensor, a: Tensor) -> Tensor:
    """Magnitude of the rounding in f(z) itself, z exact: GELU's 1 + erf and 1 + tanh cancel."""
    return a.abs() + (z.abs() if name == "gelu" else 0.0)


def _own_error_of_fprime(name: str, p: dict[str, Any], z: Tensor, a: Tensor, d: Tensor) -> Tensor:
    """Magnitude of the rounding in PyTorch's formula for f'(z), z exact.

    sigmoid a (1 - a): 1 - a cancels, magnitude a; tanh 1 - a^2: magnitude 1; silu
    s (1 + z (1 - s)): s (1 + |z|); gelu: cdf = (1 + erf) / 2 and (1 - tanh^2) cancel.
    """
    if name in ("linear", "relu", "leaky_relu"):
        return torch.zeros_like(z)
    if name == "sigmoid":
        return d.abs() + a.abs()
    if name == "tanh":
        return 1.0 + a * a
    if name == "silu":
        return torch.sigmoid(z) * (1.0 + z.abs())
    if name == "gelu":
        slope = math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * z * z)
        return 1.0 + d.abs() + z.abs() * slope
    return d.abs()  # elu, selu, softplus: exp and a quotient, no cancellation


def _curvature(name: str, p: dict[str, Any], z: Tensor, d: Tensor) -> Tensor:
    """A bound on |f''(z)|, to carry the rounding of z into f'(z)."""
    if name in ("linear", "relu", "leaky_relu"):
        return torch.zeros_like(z)
    if name == "tanh":
        return 2.0 * d.abs()
    if name == "softplus":
        return p.get("beta", 1.0) * d.abs()
    if name in ("silu", "gelu"):
        return torch.ones_like(z)
    return d.abs()  # sigmoid: |f''| = |f'| |1 - 2a|; elu, selu: f'' = f' below 0


def _softmax_magnitude(p: Tensor, m_logits: Tensor) -> Tensor:
    """p = softmax(v), v known to m_logits: dp_i = p_i (dv_i - sum_j p_j dv_j)."""
    return p * (1.0 + m_logits + (p * m_logits).sum(dim=1, keepdim=True))


def _log_softmax_magnitude(v: Tensor, m_v: Tensor) -> Tensor:
    """log_softmax(v) = v - max - log sum exp(v - max): the terms that cancel, and dv."""
    top = v.max(dim=1, keepdim=True).values
    lse = torch.logsumexp(v, dim=1, keepdim=True)
    p = torch.softmax(v, dim=1)
    return v.abs() + top.abs() + (lse - top).abs() + m_v + (p * m_v).sum(dim=1, keepdim=True)


def _scale(loss: dict[str, Any], n: int, c: int) -> float:
    """The reduction's factor: 1 for sum, 1 / (count averaged over) otherwise."""
    if loss["reduction"] == "sum":
        return 1.0
    if loss["name"] == "cross_entropy" or loss["reduction"] == "batch_mean":
        return 1.0 / n
    return 1.0 / (n * c)


def _cross_entropy_magnitudes(
    loss: dict[str, Any], v: Tensor, m_v: Tensor, y: Tensor, logits: bool
) -> tuple[Tensor, Tensor, Tensor]:
    s = _scale(loss, *v.shape)
    eps = loss["label_smoothing"]
    y = (1.0 - eps) * y + eps / v.shape[1]
    if logits:
        p = torch.softmax(v, dim=1)
        g = s * (p * y.sum(dim=1, keepdim=True) - y)
        m_p = _softmax_magnitude(p, m_v)
        m_g = s * (m_p * y.abs().sum(dim=1, keepdim=True) + y.abs()) + g.abs()
        return s * (y.abs() * _log_softmax_magnitude(v, m_v)).sum(), g, m_g
    v = torch.where(y != 0.0, v, 1.0)  # 0 ln 0 = 0, as in _cross_entropy
    g = -s * y / v
    return s * (y.abs() * (v.log().abs() + m_v / v)).sum(), g, g.abs() * (1.0 + m_v / v)


def _binary_cross_entropy_magnitudes(
    loss: dict[str, Any], v: Tensor, m_v: Tensor, y: Tensor, logits: bool
) -> tuple[Tensor, Tensor, Tensor]:
    s = _scale(loss, *v.shape)
    if logits:
        sig = torch.sigmoid(v)
        g = s * (sig - y)
        m_g = s * (sig + sig * (1.0 - sig) * m_v + y.abs()) + g.abs()
        m_loss = s * ((1.0 - y).abs() * v.abs() + v.abs() + 1.0).sum() + (g.abs() * m_v).sum()
        return m_loss, g, m_g
    # PyTorch's BCELoss: log clamped at -100, o (1 - o) at 1e-12 (in float32) in the gradient.
    one_minus = (1.0 - v).clamp(min=1e-12)
    den = (v * (1.0 - v)).clamp(min=1e-12)
    g = s * (v - y) / den
    rel_v = m_v / v.clamp(min=1e-300)
    rel_1mv = (1.0 + m_v) / one_minus
    m_g = s * (v.abs() + y.abs() + m_v) / den + g.abs() * (1.0 + rel_v + rel_1mv)
    log_v = v.log().clamp(min=-100.0).abs()
    log_1mv = one_minus.log().clamp(min=-100.0).abs()
    m_loss = s * (y.abs() * (log_v + rel_v) + (1.0 - y).abs() * (log_1mv + rel_1mv)).sum()
    return m_loss, g, m_g


def _regression_magnitudes(
    loss: dict[str, Any], v: Tensor, m_v: Tensor, y: Tensor, logits: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """mse, l1, huber and smooth_l1: the cancellation is in o - y."""
    s = _scale(loss, *v.shape)
    d = v - y
    m_d = v.abs() + y.abs() + m_v
    if loss["name"] == "mse":
        c = (0.5 if loss["half"] else 1.0) * s
        g = 2.0 * c * d
        return c * (d * d).sum() + (g.abs() * m_d).sum(), g, 2.0 * c * m_d + g.abs()
    if loss["name"] == "l1" or (loss["name"] == "smooth_l1" and loss["beta"] == 0.0):
        return s * m_d.sum(), s * torch.sign(d), torch.full_like(v, s)
    if loss["name"] == "smooth_l1":  # d^2 / 2 beta inside (|d| < beta), |d| - beta/2 outside
        beta = loss["beta"]
        g = s * d.clamp(-beta, beta) / beta
        m_loss = s * ((d.abs().clamp(max=beta) / beta + 1.0) * m_d).sum()
        return m_loss, g, g.abs() + torch.where(d.abs() < beta, s * m_d / beta, 0.0)
    delta = loss["delta"]
    g = s * d.clamp(-delta, delta)
    m_loss = s * ((d.abs() + delta) * m_d).sum()
    return m_loss, g, g.abs() + torch.where(d.abs() < delta, s * m_d, 0.0)


_LOSS_MAGNITUDES = {
    "mse": _regression_magnitudes,
    "l1": _regression_magnitudes,
    "huber": _regression_magnitudes,
    "smooth_l1": _regression_magnitudes,
    "cross_entropy": _cross_entropy_magnitudes,
    "binary_cross_entropy": _binary_cross_entropy_magnitudes,
}
"""(M of the loss, g = dL/dv, M of g) for the loss taken of v: the outputs, or the logits
(fused forms, from_logits) when ``logits``."""


def _output_magnitudes(
    t: Trace, m_z: Tensor, m_o: Tensor, fp: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(M of the loss, M of delta^L)."""
    loss, last = t.loss_spec, t.names[-1]
    z, o = t.zs[-1].detach(), t.activations[-1].detach()
    y = t.target_rows
    fused = not loss.get("from_logits", False) and (
        (loss["name"] == "cross_entropy" and last == "softmax")
        or (loss["name"] == "binary_cross_entropy" and last == "sigmoid")
    )
    if fused:
        m_loss, _, m_g = _LOSS_MAGNITUDES[loss["name"]](loss, z, m_z, y, True)
        return m_loss, m_g
    from_logits = bool(loss.get("from_logits", False))
    m_loss, g, m_g = _LOSS_MAGNITUDES[loss["name"]](loss, o, m_o, y, from_logits)
    if fp is None:  # softmax: delta = a (g - sum g a)
        a, m_a = o, m_o
        m_delta = m_a * (g.abs() + (g.abs() * a).sum(dim=1, keepdim=True)) + a * (
            m_g + (m_g * a + g.abs() * m_a).sum(dim=1, keepdim=True)
        )
        return m_loss, m_delta
    m_fp = (
        _own_error_of_fprime(last, t.params[-1], z, o, fp)
        + _curvature(last, t.params[-1], z, fp) * m_z
    )
    return m_loss, (fp * g).abs() + m_fp * g.abs() + fp.abs() * m_g


def rounding_magnitudes(t: Trace) -> dict[str, Array]:
    """M for every entry of every field of ``answer(t)``, keyed as ``fields`` keys them."""
    with torch.no_grad():
        return _magnitudes(t)


def _magnitudes(t: Trace) -> dict[str, Array]:
    L = len(t.zs)
    abs_W = [W.detach().abs() for W in t.in_out]
    m_prev = t.x.detach().abs()
    m_zs: list[Tensor] = []
    m_as: list[Tensor] = []
    fps: list[Tensor | None] = []
    for i in range(L):
        z, a, name = t.zs[i].detach(), t.activations[i].detach(), t.names[i]
        m_z = m_prev @ abs_W[i] + t.biases[i].detach().abs()
        if name == "softmax":
            fps.append(None)
            m_a = _softmax_magnitude(a, m_z)
        else:
            fp = _fprime(name, t.params[i], z, t.relu_grad_at_zero)
            fps.append(fp)
            m_a = _own_error_of_f(name, z, a) + fp.abs() * m_z
        m_zs.append(m_z)
        m_as.append(m_a)
        m_prev = m_a

    m_loss, m_delta_last = _output_magnitudes(t, m_zs[-1], m_as[-1], fps[-1])
    m_deltas = [m_delta_last]
    for i in reversed(range(L - 1)):
        z, a, fp = t.zs[i].detach(), t.activations[i].detach(), fps[i]
        assert fp is not None
        upstream = t.zs[i + 1].grad @ t.in_out[i + 1].detach().T  # type: ignore[operator]
        m_upstream = m_deltas[-1] @ abs_W[i + 1].T
        m_fp = (
            _own_error_of_fprime(t.names[i], t.params[i], z, a, fp)
            + _curvature(t.names[i], t.params[i], z, fp) * m_zs[i]
        )
        m_deltas.append((fp * upstream).abs() + m_fp * upstream.abs() + fp.abs() * m_upstream)
    m_deltas.reverse()

    step = abs(t.request["learning_rate"])
    out_in = t.weights[0] is not t.in_out[0]
    answer_m: dict[str, Array] = {
        "loss": _np(m_loss).reshape(1, 1),
        "outputs": _np(m_as[-1]),
        "input_gradients": _np(m_deltas[0] @ abs_W[0].T),
    }
    m_inputs = [t.x.detach().abs(), *m_as[:-1]]
    a_inputs = [t.x.detach().abs(), *(a.detach().abs() for a in t.activations[:-1])]
    for i in range(L):
        delta = t.zs[i].grad.abs()  # type: ignore[union-attr]
        m_G = m_inputs[i].T @ delta + a_inputs[i].T @ m_deltas[i]
        m_G = m_G.T if out_in else m_G
        m_b = m_deltas[i].sum(dim=0)
        W, b = t.weights[i].detach(), t.biases[i].detach()
        answer_m[f"layers[{i}].pre_activations"] = _np(m_zs[i])
        answer_m[f"layers[{i}].activations"] = _np(m_as[i])
        answer_m[f"layers[{i}].deltas"] = _np(m_deltas[i])
        answer_m[f"layers[{i}].weight_gradients"] = _np(m_G)
        answer_m[f"layers[{i}].bias_gradients"] = _np(m_b)
        answer_m[f"layers[{i}].updated_weights"] = _np(W.abs() + step * m_G)
        answer_m[f"layers[{i}].updated_biases"] = _np(b.abs() + step * m_b)
    return answer_m


# The comparison ---------------------------------------------------------------------------------

RTOL = 1e-9
"""The relative error we are judged by."""

ROUNDING_FACTOR = 16.0
"""k in the floor k eps M: the largest |ours - PyTorch's| / (eps M) seen over 26,000 random
networks is 1.9, so 16 leaves a factor of eight for unlucky roundings and no more."""

EPS = float(np.finfo(np.float64).eps)
TINY = float(np.finfo(np.float64).tiny)
"""2^-1022: below it IEEE arithmetic underflows gradually and has no relative precision."""


@dataclass(frozen=True)
class Mismatch:
    field: str
    index: tuple[int, ...]
    ours: float
    pytorch: float
    tolerance: float

    def __str__(self) -> str:
        diff = abs(self.ours - self.pytorch)
        rel = diff / abs(self.pytorch) if self.pytorch else (math.inf if diff else 0.0)
        return (
            f"{self.field}{list(self.index)}: service {self.ours!r}, PyTorch {self.pytorch!r} "
            f"(relative error {rel:.2e}, allowed |difference| {self.tolerance:.2e})"
        )


@dataclass
class Comparison:
    """Every entry of every field of an answer against PyTorch's."""

    mismatches: list[Mismatch]
    relative_error: dict[str, float]
    """Per field name (deltas, loss, ...): the largest |ours - PyTorch's| / |PyTorch's| over
    the entries that float64 resolves to 1e-9 (whose rounding floor is under 1e-9 of them)."""
    tolerance_used: dict[str, float]
    """Per field name: the largest |ours - PyTorch's| / allowed difference (1 fails)."""
    needed_floor: dict[str, int]
    """Per field name: how many entries are over 1e-9 relative but within the floor."""
    rounding_ratio: dict[str, float]
    """Per field name: the largest |ours - PyTorch's| / (eps M), what ROUNDING_FACTOR bounds."""


def tolerance(expected: Array, magnitude: Array) -> Array:
    """|ours - PyTorch's| allowed for each entry: RTOL relative, plus the rounding floor."""
    return RTOL * np.abs(expected) + ROUNDING_FACTOR * EPS * magnitude + TINY


_FORWARD_FIELDS = ("loss", "outputs", "pre_activations", "activations")


def compare_forward(ours: dict[str, Any], request: dict[str, Any]) -> Comparison:
    """Compare a /v1/forward answer to the forward fields of PyTorch's /v1/backprop answer."""
    layers = [{k: layer[k] for k in _FORWARD_FIELDS if k in layer} for layer in ours["layers"]]
    return compare(
        {**ours, "layers": layers}, request, keep=lambda key: key.endswith(_FORWARD_FIELDS)
    )


def compare(
    ours: dict[str, Any],
    request: dict[str, Any],
    keep: Callable[[str], bool] = lambda key: True,
) -> Comparison:
    """Compare the service's JSON answer ``ours`` to ``request`` with PyTorch's.

    ``keep`` selects the fields compared, by key (``layers[1].deltas``).
    """
    t = trace(request)
    expected = {k: v for k, v in fields(answer(t)).items() if keep(k)}
    magnitude = rounding_magnitudes(t)
    got = fields(ours)
    if got.keys() != expected.keys():
        raise AssertionError(f"fields differ: {sorted(got.keys() ^ expected.keys())}")
    mismatches: list[Mismatch] = []
    relative: dict[str, float] = {}
    used: dict[str, float] = {}
    floored: dict[str, int] = {}
    ratio: dict[str, float] = {}
    for key, exp in expected.items():
        mine = got[key]
        if mine.shape != exp.shape:
            raise AssertionError(f"{key} has shape {mine.shape}, PyTorch's {exp.shape}")
        diff = np.abs(mine - exp)
        allowed = tolerance(exp, magnitude[key])
        resolved = allowed <= 2.0 * RTOL * np.abs(exp)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rel = np.where(diff == 0.0, 0.0, diff / np.abs(exp))
            share = diff / allowed
            rounding = np.where(diff <= TINY, 0.0, diff / (EPS * magnitude[key]))
        name = key.rsplit(".", 1)[-1]
        relative[name] = max(relative.get(name, 0.0), float(rel[resolved].max(initial=0.0)))
        used[name] = max(used.get(name, 0.0), float(share.max()))
        floored[name] = floored.get(name, 0) + int(np.sum((rel > RTOL) & (diff <= allowed)))
        ratio[name] = max(ratio.get(name, 0.0), float(rounding.max()))
        mismatches.extend(
            Mismatch(key, tuple(int(i) for i in idx), float(mine[idx]), float(exp[idx]),
                     float(allowed[idx]))
            for idx in zip(*np.nonzero(~(diff <= allowed)), strict=True)
        )  # fmt: skip
    return Comparison(mismatches, relative, used, floored, ratio)


def is_finite(request: dict[str, Any]) -> bool:
    """Whether PyTorch's answer is finite everywhere (docs/api.md: else the service answers 422)."""
    expected = fields(answer(trace(request)))
    return all(np.isfinite(value).all() for value in expected.values())


def conventions_used(request: dict[str, Any]) -> dict[str, Any]:
    """The ``conventions`` an answer should report: the preset's, each override applied."""
    conv = _conventions(request)
    loss = resolved_loss(request.get("loss", "mse"), conv)
    keep = {
        "mse": ("reduction", "half"),
        "huber": ("reduction", "delta"),
        "smooth_l1": ("reduction", "beta"),
    }.get(loss["name"], ("reduction",))
    return {
        "preset": request.get("conventions", "textbook"),
        "weight_layout": conv["weight_layout"],
        "relu_grad_at_zero": conv["relu_grad_at_zero"],
        "loss": {"name": loss["name"], **{k: loss[k] for k in keep}},
    }
