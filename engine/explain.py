"""Worked solutions: each entry's textbook formula with the numbers of one sample substituted.

    delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771

Layers and units are numbered from 1, as the textbook does: w^l_(j,k) joins unit j of layer
l - 1 to unit k of layer l, whatever the layout the matrix is stored in; x_j are the inputs,
o_k the outputs, t_k the targets. Each formula comes as plain text and as LaTeX. Numbers are
shown with 4 significant figures; the value on the right is the exact answer, rounded.

Per-sample quantities (z, a, delta) are worked for one chosen sample; the gradients, which sum
over the samples, list each sample's term. Only small networks are explained (see
``too_large_to_explain``): a worked solution of a 100-unit layer is no help to anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from engine.activations import Activation, Linear, Sigmoid, Softmax, Tanh
from engine.losses import L1, MSE, BinaryCrossEntropy, CrossEntropy, Huber, Loss
from engine.network import LAYER_QUANTITIES, Backprop, Network
from engine.types import FloatArray

MAX_UNITS = 16
"""Widest layer (inputs included) that is explained."""

MAX_LAYERS = 8
MAX_SAMPLES = 16

EXPLAINED: tuple[str, ...] = LAYER_QUANTITIES


@dataclass(frozen=True)
class Formula:
    """One entry's formula with its numbers, as plain text and as LaTeX."""

    text: str
    latex: str


@dataclass(frozen=True)
class Entry:
    """index is the entry's position in the answer's array (0-based, in the stored layout)."""

    index: tuple[int, ...]
    formula: Formula


def too_large_to_explain(widths: Sequence[int], n_samples: int) -> str | None:
    """None when a network this size is small enough to explain, else what is too large.

    widths : n_0 (inputs), n_1, ..., n_L
    """
    n_layers, widest = len(widths) - 1, max(widths)
    if n_layers > MAX_LAYERS:
        return f"the network has {n_layers} layers (at most {MAX_LAYERS})"
    if widest > MAX_UNITS:
        return f"a layer has {widest} units (at most {MAX_UNITS}, inputs included)"
    if n_samples > MAX_SAMPLES:
        return f"there are {n_samples} samples (at most {MAX_SAMPLES})"
    return None


# Text and LaTeX side by side ------------------------------------------------------------------


@dataclass(frozen=True)
class _Tex:
    text: str
    latex: str

    def __add__(self, other: _Tex) -> _Tex:
        return _Tex(self.text + other.text, self.latex + other.latex)


def _t(text: str, latex: str | None = None) -> _Tex:
    return _Tex(text, text if latex is None else latex)


def _join(parts: list[_Tex], text_sep: str, latex_sep: str | None = None) -> _Tex:
    return _Tex(
        text_sep.join(p.text for p in parts),
        (text_sep if latex_sep is None else latex_sep).join(p.latex for p in parts),
    )


def _times(parts: list[_Tex]) -> _Tex:
    return _join(parts, " * ", r" \cdot ")


def _num(value: float, *, wrap: bool = True) -> _Tex:
    """A number with 4 significant figures; negatives in parentheses inside a product."""
    text = f"{value:.4g}"
    latex = text
    if "e" in text:
        mantissa, exponent = text.split("e")
        latex = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    if wrap and value < 0:
        return _Tex(f"({text})", rf"\left({latex}\right)")
    return _Tex(text, latex)


def _coefficient(c: float) -> _Tex | None:
    """A constant factor as a fraction ("1/3"), or None when it is 1."""
    if c == 1.0:
        return None
    f = Fraction(c).limit_denominator(10**6)
    if f.denominator == 1:
        return _t(str(f.numerator))
    sign = "-" if f < 0 else ""
    return _Tex(
        f"({sign}{abs(f.numerator)}/{f.denominator})",
        rf"{sign}\frac{{{abs(f.numerator)}}}{{{f.denominator}}}",
    )


