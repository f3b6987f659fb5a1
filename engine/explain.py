"""Worked solutions: each entry's textbook formula with the numbers of one sample substituted.

    delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771

For every entry of a backprop answer this module works out which formula gives it and with which
numbers, as an ``formulas.Equation`` (the entry's symbol, its formula, the formula with the
numbers substituted, its value); schemas/worked.py writes equations as text and LaTeX. Each
activation and loss supplies its own part (its derivative, its gradient, its link), so that a
new one is explained as soon as it says how.

Layers and units are numbered from 1 in the symbols, as the textbook does: w^l_(j,k) joins unit
j of layer l - 1 to unit k of layer l, whatever the layout the matrix is stored in; x_j are the
inputs, o_k the outputs, t_k the targets. Per-sample quantities (z, a, delta) are worked for one
chosen sample; the gradients, which sum over the samples, list each sample's term. Only small
networks are explained (``too_large_to_explain``): a worked solution of a 100-unit layer is no
help to anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.formulas import (
    ONE,
    Difference,
    Equation,
    Group,
    Number,
    OverSamples,
    Partial,
    Product,
    Sum,
    Symbol,
    Term,
    times,
)
from engine.losses import OutputUnit
from engine.network import LAYER_QUANTITIES, Backprop
from engine.problem import BackpropProblem
from engine.types import FloatArray

MAX_UNITS = 16
"""Widest layer (inputs included) that is explained."""

MAX_LAYERS = 8
MAX_SAMPLES = 16

EXPLAINED: tuple[str, ...] = LAYER_QUANTITIES

PER_SAMPLE = frozenset({"pre_activations", "activations", "deltas"})


@dataclass(frozen=True)
class Entry:
    """index is the entry's position in the answer's array (0-based, in the stored layout)."""

    index: tuple[int, ...]
    equation: Equation


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


def explain(
    problem: BackpropProblem, result: Backprop, *, sample: int = 0
) -> list[dict[str, list[Entry]]]:
    """Every entry's worked formula, layer by layer: [{"deltas": [Entry, ...], ...}, ...]."""
    worked = _Worked(problem, result)
    layers: list[dict[str, list[Entry]]] = []
    for i, layer in enumerate(problem.network.layers):
        rows, columns = layer.weights.shape
        units = layer.biases.shape[0]
        indices: dict[str, list[tuple[int, ...]]] = {
            "per_sample": [(sample, k) for k in range(units)],
            "per_unit": [(k,) for k in range(units)],
            "per_weight": [(r, c) for r in range(rows) for c in range(columns)],
        }
        layers.append(
            {
                quantity: [
                    Entry(index, equation)
                    for index in indices[_SHAPES[quantity]]
                    if (equation := worked.entry(quantity, i, index)) is not None
                ]
                for quantity in EXPLAINED
            }
        )
    return layers


def explain_entry(
    problem: BackpropProblem, result: Backprop, quantity: str, layer: int, index: tuple[int, ...]
) -> Equation | None:
    """The worked formula of one entry of layers[layer].quantity, None if there is none."""
    return _Worked(problem, result).entry(quantity, layer, index)


_SHAPES = {
    "pre_activations": "per_sample",
    "activations": "per_sample",
    "deltas": "per_sample",
    "weight_gradients": "per_weight",
    "bias_gradients": "per_unit",
    "updated_weights": "per_weight",
    "updated_biases": "per_unit",
}


@dataclass(frozen=True)
class _Worked:
    """A solved problem, and the formula of each of its entries."""

    problem: BackpropProblem
    result: Backprop

    @property
    def n_layers(self) -> int:
        return len(self.problem.network.layers)

    def entry(self, quantity: str, i: int, index: tuple[int, ...]) -> Equation | None:
        """layers[i].quantity[index]'s formula; i is 0-based, its formulas' l = i + 1."""
        if _SHAPES[quantity] == "per_sample":
            n, k = index
            return _FORMULAS[quantity](self, i, n, k)
        if _SHAPES[quantity] == "per_unit":
            return _FORMULAS[quantity](self, i, 0, index[0])
        row, column = index
        in_out = self.problem.network.layout.value == "in_out"
        j, k = (row, column) if in_out else (column, row)
        return _FORMULAS[quantity](self, i, j, k)

    # The quantities, as arrays and as symbols -----------------------------------------------

    def weights(self, i: int) -> FloatArray:
        """W^(i + 1) as an (n_in, n_out) matrix."""
        network = self.problem.network
        return network.layout.as_in_out(network.layers[i].weights)

    def a(self, layer: int) -> FloatArray:
        """a^layer as rows, a^0 = x (layer counted from 1, as in the formulas)."""
        return self.problem.x if layer == 0 else self.result.forward.activations[layer - 1]

    def a_symbol(self, layer: int, unit: int, *, over_samples: bool = False) -> Symbol:
        """a^layer_unit, written x_j for the inputs and o_k for the outputs."""
        if layer == 0:
            return Symbol("x", None, (unit,), over_samples)
        if layer == self.n_layers:
            return Symbol("o", None, (unit,), over_samples)
        return Symbol("a", layer, (unit,), over_samples)

    def output_units(self, n: int) -> tuple[list[OutputUnit], list[OutputUnit]]:
        """Each output unit of sample n: in symbols, and with the numbers."""
        o_row, t_row = self.result.forward.outputs[n], self.problem.y[n]
        sums_to_one = bool(np.isclose(t_row.sum(), 1.0))
        link = self.problem.loss.link

        def units(
            o: list[Term], t: list[Term], p: list[Term] | None, *, numbers: bool
        ) -> list[OutputUnit]:
            return [
                OutputUnit(
                    o[j],
                    t[j],
                    None if p is None else p[j],
                    sums_to_one,
                    numbers,
                    gap=float(o_row[j] - t_row[j]),
                )
                for j in range(len(o))
            ]

        outputs = range(o_row.shape[0])
        o_symbols: list[Term] = [Symbol("o", None, (j,)) for j in outputs]
        o_numbers: list[Term] = [Number(float(v)) for v in o_row]
        # the link of the logits: its formula in symbols, its computed value in numbers
        p_symbols: list[Term] | None = None
        p_numbers: list[Term] | None = None
        if link is not None:
            p_symbols = [link().output_term(o_symbols, j) for j in outputs]
            p_numbers = [Number(float(p)) for p in link().forward(o_row[np.newaxis, :])[0]]
        return (
            units(o_symbols, [Symbol("t", None, (j,)) for j in outputs], p_symbols, numbers=False),
            units(o_numbers, [Number(float(v)) for v in t_row], p_numbers, numbers=True),
        )


