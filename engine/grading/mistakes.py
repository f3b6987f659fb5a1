"""The classic mistakes of hand-derived backprop, each recomputed so that it can be named.

A ``Variant`` is the answer a student gets by making a mistake consistently: the engine solves
the problem again with the mistake built in (a loss whose gradient has the wrong sign, an
activation whose derivative is left out, a recursion that does not transpose W, ...) or, for
mistakes made after the deltas (the gradients and the update), rewrites the reference answer.
A variant keeps only the items where it differs from the reference, so a mistake that changes
nothing in a given problem (ReLU'(0) when no z is 0, the 1/N when N = 1) is no variant at all.

Nothing is guessed: a failed item is diagnosed as a mistake only when the submitted numbers
match that mistake's recomputed ones within the grading tolerance.

Mistake ids, in the order in which ties between equally good explanations are broken:

    loss_gradient_sign                   dL/do as (t - o) instead of (o - t)
    output_activation_derivative_omitted delta^L = dL/da^L, f'(z^L) left out
    activation_derivative_omitted        f'(z) left out in every layer
    derivative_at_activation             f'(a) instead of f'(z)
    weights_not_transposed               delta^(l+1) W instead of delta^(l+1) W^T
    weight_layout                        w_jk read as the weight from k to j
    relu_grad_at_zero                    the other ReLU'(0) convention
    mse_half                             MSE without its 1/2, or with one it does not have
    mse_reduction                        MSE averaged instead of summed, or the other way round
    mean_scale_forgotten                 the 1/N of a mean reduction left out of the gradient
    weight_gradient_transposed           delta^T a instead of a^T delta
    weight_gradient_own_activations      (a^l)^T delta^l instead of (a^(l-1))^T delta^l
    bias_gradient_not_summed             dL/db = delta, one row per sample
    bias_gradient_averaged               dL/db = mean of delta over the samples
    update_sign                          W + eta dL/dW instead of W - eta dL/dW
    learning_rate_omitted                W - dL/dW instead of W - eta dL/dW
    layers_reversed                      the layers written output first
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from engine.activations import Activation, follows_kink_convention
from engine.conventions import Reduction, WeightLayout
from engine.errors import EngineError
from engine.formulas import Term
from engine.grading.items import LAYER_QUANTITIES, ItemKey, answer_arrays
from engine.losses import MSE, Loss, OutputUnit
from engine.network import DenseLayer, Network
from engine.problem import BackpropProblem
from engine.types import FloatArray

Answers = Mapping[ItemKey, FloatArray]


@dataclass(frozen=True)
class Mistake:
    """A named mistake, described for this problem in words a student understands."""

    id: str
    description: str


@dataclass(frozen=True)
class Variant:
    """The answer under one mistake (or two, for the MSE form): only the items it changes."""

    mistakes: tuple[Mistake, ...]
    answers: Answers

    @property
    def description(self) -> str:
        return "; and ".join(m.description for m in self.mistakes)


def variants(problem: BackpropProblem, reference: Answers) -> list[Variant]:
    """Every mistake's variant that differs from the reference and from the variants before it."""
    found: list[Variant] = []
    for generate in _GENERATORS:
        try:
            candidates = list(generate(problem, reference))
        except EngineError:  # the mistake overflows: no student wrote that answer down
            continue
        for mistakes, answers in candidates:
            changed = {
                key: value
                for key, value in answers.items()
                if key in reference and not _same(value, reference[key])
            }
            if changed and not any(_same_answers(changed, v.answers) for v in found):
                found.append(Variant(mistakes, changed))
    return found


def _same(a: FloatArray, b: FloatArray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-15))


def _same_answers(a: Answers, b: Answers) -> bool:
    return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)


Found = Iterator[tuple[tuple[Mistake, ...], dict[ItemKey, FloatArray]]]


def _one(mistake_id: str, description: str, answers: dict[ItemKey, FloatArray]) -> Found:
    yield (Mistake(mistake_id, description),), answers


# Stand-ins for a loss and an activation with a mistake built in -------------------------------