def _sym(name: str, latex_name: str, layer: int | None, *index: int, sample: str = "") -> _Tex:
    """A symbol with a layer superscript and 1-based subscripts: delta^2_1, w^2_(1,2)."""
    subs = ",".join(str(i + 1) for i in index)
    text_sub = subs if len(index) == 1 else f"({subs})"
    if layer is None:
        return _Tex(f"{name}_{text_sub}{sample}", f"{latex_name}_{{{subs}}}{sample}")
    return _Tex(
        f"{name}^{layer}_{text_sub}{sample}", f"{latex_name}^{{{layer}}}_{{{subs}}}{sample}"
    )


# The worked solution ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    network: Network
    x: FloatArray
    y: FloatArray
    loss: Loss
    learning_rate: float
    ascent: bool
    result: Backprop

    @property
    def n_layers(self) -> int:
        return len(self.network.layers)

    def weights(self, layer: int) -> FloatArray:
        """W^(layer + 1) as an (n_in, n_out) matrix."""
        return self.network.layout.as_in_out(self.network.layers[layer].weights)

    def a(self, layer: int) -> FloatArray:
        """a^layer as rows, a^0 = x (layer counted from 1, as in the formulas)."""
        return self.x if layer == 0 else self.result.forward.activations[layer - 1]

    def a_sym(self, layer: int, unit: int, sample: str = "") -> _Tex:
        if layer == 0:
            return _sym("x", "x", None, unit, sample=sample)
        if layer == self.n_layers:
            return _sym("o", "o", None, unit, sample=sample)
        return _sym("a", "a", layer, unit, sample=sample)


def explain(
    network: Network,
    x: FloatArray,
    y: FloatArray,
    loss: Loss,
    result: Backprop,
    *,
    learning_rate: float,
    ascent: bool = False,
    sample: int = 0,
) -> list[dict[str, list[Entry]]]:
    """Every entry's worked formula, layer by layer: [{"deltas": [Entry, ...], ...}, ...].

    x : ndarray of shape (n_samples, n_0); y : ndarray of shape (n_samples, n_L)
    """
    ctx = _Context(network, x, y, loss, learning_rate, ascent, result)
    layers: list[dict[str, list[Entry]]] = []
    for i, layer in enumerate(network.layers):
        shape = layer.weights.shape
        units = result.forward.pre_activations[i].shape[1]
        per_unit = [(sample, k) for k in range(units)]
        layers.append(
            {
                quantity: [
                    Entry(index, formula)
                    for index in (
                        per_unit
                        if quantity in ("pre_activations", "activations", "deltas")
                        else [(k,) for k in range(units)]
                        if quantity in ("bias_gradients", "updated_biases")
                        else [(r, c) for r in range(shape[0]) for c in range(shape[1])]
                    )
                    if (formula := _entry(ctx, quantity, i, index)) is not None
                ]
                for quantity in EXPLAINED
            }
        )
    return layers


def explain_entry(
    network: Network,
    x: FloatArray,
    y: FloatArray,
    loss: Loss,
    result: Backprop,
    *,
    learning_rate: float,
    ascent: bool,
    quantity: str,
    layer: int,
    index: tuple[int, ...],
) -> Formula | None:
    """The worked formula of one entry of layers[layer].quantity, None if there is none."""
    ctx = _Context(network, x, y, loss, learning_rate, ascent, result)
    return _entry(ctx, quantity, layer, index)


def _entry(ctx: _Context, quantity: str, i: int, index: tuple[int, ...]) -> Formula | None:
    if quantity in ("pre_activations", "activations", "deltas"):
        sample, k = index
        return _PER_UNIT[quantity](ctx, i, sample, k)
    if quantity in ("bias_gradients", "updated_biases"):
        return _PER_UNIT[quantity](ctx, i, 0, index[0])
    row, col = index
    j, k = (row, col) if ctx.network.layout.value == "in_out" else (col, row)
    return _PER_UNIT[quantity](ctx, i, j, k)