def _z(w: _Worked, i: int, n: int, k: int) -> Equation:
    layer, W, a_prev = i + 1, w.weights(i), w.a(i)[n]
    b = w.problem.network.layers[i].biases[k]
    inputs = range(W.shape[0])
    formula = Sum(
        (
            *(Product((w.a_symbol(i, j), Symbol("w", layer, (j, k)))) for j in inputs),
            Symbol("b", layer, (k,)),
        )
    )
    numbers = Sum(
        (*(Product((Number(a_prev[j]), Number(W[j, k]))) for j in inputs), Number(float(b)))
    )
    value = w.result.forward.pre_activations[i][n, k]
    return Equation(Symbol("z", layer, (k,)), formula, numbers, value)


def _a(w: _Worked, i: int, n: int, k: int) -> Equation:
    layer, f = i + 1, w.problem.network.layers[i].activation
    z_row = w.result.forward.pre_activations[i][n]
    units = range(z_row.shape[0])
    formula = f.output_term([Symbol("z", layer, (j,)) for j in units], k)
    numbers = f.output_term([Number(float(z), wrap=False) for z in z_row], k)
    value = w.result.forward.activations[i][n, k]
    return Equation(w.a_symbol(layer, k), formula, numbers, value)


def _derivative_factor(w: _Worked, i: int, n: int, k: int) -> tuple[Term, Term]:
    """f'(z^l_k) in symbols and in numbers: in terms of a where the activation has such a
    form (the sigmoid's a(1 - a)), else f'(z^l_k) and its value."""
    layer, f = i + 1, w.problem.network.layers[i].activation
    z, a = w.result.forward.pre_activations[i][n, k], w.result.forward.activations[i][n, k]
    z_symbol, a_symbol = Symbol("z", layer, (k,)), w.a_symbol(layer, k)
    formula = f.derivative_term(z_symbol, a_symbol)
    if formula is not None:
        numbers = f.derivative_term(Number(float(z)), Number(float(a)))
        assert numbers is not None
        return formula, numbers
    value = f.derivative(np.array([[z]]), np.array([[a]]))[0, 0]
    return f.derivative_call(z_symbol), Number(float(value))


def _delta(w: _Worked, i: int, n: int, k: int) -> Equation | None:
    layer = i + 1
    value = w.result.layers[i].delta[n, k]
    symbol = Symbol("delta", layer, (k,))
    if i == w.n_layers - 1:
        return _output_delta(w, n, k, symbol, value)
    W_above, delta_above = w.weights(i + 1), w.result.layers[i + 1].delta[n]
    above = range(W_above.shape[1])
    carried = Sum(
        tuple(
            Product((Symbol("w", layer + 1, (k, m)), Symbol("delta", layer + 1, (m,))))
            for m in above
        )
    )
    carried_numbers = Sum(
        tuple(Product((Number(W_above[k, m]), Number(delta_above[m]))) for m in above)
    )
    factor, factor_numbers = _derivative_factor(w, i, n, k)
    if factor == ONE:  # f' = 1: delta is the carried sum itself
        return Equation(symbol, carried, carried_numbers, value)
    return Equation(
        symbol,
        times(factor, Group(carried)),
        times(factor_numbers, Group(carried_numbers)),
        value,
    )


