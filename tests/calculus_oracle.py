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
    # real odd roots: x^(p/q) with q odd is the real root for x < 0 too (SymPy's real_root)
    "x^a odd root": Entry("x^(1/3)", np.cbrt, lambda x: np.cbrt(x) / (3 * x), -8, -0.1),
    "x^a odd root squared": Entry(
        "x^(2/3)", lambda x: np.cbrt(x) ** 2, lambda x: 2 / (3 * np.cbrt(x)), -8, -0.1
    ),
    "x^a odd root fifth": Entry(
        "x^(3/5)", lambda x: np.sign(x) * np.abs(x) ** 0.6,
        lambda x: 0.6 * np.abs(x) ** -0.4, -6, -0.1,
    ),
    "a^x": Entry("2^x", lambda x: 2.0**x, lambda x: 2.0**x * np.log(2), -4, 4),
    "e^x": Entry("e^x", np.exp, np.exp, -4, 4),
    "exp": Entry("exp(x)", np.exp, np.exp, -4, 4),
    "log_a(x)": Entry(
        "log(x, 10)", np.log10, lambda x: 1 / (x * np.log(10)), 0.1, 10
    ),
    "ln": Entry("ln(x)", np.log, lambda x: 1 / x, 0.1, 10),
    "log is ln": Entry("log(x)", np.log, lambda x: 1 / x, 0.1, 10),
    "log_a(x) lg": Entry("lg(x)", np.log10, lambda x: 1 / (x * np.log(10)), 0.1, 10),
    "log_a(x) log10": Entry("log10(x)", np.log10, lambda x: 1 / (x * np.log(10)), 0.1, 10),
    "log_a(x) log2": Entry("log2(x)", np.log2, lambda x: 1 / (x * np.log(2)), 0.1, 10),
    "log_a(x) log_3": Entry(
        "log_3(x)", lambda x: np.log(x) / np.log(3), lambda x: 1 / (x * np.log(3)), 0.1, 10
    ),
    "ln abs": Entry("ln(abs(x))", lambda x: np.log(np.abs(x)), lambda x: 1 / x, -6, -0.2),
    "ln bars": Entry("ln|x|", lambda x: np.log(np.abs(x)), lambda x: 1 / x, -6, -0.2),
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
    "coth": Entry(
        "coth(x)", lambda x: np.cosh(x) / np.sinh(x), lambda x: 1 - (np.cosh(x) / np.sinh(x)) ** 2,
        0.2, 3,
    ),
    "coth negative": Entry(
        "cth(x)", lambda x: np.cosh(x) / np.sinh(x), lambda x: -1 / np.sinh(x) ** 2, -3, -0.2
    ),
    "sech": Entry(
        "sech(x)", lambda x: 1 / np.cosh(x), lambda x: -np.sinh(x) / np.cosh(x) ** 2, -3, 3
    ),
    "csch": Entry(
        "csch(x)", lambda x: 1 / np.sinh(x), lambda x: -np.cosh(x) / np.sinh(x) ** 2, 0.2, 3
    ),
    "arcsec": Entry(
        "arcsec(x)", lambda x: np.arccos(1 / x), lambda x: 1 / (x**2 * np.sqrt(1 - x**-2.0)),
        1.1, 5,
    ),
    "arcsec negative": Entry(
        "arcsec(x)", lambda x: np.arccos(1 / x), lambda x: 1 / (x**2 * np.sqrt(1 - x**-2.0)),
        -5, -1.1,
    ),
    "arccsc": Entry(
        "arccsc(x)", lambda x: np.arcsin(1 / x), lambda x: -1 / (x**2 * np.sqrt(1 - x**-2.0)),
        1.1, 5,
    ),
    "arsinh": Entry(
        "arsinh(x)", lambda x: np.log(x + np.sqrt(x * x + 1)), lambda x: 1 / np.hypot(x, 1.0),
        -4, 4,
    ),
    "arcosh": Entry(
        "arcosh(x)", lambda x: np.log(x + np.sqrt(x * x - 1)),
        lambda x: 1 / np.sqrt((x - 1) * (x + 1)), 1.1, 5,
    ),
    "artanh": Entry(
        "artanh(x)", lambda x: np.log((1 + x) / (1 - x)) / 2, lambda x: 1 / ((1 - x) * (1 + x)),
        -0.9, 0.9,
    ),
    "arcoth": Entry(
        "arcoth(x)", lambda x: np.log((x + 1) / (x - 1)) / 2, lambda x: 1 / ((1 - x) * (1 + x)),
        1.1, 5,
    ),
    "arcoth negative": Entry(
        "arcoth(x)", lambda x: np.log((x + 1) / (x - 1)) / 2, lambda x: 1 / ((1 - x) * (1 + x)),
        -5, -1.1,
    ),
    "arsech": Entry(
        "arsech(x)", lambda x: np.log((1 + np.sqrt(1 - x * x)) / x),
        lambda x: -1 / (x * np.sqrt((1 - x) * (1 + x))), 0.1, 0.9,
    ),
    "arcsch": Entry(
        "arcsch(x)", lambda x: np.log(1 / x + np.sqrt(1 / x**2 + 1)),
        lambda x: -1 / (np.abs(x) * np.sqrt(1 + x * x)), 0.2, 4,
    ),
    "arcsch negative": Entry(
        "arcsch(x)", lambda x: -np.log(-1 / x + np.sqrt(1 / x**2 + 1)),
        lambda x: -1 / (np.abs(x) * np.sqrt(1 + x * x)), -4, -0.2,
    ),
    "abs": Entry("abs(x)", np.abs, np.sign, -3, 3),
    "abs bars": Entry("|x|", np.abs, np.sign, -3, 3),
    "sgn": Entry("sgn(x)", np.sign, lambda x: 0 * x, -3, 3),
    "cbrt": Entry("cbrt(x)", lambda x: np.sign(x) * np.abs(x) ** (1 / 3),
                  lambda x: np.abs(x) ** (-2 / 3) / 3, -8, -0.3),
    "cbrt positive": Entry("cbrt(x)", lambda x: x ** (1 / 3), lambda x: x ** (-2 / 3) / 3, 0.3, 8),
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
engine: tan' as 1 + tan^2 where the engine says 1/cos^2, arccot as arctan2(1, x), the inverse
hyperbolic functions by their logarithms, coth' as 1 - coth^2 where the engine says -csch^2 ...).
An entry's name starts with the name of the engine's table entry it checks."""