def _equation(lhs: _Tex, symbolic: _Tex | None, numbers: _Tex, value: float) -> Formula:
    parts = [lhs] + ([symbolic] if symbolic is not None else []) + [numbers]
    parts.append(_num(value, wrap=False))
    joined = _join(parts, " = ")
    return Formula(joined.text, joined.latex)


def _z(ctx: _Context, i: int, n: int, k: int) -> Formula:
    sup = i + 1
    W, a_prev = ctx.weights(i), ctx.a(i)[n]
    b = ctx.network.layers[i].biases[k]
    terms_sym = [ctx.a_sym(i, j) + _t(" ") + _sym("w", "w", sup, j, k) for j in range(W.shape[0])]
    terms_num = [_times([_num(a_prev[j]), _num(W[j, k])]) for j in range(W.shape[0])]
    symbolic = _join([*terms_sym, _sym("b", "b", sup, k)], " + ")
    numbers = _join([*terms_num, _num(b)], " + ")
    return _equation(
        _sym("z", "z", sup, k), symbolic, numbers, ctx.result.forward.pre_activations[i][n, k]
    )


def _a(ctx: _Context, i: int, n: int, k: int) -> Formula:
    sup = i + 1
    f = ctx.network.layers[i].activation
    z = ctx.result.forward.pre_activations[i][n, k]
    z_sym = _sym("z", "z", sup, k)
    name = _t(f.name, rf"\mathrm{{{f.name}}}")
    return _equation(
        ctx.a_sym(sup, k),
        name + _t("(") + z_sym + _t(")"),
        name + _t("(") + _num(z, wrap=False) + _t(")"),
        ctx.result.forward.activations[i][n, k],
    )


def _sigmoid_derivative(a_sym: _Tex, a: _Tex) -> tuple[_Tex, _Tex]:
    return a_sym + _t("(1 - ") + a_sym + _t(")"), _times([a, _t("(1 - ") + a + _t(")")])


def _tanh_derivative(a_sym: _Tex, a: _Tex) -> tuple[_Tex, _Tex]:
    square = _t("^2", "^{2}")
    return _t("(1 - ") + a_sym + square + _t(")"), _t("(1 - ") + a + square + _t(")")


_DERIVATIVES: dict[type[Activation], Callable[[_Tex, _Tex], tuple[_Tex, _Tex]]] = {
    Sigmoid: _sigmoid_derivative,
    Tanh: _tanh_derivative,
}
"""f'(z) written in terms of a = f(z), where the textbook does; the others read f'(z^l_k)."""


def _derivative_factor(ctx: _Context, i: int, n: int, k: int) -> tuple[_Tex, _Tex] | None:
    """f'(z^l_k) as a symbol and as numbers; None for the linear activation (f' = 1)."""
    f: Activation = ctx.network.layers[i].activation
    sup = i + 1
    if isinstance(f, Linear):
        return None
    in_terms_of_a = _DERIVATIVES.get(type(f))
    if in_terms_of_a is not None:
        return in_terms_of_a(ctx.a_sym(sup, k), _num(ctx.result.forward.activations[i][n, k]))
    z = ctx.result.forward.pre_activations[i][n, k : k + 1]
    value = f.derivative(z, f.forward(z))[0]
    symbol = _t(f"{f.name}'(", rf"\mathrm{{{f.name}}}'(") + _sym("z", "z", sup, k) + _t(")")
    return symbol, _num(value)


@dataclass(frozen=True)
class _Unit:
    """One output unit of one sample: o_k and t_k as symbols and as numbers."""

    n: int
    k: int
    o: _Tex
    t: _Tex
    o_num: _Tex
    t_num: _Tex

    @property
    def difference(self) -> tuple[_Tex, _Tex]:
        """(o_k - t_k), as a symbol and as numbers."""
        return (
            _t("(") + self.o + _t(" - ") + self.t + _t(")"),
            _t("(") + self.o_num + _t(" - ") + self.t_num + _t(")"),
        )