def _output_delta(w: _Worked, n: int, k: int, symbol: Term, value: float) -> Equation | None:
    """delta^L_k: the loss's gradient, fused with the output activation or carried through it.

    A loss form with no short formula per unit (targets that do not sum to 1, Keras' clipped
    cross-entropy) is carried through the activation as dL/do_k with its value; None only where
    such a form is fused with the output activation (label smoothing over softmax).
    """
    problem, i = w.problem, w.n_layers - 1
    loss, f = problem.loss, problem.network.layers[i].activation
    outputs = w.result.forward.outputs
    scale, fused = loss.scale(outputs.shape), loss.fuses_with(f)
    symbols, numbers = w.output_units(n)
    gradient = loss.gradient_term(symbols[k], scale, fused=fused)
    gradient_numbers = loss.gradient_term(numbers[k], scale, fused=fused)
    if gradient is None or gradient_numbers is None:
        if fused:
            return None
        gradient = Partial(symbols[k].o)
        gradient_numbers = Number(float(loss.gradient(outputs, problem.y)[n][k]))
    if fused:  # dL/dz^L_k straight from the logits: p - t
        return Equation(symbol, gradient, gradient_numbers, value)
    o_symbols = [unit.o for unit in symbols]
    jacobian = f.vjp_term(o_symbols, [Partial(o) for o in o_symbols], k)
    if jacobian is not None:  # an activation that mixes units: its whole Jacobian product
        upstream = loss.gradient(outputs, problem.y)[n]
        o_numbers = [unit.o for unit in numbers]
        jacobian_numbers = f.vjp_term(o_numbers, [Number(float(g)) for g in upstream], k)
        assert jacobian_numbers is not None
        return Equation(symbol, jacobian, jacobian_numbers, value)
    factor, factor_numbers = _derivative_factor(w, i, n, k)
    return Equation(symbol, times(factor, gradient), times(factor_numbers, gradient_numbers), value)


def _over_samples(
    w: _Worked, formula: Callable[[bool], Term], numbers: Callable[[int], Term]
) -> tuple[Term, Term]:
    """A sum over the samples: the formula of one term, and each sample's numbers."""
    n_samples = w.problem.n_samples
    if n_samples == 1:
        return formula(False), numbers(0)
    return OverSamples(formula(True)), Sum(tuple(numbers(n) for n in range(n_samples)))


def _weight_gradient(w: _Worked, i: int, j: int, k: int) -> Equation:
    layer = i + 1
    a_prev, delta = w.a(i), w.result.layers[i].delta
    formula, numbers = _over_samples(
        w,
        lambda over: Product(
            (w.a_symbol(i, j, over_samples=over), Symbol("delta", layer, (k,), over))
        ),
        lambda n: Product((Number(a_prev[n, j]), Number(delta[n, k]))),
    )
    layout = w.problem.network.layout
    value = layout.as_in_out(w.result.layers[i].weight_gradient)[j, k]
    return Equation(Partial(Symbol("w", layer, (j, k))), formula, numbers, value)


def _bias_gradient(w: _Worked, i: int, _n: int, k: int) -> Equation:
    layer = i + 1
    delta = w.result.layers[i].delta
    several = w.problem.n_samples > 1
    formula, numbers = _over_samples(
        w,
        lambda over: Symbol("delta", layer, (k,), over),
        lambda n: Number(delta[n, k], wrap=several),
    )
    value = w.result.layers[i].bias_gradient[k]
    return Equation(Partial(Symbol("b", layer, (k,))), formula, numbers, value)


def _update(
    w: _Worked,
    name: str,
    layer: int,
    units: tuple[int, ...],
    *,
    old: float,
    grad: float,
    new: float,
) -> Equation:
    """w' = w - eta dL/dw (+ for gradient ascent)."""
    parameter = Symbol(name, layer, units)
    step = Product((Symbol("eta"), Partial(parameter)))
    step_numbers = Product((Number(w.problem.learning_rate), Number(grad)))
    old_number = Number(old, wrap=False)
    formula: Term
    numbers: Term
    if w.problem.ascent:
        formula, numbers = Sum((parameter, step)), Sum((old_number, step_numbers))
    else:
        formula, numbers = Difference(parameter, step), Difference(old_number, step_numbers)
    return Equation(Symbol(f"{name}'", layer, units), formula, numbers, new)


def _updated_weight(w: _Worked, i: int, j: int, k: int) -> Equation:
    as_in_out = w.problem.network.layout.as_in_out
    gradients = w.result.layers[i]
    return _update(
        w,
        "w",
        i + 1,
        (j, k),
        old=w.weights(i)[j, k],
        grad=as_in_out(gradients.weight_gradient)[j, k],
        new=as_in_out(gradients.updated_weights)[j, k],
    )


def _updated_bias(w: _Worked, i: int, _n: int, k: int) -> Equation:
    gradients = w.result.layers[i]
    old = w.problem.network.layers[i].biases[k]
    return _update(
        w,
        "b",
        i + 1,
        (k,),
        old=old,
        grad=gradients.bias_gradient[k],
        new=gradients.updated_biases[k],
    )


_FORMULAS: dict[str, Callable[[_Worked, int, int, int], Equation | None]] = {
    "pre_activations": _z,
    "activations": _a,
    "deltas": _delta,
    "weight_gradients": _weight_gradient,
    "bias_gradients": _bias_gradient,
    "updated_weights": _updated_weight,
    "updated_biases": _updated_bias,
}