@dataclass(frozen=True)
class _ScaledGradient(Loss):
    """A loss whose gradient (and fused delta) is multiplied by ``factor``; same value."""

    name: ClassVar[str] = "scaled_gradient"
    formula: ClassVar[str] = "L"
    gradient_formula: ClassVar[str] = "factor dL/do"
    reductions: ClassVar[tuple[Reduction, ...]] = ("sum", "mean", "batch_mean")
    inner: Loss
    factor: float

    def value(self, o: FloatArray, y: FloatArray) -> float:
        return self.inner.value(o, y)

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return self.factor * self.inner.gradient(o, y)

    def fuses_with(self, activation: Activation) -> bool:
        return self.inner.fuses_with(activation)

    def value_from_logits(self, z: FloatArray, y: FloatArray) -> float:
        return self.inner.value_from_logits(z, y)

    def delta_from_logits(self, z: FloatArray, y: FloatArray) -> FloatArray:
        return self.factor * self.inner.delta_from_logits(z, y)

    def gradient_term(self, unit: OutputUnit, scale: float, *, fused: bool) -> Term | None:
        return self.inner.gradient_term(unit, self.factor * scale, fused=fused)


def _scaled(loss: Loss, factor: float) -> Loss:
    return _ScaledGradient(reduction=loss.reduction, inner=loss, factor=factor)