LossTerm = Callable[[_Context, _Unit, float], tuple[_Tex, _Tex] | None]


def _loss_factor(ctx: _Context, n: int, k: int) -> tuple[_Tex, _Tex] | None:
    """dL/do_k as a symbol and as numbers, or dL/dz_k itself where the loss fuses with f_L.

    None for a form with no short formula (label smoothing, target rows that do not sum to 1).
    """
    term = _LOSS_TERMS.get(type(ctx.loss))
    if term is None:
        return None
    unit = _Unit(
        n,
        k,
        _sym("o", "o", None, k),
        _sym("t", "t", None, k),
        _num(ctx.result.forward.outputs[n, k]),
        _num(ctx.y[n, k]),
    )
    return term(ctx, unit, ctx.loss.scale(ctx.result.forward.outputs.shape))


def _mse_term(ctx: _Context, unit: _Unit, c: float) -> tuple[_Tex, _Tex] | None:
    assert isinstance(ctx.loss, MSE)
    return _scaled(c * (1.0 if ctx.loss.half else 2.0), *unit.difference)


def _cross_entropy_term(ctx: _Context, unit: _Unit, c: float) -> tuple[_Tex, _Tex] | None:
    loss = ctx.loss
    assert isinstance(loss, CrossEntropy)
    if loss.label_smoothing or not np.isclose(ctx.y[unit.n].sum(), 1.0):
        return None
    if loss.from_logits:
        return _from_logits(ctx, loss, unit.n, unit.k)
    if loss.fuses_with(ctx.network.layers[-1].activation):
        return _scaled(c, *unit.difference)
    return _scaled(
        c, _t("-") + unit.t + _t(" / ") + unit.o, _t("-") + unit.t_num + _t(" / ") + unit.o_num
    )


def _binary_cross_entropy_term(ctx: _Context, unit: _Unit, c: float) -> tuple[_Tex, _Tex]:
    loss = ctx.loss
    assert isinstance(loss, BinaryCrossEntropy)
    if loss.from_logits:
        return _from_logits(ctx, loss, unit.n, unit.k)
    diff_sym, diff_num = unit.difference
    if loss.fuses_with(ctx.network.layers[-1].activation):
        return _scaled(c, diff_sym, diff_num)
    o, on = unit.o, unit.o_num
    symbolic = diff_sym + _t(" / (") + o + _t("(1 - ") + o + _t("))")
    numbers = diff_num + _t(" / (") + _times([on, _t("(1 - ") + on + _t(")")]) + _t(")")
    return _scaled(c, symbolic, numbers)


def _l1_term(ctx: _Context, unit: _Unit, c: float) -> tuple[_Tex, _Tex]:
    diff_sym, diff_num = unit.difference
    return _scaled(c, _t("sign") + diff_sym, _t("sign") + diff_num)


def _huber_term(ctx: _Context, unit: _Unit, c: float) -> tuple[_Tex, _Tex]:
    assert isinstance(ctx.loss, Huber)
    delta = ctx.loss.delta
    return _scaled(
        c,
        _t("clip(") + unit.o + _t(" - ") + unit.t + _t(", -delta, delta)", r", -\delta, \delta)"),
        _t("clip(")
        + unit.o_num
        + _t(" - ")
        + unit.t_num
        + _t(", ")
        + _num(-delta)
        + _t(", ")
        + _num(delta)
        + _t(")"),
    )


_LOSS_TERMS: dict[type[Loss], LossTerm] = {
    MSE: _mse_term,
    CrossEntropy: _cross_entropy_term,
    BinaryCrossEntropy: _binary_cross_entropy_term,
    L1: _l1_term,
    Huber: _huber_term,
}
"""Each loss's dL/do_k (dL/dz_k when fused with the last activation), by the loss's class."""


