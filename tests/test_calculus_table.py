"""Every entry of the table of derivatives, and each of the four rules, against an independent
oracle: the closed form (tests/calculus_oracle.py) and a central difference, at random points."""

from __future__ import annotations

import numpy as np
import pytest

from engine import calculus
from engine.calculus import Rule
from tests.calculus_oracle import TABLE, Entry, Fn, assert_close, central_difference

rng = np.random.default_rng(6)


def derivative_values(text: str, x: np.ndarray, *, at_zero: float = 1.0) -> np.ndarray:
    derivation = calculus.derive(calculus.parse(text), "x")
    values = calculus.evaluate(derivation.derivative, {"x": x}, at_zero=at_zero)
    return np.broadcast_to(values, x.shape)


def function_values(text: str, x: np.ndarray) -> np.ndarray:
    return np.broadcast_to(calculus.evaluate(calculus.parse(text), {"x": x}), x.shape)


@pytest.mark.parametrize("name", TABLE)
def test_table_entry_matches_its_closed_form(name: str) -> None:
    entry = TABLE[name]
    x = rng.uniform(entry.low, entry.high, 50)
    assert_close(derivative_values(entry.expression, x), entry.derivative(x), 1e-12, name)


@pytest.mark.parametrize("name", TABLE)
def test_table_entry_matches_a_central_difference(name: str) -> None:
    entry = TABLE[name]
    x = rng.uniform(entry.low, entry.high, 50)
    fd = central_difference(lambda u: function_values(entry.expression, u), x)
    assert_close(derivative_values(entry.expression, x), fd, 1e-6, name)
    # and the closed form agrees with the engine's own function values
    assert_close(function_values(entry.expression, x), entry.f(x), 1e-12, name)


@pytest.mark.parametrize("name", [n for n, e in TABLE.items() if e.expression.endswith("(x)")])
def test_chain_rule_through_every_function(name: str) -> None:
    """f(g(x)) with g(x) = c + s ((x^2 + 1)/4 - 0.1 x), c and s chosen so that g maps
    [0.7, 1.6] onto the entry's interval: d/dx = f'(g(x)) g'(x) from the closed form."""
    entry = TABLE[name]
    lowest, highest = 0.3025, 0.73  # (x^2 + 1)/4 - 0.1 x at 0.7 and 1.6, increasing between
    s = (entry.high - entry.low) / (highest - lowest)
    c = entry.low - s * lowest
    inner = f"({c!r} + {s!r}*((x^2 + 1)/4 - 0.1*x))"
    text = entry.expression.replace("(x)", f"({inner})", 1)
    x = rng.uniform(0.7, 1.6, 50)
    g = c + s * ((x**2 + 1) / 4 - 0.1 * x)
    expected = entry.derivative(g) * s * (x / 2 - 0.1)
    assert_close(derivative_values(text, x), expected, 1e-12, text)
    derivation = calculus.derive(calculus.parse(text), "x")
    assert derivation.steps[0].rule is Rule.CHAIN
    assert derivation.steps[0].entry is not None
    assert derivation.steps[0].entry.name in name


def test_a_wrong_derivative_fails_the_oracle() -> None:
    """Negative control: the checks above would catch a wrong table entry."""
    wrong = Entry("cos(x)", np.cos, np.sin, -3, 3)  # the sign of -sin(x) forgotten
    x = rng.uniform(0.5, 3, 50)
    with pytest.raises(AssertionError, match="relative error"):
        assert_close(wrong.derivative(x), central_difference(wrong.f, x), 1e-6, "cos")
    with pytest.raises(AssertionError, match="relative error"):
        assert_close(derivative_values("cos(x)", x), wrong.derivative(x), 1e-6, "cos")


@pytest.mark.parametrize(("at_zero", "expected"), [(1.0, 1.0), (0.0, 0.0)])
def test_relu_derivative_at_zero_follows_the_convention(at_zero: float, expected: float) -> None:
    x = np.array([-1.0, 0.0, 2.0])
    values = derivative_values("relu(x)", x, at_zero=at_zero)
    np.testing.assert_array_equal(values, [0.0, expected, 1.0])