@dataclass(frozen=True)
class _DerivativeLeftOut(Activation):
    """f, with f'(z) taken as 1: delta = dL/da."""

    name: ClassVar[str] = "derivative_left_out"
    formula: ClassVar[str] = "f(z)"
    derivative_formula: ClassVar[str] = "1"
    inner: Activation

    def forward(self, z: FloatArray) -> FloatArray:
        return self.inner.forward(z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return np.ones_like(z)

    def vjp(self, z: FloatArray, a: FloatArray, dL_da: FloatArray) -> FloatArray:
        return dL_da


@dataclass(frozen=True)
class _DerivativeAtA(Activation):
    """f, with its derivative evaluated at a = f(z) instead of z."""

    name: ClassVar[str] = "derivative_at_a"
    formula: ClassVar[str] = "f(z)"
    derivative_formula: ClassVar[str] = "f'(a)"
    inner: Activation

    def forward(self, z: FloatArray) -> FloatArray:
        return self.inner.forward(z)

    def derivative(self, z: FloatArray, a: FloatArray) -> FloatArray:
        return self.inner.derivative(a, self.inner.forward(a))

    def vjp(self, z: FloatArray, a: FloatArray, dL_da: FloatArray) -> FloatArray:
        return self.inner.vjp(a, self.inner.forward(a), dL_da)


def _with_activations(network: Network, swap: Callable[[int, Activation], Activation]) -> Network:
    layers = tuple(
        replace(layer, activation=swap(i, layer.activation))
        for i, layer in enumerate(network.layers)
    )
    return replace(network, layers=layers)


# The mistakes made while computing the deltas: solved again ------------------------------------


def _loss_gradient_sign(problem: BackpropProblem, reference: Answers) -> Found:
    solved = problem.but(loss=_scaled(problem.loss, -1.0)).solve()
    yield from _one(
        "loss_gradient_sign",
        "the sign of the loss derivative is flipped: dL/do written as (t - o) instead of "
        "(o - t), so every delta and gradient comes out with the wrong sign",
        answer_arrays(solved),
    )


def _output_derivative_omitted(problem: BackpropProblem, reference: Answers) -> Found:
    last = len(problem.network.layers) - 1
    network = _with_activations(
        problem.network,
        lambda i, f: _DerivativeLeftOut(inner=f) if i == last else f,
    )
    yield from _one(
        "output_activation_derivative_omitted",
        "the output layer's activation derivative is left out: delta^L = dL/da^L, where "
        "backprop needs delta^L = f'(z^L) * dL/da^L",
        answer_arrays(problem.but(network=network).solve()),
    )


def _derivative_omitted(problem: BackpropProblem, reference: Answers) -> Found:
    network = _with_activations(problem.network, lambda i, f: _DerivativeLeftOut(inner=f))
    yield from _one(
        "activation_derivative_omitted",
        "the activation derivative is left out in every layer: delta = dL/da, where "
        "backprop needs delta = f'(z) * dL/da",
        answer_arrays(problem.but(network=network).solve()),
    )


def _derivative_at_activation(problem: BackpropProblem, reference: Answers) -> Found:
    last = len(problem.network.layers) - 1

    def at_a(i: int, f: Activation) -> Activation:
        fused = i == last and problem.loss.fuses_with(f)
        return f if fused else _DerivativeAtA(inner=f)

    network = _with_activations(problem.network, at_a)
    yield from _one(
        "derivative_at_activation",
        "the activation derivative is evaluated at a instead of z: f'(a) where backprop "
        "needs f'(z) (for the sigmoid, f'(z) = a(1 - a); sigma(a)(1 - sigma(a)) is another "
        "number)",
        answer_arrays(problem.but(network=network).solve()),
    )


def _carry_untransposed(delta_above: FloatArray, W_above: FloatArray) -> FloatArray:
    """delta W instead of delta W^T, where W is square (elsewhere the shapes force W^T)."""
    square = W_above.shape[0] == W_above.shape[1]
    return delta_above @ W_above if square else delta_above @ W_above.T


def _weights_not_transposed(problem: BackpropProblem, reference: Answers) -> Found:
    yield from _one(
        "weights_not_transposed",
        "the weights are not transposed in the delta recursion: delta^l_j must sum "
        "w_jk delta^(l+1)_k over the units k above, along the row of unit j "
        "(delta^(l+1) W^T), not w_kj along its column (delta^(l+1) W)",
        answer_arrays(problem.solve(carry=_carry_untransposed)),
    )


def _weight_layout(problem: BackpropProblem, reference: Answers) -> Found:
    def misread(layer: DenseLayer) -> DenseLayer:
        W = layer.weights
        square = W.shape[0] == W.shape[1]
        return replace(layer, weights=np.ascontiguousarray(W.T)) if square else layer

    network = replace(problem.network, layers=tuple(misread(x) for x in problem.network.layers))
    layout = problem.network.layout
    stored = (
        "row j, column k joins unit j below to unit k above (in_out)"
        if layout is WeightLayout.IN_OUT
        else "row k, column j joins unit j below to unit k above (out_in)"
    )
    yield from _one(
        "weight_layout",
        f"the weight matrices are read the wrong way round: in this problem the entry at {stored}",
        answer_arrays(problem.but(network=network).solve()),
    )


def _kink_at_zero_positive(f: Activation) -> bool | None:
    """f'(0) taken from the right (True) or the left (False); None for a smooth f."""
    if not follows_kink_convention(type(f)):
        return None
    return bool(f.positive_at_zero)  # type: ignore[attr-defined]


def _relu_grad_at_zero(problem: BackpropProblem, reference: Answers) -> Found:
    def flipped(i: int, f: Activation) -> Activation:
        positive = _kink_at_zero_positive(f)
        return f if positive is None else replace(f, positive_at_zero=not positive)  # type: ignore[call-arg]

    kinks = [_kink_at_zero_positive(layer.activation) for layer in problem.network.layers]
    expected = next((int(k) for k in kinks if k is not None), None)
    if expected is None:
        return
    yield from _one(
        "relu_grad_at_zero",
        f"the other convention for the derivative at the kink z = 0 was used: this problem "
        f"takes ReLU'(0) = {expected} (relu_grad_at_zero = {expected}), not {1 - expected}",
        answer_arrays(problem.but(network=_with_activations(problem.network, flipped)).solve()),
    )


_REDUCTION_WORDS: dict[str, str] = {
    "sum": "summed over outputs and samples",
    "mean": "averaged over all outputs and samples",
    "batch_mean": "summed over outputs and averaged over samples",
}


def _mse_form(problem: BackpropProblem, reference: Answers) -> Found:
    loss = problem.loss
    if not isinstance(loss, MSE):
        return
    for reduction in MSE.reductions:
        for half in (True, False):
            if (reduction, half) == (loss.reduction, loss.half):
                continue
            mistakes: list[Mistake] = []
            if half != loss.half:
                words = (
                    "the MSE is missing its 1/2 (so dL/do = 2(o - t) instead of (o - t))"
                    if loss.half
                    else "the MSE has a 1/2 that this problem's MSE does not have "
                    "(so dL/do = (o - t) instead of 2(o - t))"
                )
                mistakes.append(Mistake("mse_half", words))
            if reduction != loss.reduction:
                mistakes.append(
                    Mistake(
                        "mse_reduction",
                        f"the MSE is {_REDUCTION_WORDS[reduction]} where this problem's is "
                        f"{_REDUCTION_WORDS[loss.reduction]}",
                    )
                )
            mse = replace(loss, reduction=reduction, half=half)
            yield tuple(mistakes), answer_arrays(problem.but(loss=mse).solve())


def _mean_scale_forgotten(problem: BackpropProblem, reference: Answers) -> Found:
    n = problem.n_samples
    if problem.loss.reduction == "sum" or n == 1:
        return
    yield from _one(
        "mean_scale_forgotten",
        f"the 1/N of the mean over the N = {n} samples is left out of the gradient: every "
        f"delta comes out {n} times too large",
        answer_arrays(problem.but(loss=_scaled(problem.loss, float(n))).solve()),
    )


# The mistakes made after the deltas: the reference answer rewritten -----------------------------


def _step(problem: BackpropProblem) -> float:
    return problem.learning_rate if problem.ascent else -problem.learning_rate


def _weight_gradient_transposed(problem: BackpropProblem, reference: Answers) -> Found:
    answers: dict[ItemKey, FloatArray] = {}
    for i, layer in enumerate(problem.network.layers):
        grad_T = np.ascontiguousarray(reference[ItemKey("weight_gradients", i)].T)
        answers[ItemKey("weight_gradients", i)] = grad_T
        if grad_T.shape == layer.weights.shape:
            answers[ItemKey("updated_weights", i)] = layer.weights + _step(problem) * grad_T
    yield from _one(
        "weight_gradient_transposed",
        "the weight gradient is transposed: dL/dW = delta^T a instead of a^T delta "
        "(the gradient has the shape of W, one entry per weight, in the problem's layout)",
        answers,
    )


def _weight_gradient_own_activations(problem: BackpropProblem, reference: Answers) -> Found:
    """dL/dW^l = (a^l)^T delta^l: the layer's own activations where its inputs belong. Its shape
    is (n_l, n_l), W^l's only for a square layer (then the update follows from it too)."""
    answers: dict[ItemKey, FloatArray] = {}
    layout = problem.network.layout
    for i, layer in enumerate(problem.network.layers):
        grad = layout.gradient(
            reference[ItemKey("activations", i)], reference[ItemKey("deltas", i)]
        )
        answers[ItemKey("weight_gradients", i)] = grad
        if grad.shape == layer.weights.shape:
            answers[ItemKey("updated_weights", i)] = layer.weights + _step(problem) * grad
    yield from _one(
        "weight_gradient_own_activations",
        "the weight gradient takes the layer's own activations a^l where it takes those coming "
        "into it, a^(l-1) (x for the first layer): dL/dw^l_jk = a^(l-1)_j delta^l_k",
        answers,
    )


def _layers_reversed(problem: BackpropProblem, reference: Answers) -> Found:
    """layers[i] of the answer holds layer L - i's quantities: written output first."""
    last = len(problem.network.layers) - 1
    if last == 0:
        return
    yield from _one(
        "layers_reversed",
        "the layers are written output first: layers[0] of the answer is the first layer above "
        "the inputs (layers[i] answers layer i + 1, the output layer comes last)",
        {
            ItemKey(quantity, i): reference[ItemKey(quantity, last - i)]
            for i in range(last + 1)
            for quantity in LAYER_QUANTITIES
        },
    )


def _bias_gradient_not_summed(problem: BackpropProblem, reference: Answers) -> Found:
    if problem.n_samples == 1:
        return
    answers: dict[ItemKey, FloatArray] = {}
    for i, layer in enumerate(problem.network.layers):
        delta = reference[ItemKey("deltas", i)]
        answers[ItemKey("bias_gradients", i)] = delta
        answers[ItemKey("updated_biases", i)] = layer.biases + _step(problem) * delta
    yield from _one(
        "bias_gradient_not_summed",
        "the bias gradient is not summed over the batch: dL/db is the sum over the samples "
        "of delta, one number per unit, not one row per sample",
        answers,
    )


def _bias_gradient_averaged(problem: BackpropProblem, reference: Answers) -> Found:
    if problem.n_samples == 1:
        return
    answers: dict[ItemKey, FloatArray] = {}
    for i, layer in enumerate(problem.network.layers):
        mean = np.mean(reference[ItemKey("deltas", i)], axis=0)
        answers[ItemKey("bias_gradients", i)] = mean
        answers[ItemKey("updated_biases", i)] = layer.biases + _step(problem) * mean
    yield from _one(
        "bias_gradient_averaged",
        "the bias gradient is averaged over the batch instead of summed: dL/db is the sum "
        "over the samples of delta (any 1/N of the loss is already inside delta)",
        answers,
    )


def _updates(
    problem: BackpropProblem, reference: Answers, step: float
) -> dict[ItemKey, FloatArray]:
    answers: dict[ItemKey, FloatArray] = {}
    for i, layer in enumerate(problem.network.layers):
        answers[ItemKey("updated_weights", i)] = (
            layer.weights + step * reference[ItemKey("weight_gradients", i)]
        )
        answers[ItemKey("updated_biases", i)] = (
            layer.biases + step * reference[ItemKey("bias_gradients", i)]
        )
    return answers


def _update_sign(problem: BackpropProblem, reference: Answers) -> Found:
    right, wrong = ("+", "-") if problem.ascent else ("-", "+")
    yield from _one(
        "update_sign",
        f"the update goes the wrong way: W {wrong} eta dL/dW instead of W {right} eta dL/dW",
        _updates(problem, reference, -_step(problem)),
    )


def _learning_rate_omitted(problem: BackpropProblem, reference: Answers) -> Found:
    sign = 1.0 if problem.ascent else -1.0
    yield from _one(
        "learning_rate_omitted",
        f"the learning rate is left out of the update: W {'+' if problem.ascent else '-'} "
        f"dL/dW instead of W {'+' if problem.ascent else '-'} eta dL/dW "
        f"(eta = {problem.learning_rate:g})",
        _updates(problem, reference, sign),
    )


_GENERATORS: tuple[Callable[[BackpropProblem, Answers], Found], ...] = (
    _loss_gradient_sign,
    _output_derivative_omitted,
    _derivative_omitted,
    _derivative_at_activation,
    _weights_not_transposed,
    _weight_layout,
    _relu_grad_at_zero,
    _mse_form,
    _mean_scale_forgotten,
    _weight_gradient_transposed,
    _weight_gradient_own_activations,
    _bias_gradient_not_summed,
    _bias_gradient_averaged,
    _update_sign,
    _learning_rate_omitted,
    _layers_reversed,
)

MISTAKE_IDS: tuple[str, ...] = (
    "loss_gradient_sign",
    "output_activation_derivative_omitted",
    "activation_derivative_omitted",
    "derivative_at_activation",
    "weights_not_transposed",
    "weight_layout",
    "relu_grad_at_zero",
    "mse_half",
    "mse_reduction",
    "mean_scale_forgotten",
    "weight_gradient_transposed",
    "weight_gradient_own_activations",
    "bias_gradient_not_summed",
    "bias_gradient_averaged",
    "update_sign",
    "learning_rate_omitted",
    "layers_reversed",
)