def _from_logits(
    ctx: _Context, loss: CrossEntropy | BinaryCrossEntropy, n: int, k: int
) -> tuple[_Tex, _Tex]:
    """dL/do_k for a loss applied to logits o: (softmax(o)_k - t_k) or (sigmoid(o_k) - t_k)."""
    o_row = ctx.result.forward.outputs[n : n + 1]
    t = _sym("t", "t", None, k)
    if isinstance(loss, CrossEntropy):
        p = float(np.exp(o_row - np.logaddexp.reduce(o_row, axis=1))[0, k])
        p_sym = _t("softmax(o)_", r"\mathrm{softmax}(o)_{") + _t(str(k + 1), f"{k + 1}}}")
    else:
        p = float(1.0 / (1.0 + np.exp(-o_row[0, k])))
        p_sym = _t("sigmoid(", r"\sigma(") + _sym("o", "o", None, k) + _t(")")
    symbolic = _t("(") + p_sym + _t(" - ") + t + _t(")")
    numbers = _t("(") + _num(p) + _t(" - ") + _num(ctx.y[n, k]) + _t(")")
    return _scaled(loss.scale(ctx.result.forward.outputs.shape), symbolic, numbers)


def _scaled(c: float, symbolic: _Tex, numbers: _Tex) -> tuple[_Tex, _Tex]:
    coefficient = _coefficient(c)
    if coefficient is None:
        return symbolic, numbers
    return coefficient + _t(" ", " ") + symbolic, _times([coefficient, numbers])


def _delta(ctx: _Context, i: int, n: int, k: int) -> Formula | None:
    sup = i + 1
    value = ctx.result.layers[i].delta[n, k]
    lhs = _sym("delta", r"\delta", sup, k)
    if i == ctx.n_layers - 1:
        return _output_delta(ctx, n, k, lhs, value)
    W_above, delta_above = ctx.weights(i + 1), ctx.result.layers[i + 1].delta[n]
    above = range(W_above.shape[1])
    sum_sym = _join(
        [
            _sym("w", "w", sup + 1, k, m) + _t(" ") + _sym("delta", r"\delta", sup + 1, m)
            for m in above
        ],
        " + ",
    )
    sum_num = _join([_times([_num(W_above[k, m]), _num(delta_above[m])]) for m in above], " + ")
    factor = _derivative_factor(ctx, i, n, k)
    if factor is None:
        return _equation(lhs, sum_sym, sum_num, value)
    return _equation(
        lhs,
        factor[0] + _t("(") + sum_sym + _t(")"),
        _times([factor[1], _t("(") + sum_num + _t(")")]),
        value,
    )


def _output_delta(ctx: _Context, n: int, k: int, lhs: _Tex, value: float) -> Formula | None:
    loss_part = _loss_factor(ctx, n, k)
    if loss_part is None:
        return None
    g_sym, g_num = loss_part
    i = ctx.n_layers - 1
    f = ctx.network.layers[i].activation
    if ctx.loss.fuses_with(f):
        return _equation(lhs, g_sym, g_num, value)
    if isinstance(f, Softmax):
        o = _sym("o", "o", None, k)
        o_val = ctx.result.forward.outputs[n]
        g = ctx.loss.gradient(ctx.result.forward.outputs, ctx.y)[n]
        weighted = float(np.dot(g, o_val))
        jacobian = _t(
            "(dL/do_k - sum_j dL/do_j o_j)",
            r"\left(\frac{\partial L}{\partial o_k}"
            r" - \sum_j \frac{\partial L}{\partial o_j} o_j\right)",
        )
        difference = _t("(") + _num(g[k], wrap=False) + _t(" - ") + _num(weighted) + _t(")")
        return _equation(lhs, o + jacobian, _times([_num(o_val[k]), difference]), value)
    factor = _derivative_factor(ctx, i, n, k)
    if factor is None:
        return _equation(lhs, g_sym, g_num, value)
    return _equation(lhs, factor[0] + g_sym, _times([factor[1], g_num]), value)