RULES = [
    ("x^2 + sin(x) - 3*x", Rule.SUM, lambda x: 2 * x + np.cos(x) - 3),
    ("5*x^3", Rule.CONSTANT_MULTIPLE, lambda x: 15 * x**2),
    ("sin(x)*exp(x)", Rule.PRODUCT, lambda x: np.exp(x) * (np.sin(x) + np.cos(x))),
    ("x^2*ln(x)*cos(x)", Rule.PRODUCT,
     lambda x: 2 * x * np.log(x) * np.cos(x) + x * np.cos(x) - x**2 * np.log(x) * np.sin(x)),
    ("x/(x + 1)", Rule.QUOTIENT, lambda x: 1 / (x + 1) ** 2),
    ("sin(x)/x", Rule.QUOTIENT, lambda x: (x * np.cos(x) - np.sin(x)) / x**2),
    ("sin(x^2)", Rule.CHAIN, lambda x: 2 * x * np.cos(x**2)),
    ("(3*x + 1)^5", Rule.CHAIN, lambda x: 15 * (3 * x + 1) ** 4),
    ("e^(-x^2/2)", Rule.CHAIN, lambda x: -x * np.exp(-(x**2) / 2)),
    ("ln(sin(x)^2 + 1)", Rule.CHAIN, lambda x: 2 * np.sin(x) * np.cos(x) / (np.sin(x) ** 2 + 1)),
    ("x^x", Rule.GENERAL_POWER, lambda x: x**x * (np.log(x) + 1)),
    ("log(x^2 + 1, x)", Rule.CHANGE_OF_BASE,
     lambda x: (2 * x / (x**2 + 1) * np.log(x) - np.log(x**2 + 1) / x) / np.log(x) ** 2),
]  # fmt: skip


@pytest.mark.parametrize(("text", "rule", "closed_form"), RULES)
def test_each_rule_gives_the_right_derivative_and_is_named(
    text: str, rule: Rule, closed_form: Fn
) -> None:
    x = rng.uniform(1.1, 2.5, 50)
    assert_close(derivative_values(text, x), closed_form(x), 1e-11, text)
    fd = central_difference(lambda u: function_values(text, u), x)
    assert_close(derivative_values(text, x), fd, 1e-6, text)
    assert calculus.derive(calculus.parse(text), "x").steps[0].rule is rule


def test_steps_read_like_the_textbook() -> None:
    steps = calculus.derive(calculus.parse("sin(x)*exp(x^2)"), "x").steps
    shown = [
        (s.depth, s.rule.value, calculus.to_text(s.expression), s.entry and s.entry.name)
        for s in steps
    ]
    assert shown == [
        (0, "product rule", "sin(x)*exp(x^2)", None),
        (1, "table entry", "sin(x)", "sin"),
        (1, "chain rule", "exp(x^2)", "exp"),
        (2, "table entry", "x^2", "x^a"),
    ]
    assert calculus.to_text(steps[0].derivative) == "cos(x)*exp(x^2) + 2*x*sin(x)*exp(x^2)"
    assert steps[2].detail == "outer f(u) = exp(u), inner u = x^2, f'(u) = exp(u) by the table"


def test_partial_derivatives_treat_other_variables_as_constants() -> None:
    expr = calculus.parse("log(x, 2) + x^3*y")
    by_x, by_y = calculus.gradient(expr, ["x", "y"])
    assert calculus.to_text(by_x.derivative) == "1/(x*ln(2)) + 3*x^2*y"
    assert calculus.to_text(by_y.derivative) == "x^3"
    assert [s.rule for s in by_y.steps] == [
        Rule.SUM,
        Rule.CONSTANT,
        Rule.CONSTANT_MULTIPLE,
        Rule.TABLE,
    ]


def test_every_function_of_the_grammar_has_a_table_entry() -> None:
    assert set(calculus.FUNCTIONS) <= set(calculus.TABLE)
    tested = {name.split()[0] for name in TABLE}
    assert set(calculus.TABLE) <= tested
