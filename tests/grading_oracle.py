"""An independent reference for grading tests: backprop as a student would write it out.

Written from the textbook, not from engine/, and with every classic mistake as a switch, so
that a test can build a submission with a mistake in it without asking the service (or its
variant code) what that mistake looks like. A few switches are mistakes the service does not
catalogue (OUTSIDE), for tests that no catalogued mistake is named for them. Supports what
the grading tests need: sigmoid, tanh, relu, linear and a softmax output with cross-entropy;
MSE in every form, cross-entropy with sum or mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]

OUTSIDE = ("weight_gradient_uses_z", "half_learning_rate", "sigmoid_derivative_plus")
"""Mistakes outside the catalogue: z^(l-1) for a^(l-1) in dW, eta/2 in the update, and the
sigmoid's derivative written a(1 + a)."""


def _sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def _f(name: str, z: Array) -> Array:
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probabilities: Array = e / e.sum(axis=1, keepdims=True)
        return probabilities
    raise ValueError(name)


def _df(name: str, z: Array, relu_at_zero: int) -> Array:
    """f'(z), computed from z."""
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1.0 + s) if "sigmoid_derivative_plus" in _TYPOS else s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, np.where(z < 0, 0.0, float(relu_at_zero)))
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(name)


_TYPOS: set[str] = set()
"""Mistakes outside the service's catalogue that the derivative itself makes (set by solve)."""


@dataclass
class Student:
    """How the student works: the loss they use and the mistakes they make."""

    loss: str = "mse"
    mse_half: bool = True
    reduction: str = "sum"  # mse: sum | mean | batch_mean; cross_entropy: sum | mean
    relu_at_zero: int = 1
    mistakes: set[str] = field(default_factory=set)


def solve(problem: dict[str, Any], student: Student) -> dict[str, Any]:
    """The whole /v1/backprop answer to a problem body (in_out layout, rows), as worked."""
    m = student.mistakes
    _TYPOS.clear()
    _TYPOS.update(m & {"sigmoid_derivative_plus"})
    layers = problem["network"]["layers"]
    Ws = [np.array(layer["weights"], dtype=float) for layer in layers]
    if "weight_layout" in m:
        Ws = [W.T if W.shape[0] == W.shape[1] else W for W in Ws]
    bs = [np.array(layer["biases"], dtype=float) for layer in layers]
    acts = [layer["activation"] for layer in layers]
    x = np.atleast_2d(np.array(problem["inputs"], dtype=float))
    t = np.atleast_2d(np.array(problem["targets"], dtype=float))
    eta = float(problem["learning_rate"])
    N = t.shape[0]

    # Forward, one layer at a time.
    a_list, z_list = [x], []
    for W, b, name in zip(Ws, bs, acts, strict=True):
        z = a_list[-1] @ W + b
        z_list.append(z)
        a_list.append(_f(name, z))
    o = a_list[-1]

    loss, dL_do = _loss(o, t, student)
    if "mean_scale_forgotten" in m:
        dL_do = dL_do * N
    if "loss_gradient_sign" in m:
        dL_do = -dL_do

    # delta of the output layer.
    def derivative(i: int) -> Array:
        if "activation_derivative_omitted" in m:
            return np.ones_like(z_list[i])
        if "derivative_at_activation" in m:
            return _df(acts[i], a_list[i + 1], student.relu_at_zero)
        return _df(acts[i], z_list[i], student.relu_at_zero)

    L = len(layers)
    if student.loss == "cross_entropy" or "output_activation_derivative_omitted" in m:
        delta_L = dL_do
    else:
        delta_L = derivative(L - 1) * dL_do
    deltas = [delta_L]
    for i in range(L - 2, -1, -1):
        W_above = Ws[i + 1]
        if "weights_not_transposed" in m and W_above.shape[0] == W_above.shape[1]:
            carried = deltas[0] @ W_above
        else:
            carried = deltas[0] @ W_above.T
        deltas.insert(0, derivative(i) * carried)

    answer_layers = [
        {
            "pre_activations": z_list[i].tolist(),
            "activations": a_list[i + 1].tolist(),
            **_gradients_and_step(
                Ws[i], bs[i], _gradient_input(i, a_list, z_list, m), deltas[i], eta=eta, m=m
            ),
        }
        for i in range(L)
    ]
    if "layers_reversed" in m:
        answer_layers.reverse()
    return {"loss": loss, "outputs": o.tolist(), "layers": answer_layers}


def _gradient_input(i: int, a_list: list[Array], z_list: list[Array], m: set[str]) -> Array:
    """What layer i's weight gradient multiplies delta by: a^(l-1) (right), a^l (a catalogued
    mistake), or z^(l-1) (a mistake outside the catalogue; x for the first layer)."""
    if "weight_gradient_own_activations" in m:
        return a_list[i + 1]
    if "weight_gradient_uses_z" in m and i > 0:
        return z_list[i - 1]
    return a_list[i]


def _loss(o: Array, t: Array, student: Student) -> tuple[float, Array]:
    """The loss and dL/do (for cross-entropy over a softmax, delta^L itself: fused)."""
    N, n_out = t.shape
    if student.loss == "mse":
        count = {"sum": 1.0, "mean": N * n_out, "batch_mean": N}[student.reduction]
        c = 0.5 if student.mse_half else 1.0
        return c * float(np.sum((o - t) ** 2)) / count, 2.0 * c * (o - t) / count
    count = N if student.reduction == "mean" else 1.0
    return -float(np.sum(t * np.log(o))) / count, (o - t) / count


def _gradients_and_step(
    W: Array, b: Array, a_prev: Array, delta: Array, *, eta: float, m: set[str]
) -> dict[str, Any]:
    gW = delta.T @ a_prev if "weight_gradient_transposed" in m else a_prev.T @ delta
    if "bias_gradient_not_summed" in m:
        gb = delta
    elif "bias_gradient_averaged" in m:
        gb = delta.mean(axis=0)
    else:
        gb = delta.sum(axis=0)
    step = (1.0 if "learning_rate_omitted" in m else eta) * (1.0 if "update_sign" in m else -1.0)
    if "half_learning_rate" in m:  # outside the catalogue
        step /= 2.0
    answer = {
        "deltas": delta.tolist(),
        "weight_gradients": gW.tolist(),
        "bias_gradients": gb.tolist(),
        "updated_biases": (b + step * gb).tolist(),
    }
    if W.shape in (gW.shape, gW.T.shape):  # a gradient of no shape of W's: no update written
        answer["updated_weights"] = (W + step * (gW if gW.shape == W.shape else gW.T)).tolist()
    return answer