def _samples_sum(
    ctx: _Context, terms_sym: Callable[[str], _Tex], terms_num: Callable[[int], _Tex]
) -> tuple[_Tex, _Tex]:
    n_samples = ctx.x.shape[0]
    if n_samples == 1:
        return terms_sym(""), terms_num(0)
    symbolic = _t("sum_n ", r"\sum_{n} ") + terms_sym("[n]")
    return symbolic, _join([terms_num(n) for n in range(n_samples)], " + ")


def _weight_gradient(ctx: _Context, i: int, j: int, k: int) -> Formula:
    sup = i + 1
    a_prev, delta = ctx.a(i), ctx.result.layers[i].delta
    symbolic, numbers = _samples_sum(
        ctx,
        lambda s: ctx.a_sym(i, j, s) + _t(" ") + _sym("delta", r"\delta", sup, k, sample=s),
        lambda n: _times([_num(a_prev[n, j]), _num(delta[n, k])]),
    )
    grad = ctx.network.layout.as_in_out(ctx.result.layers[i].weight_gradient)[j, k]
    lhs = _t("dL/d", r"\frac{\partial L}{\partial ") + _sym("w", "w", sup, j, k) + _t("", "}")
    return _equation(lhs, symbolic, numbers, grad)


def _bias_gradient(ctx: _Context, i: int, _n: int, k: int) -> Formula:
    sup = i + 1
    delta = ctx.result.layers[i].delta
    symbolic, numbers = _samples_sum(
        ctx,
        lambda s: _sym("delta", r"\delta", sup, k, sample=s),
        lambda n: _num(delta[n, k], wrap=ctx.x.shape[0] > 1),
    )
    lhs = _t("dL/d", r"\frac{\partial L}{\partial ") + _sym("b", "b", sup, k) + _t("", "}")
    return _equation(lhs, symbolic, numbers, ctx.result.layers[i].bias_gradient[k])


def _update(
    ctx: _Context, name: str, index: tuple[int, ...], *, old: float, grad: float, new: float
) -> Formula:
    sign = " + " if ctx.ascent else " - "
    sup, *units = index
    param = _sym(name, name, sup, *units)
    lhs = _sym(f"{name}'", f"{name}'", sup, *units)
    eta = _t("eta", r"\eta")
    gradient = _t("dL/d", r"\frac{\partial L}{\partial ") + param + _t("", "}")
    symbolic = param + _t(sign) + eta + _t(" ") + gradient
    numbers = _num(old, wrap=False) + _t(sign) + _times([_num(ctx.learning_rate), _num(grad)])
    return _equation(lhs, symbolic, numbers, new)


def _updated_weight(ctx: _Context, i: int, j: int, k: int) -> Formula:
    as_in_out = ctx.network.layout.as_in_out
    grads = ctx.result.layers[i]
    return _update(
        ctx,
        "w",
        (i + 1, j, k),
        old=ctx.weights(i)[j, k],
        grad=as_in_out(grads.weight_gradient)[j, k],
        new=as_in_out(grads.updated_weights)[j, k],
    )


def _updated_bias(ctx: _Context, i: int, _n: int, k: int) -> Formula:
    grads = ctx.result.layers[i]
    old = ctx.network.layers[i].biases[k]
    return _update(
        ctx, "b", (i + 1, k), old=old, grad=grads.bias_gradient[k], new=grads.updated_biases[k]
    )


_PER_UNIT: dict[str, Callable[[_Context, int, int, int], Formula | None]] = {
    "pre_activations": _z,
    "activations": _a,
    "deltas": _delta,
    "weight_gradients": _weight_gradient,
    "bias_gradients": _bias_gradient,
    "updated_weights": _updated_weight,
    "updated_biases": _updated_bias,
}
