"""The independent oracle of the calculus tests: closed forms written in NumPy, and central
differences. Nothing here uses the engine's differentiation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.types import FloatArray

Fn = Callable[[FloatArray], FloatArray]


def central_difference(f: Fn, x: FloatArray) -> FloatArray:
    """(f(x + h) - f(x - h)) / 2h with h scaled to x: error O(h^2 f''') + O(eps f / h)."""
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


def assert_close(actual: FloatArray, expected: FloatArray, rtol: float, what: str) -> None:
    scale = np.maximum(1.0, np.abs(expected))
    error = np.abs(actual - expected) / scale
    worst = int(np.argmax(error))
    assert error[worst] <= rtol, (
        f"{what}: {actual[worst]!r} but expected {expected[worst]!r} (relative error "
        f"{error[worst]:.3g} > {rtol:g})"
    )


@dataclass(frozen=True)
class Entry:
    """An entry of the textbook's table: f and f' in NumPy, and where to sample them."""

    expression: str
    f: Fn
    derivative: Fn
    low: float
    high: float


def _x(x: FloatArray) -> FloatArray:
    return x


TABLE: dict[str, Entry] = {
    "constant": Entry("7", lambda x: 7 + 0 * x, lambda x: 0 * x, -5, 5),
    "constant pi": Entry("pi", lambda x: np.pi + 0 * x, lambda x: 0 * x, -5, 5),
    "x": Entry("x", _x, lambda x: 1 + 0 * x, -5, 5),
    "x^a": Entry("x^3", lambda x: x**3, lambda x: 3 * x**2, -3, 3),
    "x^a negative": Entry("x^(-2)", lambda x: x**-2.0, lambda x: -2 * x**-3.0, 0.2, 4),
    "x^a fraction": Entry(
        "x^(1/3)", np.cbrt, lambda x: np.cbrt(x) / (3 * x), 0.1, 8
    ),
    "a^x": Entry("2^x", lambda x: 2.0**x, lambda x: 2.0**x * np.log(2), -4, 4),
    "e^x": Entry("e^x", np.exp, np.exp, -4, 4),
    "exp": Entry("exp(x)", np.exp, np.exp, -4, 4),
    "log_a(x)": Entry(
        "log(x, 10)", np.log10, lambda x: 1 / (x * np.log(10)), 0.1, 10
    ),
    "ln": Entry("ln(x)", np.log, lambda x: 1 / x, 0.1, 10),
    "log is ln": Entry("log(x)", np.log, lambda x: 1 / x, 0.1, 10),
    "sqrt": Entry("sqrt(x)", np.sqrt, lambda x: 0.5 / np.sqrt(x), 0.1, 10),
    "sin": Entry("sin(x)", np.sin, np.cos, -3, 3),
    "cos": Entry("cos(x)", np.cos, lambda x: -np.sin(x), -3, 3),
    "tan": Entry("tan(x)", np.tan, lambda x: 1 + np.tan(x) ** 2, -1.4, 1.4),
    "cot": Entry(
        "cot(x)", lambda x: np.cos(x) / np.sin(x), lambda x: -1 - (np.cos(x) / np.sin(x)) ** 2,
        0.15, 3.0,
    ),
    "sec": Entry(
        "sec(x)", lambda x: 1 / np.cos(x), lambda x: np.sin(x) / np.cos(x) ** 2, -1.4, 1.4
    ),
    "csc": Entry(
        "csc(x)", lambda x: 1 / np.sin(x), lambda x: -np.cos(x) / np.sin(x) ** 2, 0.15, 3.0
    ),
    "arcsin": Entry("arcsin(x)", np.arcsin, lambda x: (1 - x * x) ** -0.5, -0.95, 0.95),
    "arccos": Entry("arccos(x)", np.arccos, lambda x: -((1 - x * x) ** -0.5), -0.95, 0.95),
    "arctan": Entry("arctan(x)", np.arctan, lambda x: 1 / (1 + x * x), -5, 5),
    "arccot": Entry(
        "arccot(x)", lambda x: np.arctan2(1.0, x), lambda x: -1 / (1 + x * x), -5, 5
    ),
    "sinh": Entry("sinh(x)", np.sinh, np.cosh, -3, 3),
    "cosh": Entry("cosh(x)", np.cosh, np.sinh, -3, 3),
    "tanh": Entry("tanh(x)", np.tanh, lambda x: 1 / np.cosh(x) ** 2, -3, 3),
    "sigmoid": Entry(
        "sigmoid(x)",
        lambda x: 1 / (1 + np.exp(-x)),
        lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
        -6, 6,
    ),
    "relu": Entry("relu(x)", lambda x: np.where(x > 0, x, 0.0), lambda x: (x > 0) * 1.0, -3, 3),
    "heaviside": Entry("heaviside(x)", lambda x: (x > 0) * 1.0, lambda x: 0 * x, -3, 3),
}  # fmt: skip
"""Each entry of the table with its closed-form derivative (written independently of the
engine: tan' as 1 + tan^2 where the engine says 1/cos^2, arccot as arctan2(1, x) ...)."""
