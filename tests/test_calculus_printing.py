"""Numbers as the student typed them, computed numbers as a student would write them, and
rational exponents as roots or fractions, never floats."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from engine import calculus
from engine.calculus.expr import Num
from engine.calculus.numbers import number_text, significant_digits, written_half_unit


def derivative_text(text: str) -> str:
    return calculus.to_text(calculus.derive(calculus.parse(text), "x").derivative)


@pytest.mark.parametrize(
    "text",
    ["0.6931472*2^x", "3*x^2 + 0.0000001", "1e-3*x", "2.50*x", ".5*x", "x^0.5", "1.5E+2 - x"],
)
def test_a_typed_number_is_shown_as_typed(text: str) -> None:
    assert calculus.to_text(calculus.parse(text)) == text


def test_a_typed_number_keeps_its_value_and_equality() -> None:
    typed = calculus.parse("0.50*x")
    assert typed == calculus.parse("0.5*x")
    assert Num(Fraction(1, 2), "0.50") == Num(Fraction(1, 2))
    assert hash(Num(Fraction(1, 2), "0.50")) == hash(Num(Fraction(1, 2)))
    assert float(calculus.evaluate(typed, {"x": 3.0})) == 1.5


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("1e-3*x", r"1 \cdot 10^{-3} x"),
        ("2.5E+04*x", r"2.5 \cdot 10^{4} x"),
        ("0.6931472*2^x", r"0.6931472 \cdot 2^{x}"),
    ],
)
def test_a_typed_number_in_latex(text: str, latex: str) -> None:
    assert calculus.to_latex(calculus.parse(text)) == latex


@pytest.mark.parametrize(
    ("function", "derivative"),
    [
        ("0.6931472*x^2", "1.3862944*x"),
        ("0.6931472*2^x", "0.6931472*2^x*ln(2)"),
        ("0.1*x^2", "x/5"),  # a short fraction stays one
        ("x^3/3", "x^2"),
        ("x^2/8", "x/4"),
        ("x/3", "1/3"),
    ],
)
def test_computed_numbers_read_as_a_student_writes_them(function: str, derivative: str) -> None:
    assert derivative_text(function) == derivative


@pytest.mark.parametrize(
    ("function", "derivative"),
    [
        ("x^(1/2)", "1/(2*sqrt(x))"),
        ("x^0.5", "1/(2*sqrt(x))"),
        ("sqrt(x)", "1/(2*sqrt(x))"),
        ("x^(3/2)", "3*sqrt(x)/2"),
        ("x^(5/2)", "5*x^(3/2)/2"),
        ("x^(-1/2)", "-1/(2*x^(3/2))"),
        ("x^(1/3)", "1/(3*x^(2/3))"),
        ("x^(2/3)", "2/(3*x^(1/3))"),
        ("x^1.25", "5*x^(1/4)/4"),
        ("(x^2 + 1)^(1/2)", "x/sqrt(x^2 + 1)"),
    ],
)
def test_rational_exponents_print_as_roots_or_fractions(function: str, derivative: str) -> None:
    text = derivative_text(function)
    assert text == derivative
    x = np.linspace(0.1, 5.0, 7)
    derivative = calculus.derive(calculus.parse(function), "x").derivative
    read_back = calculus.evaluate(calculus.parse(text), {"x": x})
    np.testing.assert_allclose(read_back, calculus.evaluate(derivative, {"x": x}), rtol=1e-14)


@pytest.mark.parametrize(
    "exponent", [Fraction(p, q) for q in (2, 3, 4, 5, 8) for p in range(-7, 8)]
)
def test_no_derivative_of_a_power_prints_a_float_exponent(exponent: Fraction) -> None:
    text = derivative_text(f"x^({exponent.numerator}/{exponent.denominator})")
    assert not re.search(r"\^\(?-?[0-9]*\.", text), text
    latex = calculus.to_latex(calculus.derive(calculus.parse(f"x^({exponent})"), "x").derivative)
    assert "." not in latex, latex


def test_rational_exponents_in_latex() -> None:
    derivative = calculus.derive(calculus.parse("x^(1/3)"), "x").derivative
    assert calculus.to_latex(derivative) == r"\frac{1}{3 x^{\frac{2}{3}}}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(3), "3"),
        (Fraction(1, 4), "0.25"),
        (Fraction(1, 3), "1/3"),
        (Fraction(433217, 625000), "0.6931472"),
        (Fraction(-866434, 625000), "-1.3862944"),
        (Fraction(1, 1024), "1/1024"),
        (Fraction(433217, 1875000), "433217/1875000"),
    ],
)
def test_number_text(value: Fraction, text: str) -> None:
    assert number_text(value) == text


@pytest.mark.parametrize(
    ("written", "half_unit", "digits"),
    [
        ("0.6931472", Fraction(5, 10**8), 7),
        ("0.0000001", Fraction(5, 10**8), 1),
        ("2.5e-3", Fraction(5, 10**5), 2),
        ("12", Fraction(1, 2), 2),
        ("1.50", Fraction(5, 1000), 3),
        ("3E2", Fraction(50), 1),
    ],
)
def test_what_a_typed_number_stands_for(written: str, half_unit: Fraction, digits: int) -> None:
    assert written_half_unit(written) == half_unit
    assert significant_digits(written) == digits
