"""What students type from the common tables, in both notations: the names of OpenStax's table
of derivatives (Calculus Vol. 1, Appendix A) and the continental ones (sh, ch, th, arctg, lg ...),
|x|, real odd roots, and a "did you mean" for a name the grammar does not read.

Values and derivatives are checked against closed forms written with Python's math module (the
logarithmic forms of the inverse hyperbolic functions, arcsec as arccos(1/x) ...), never against
the engine's own table."""

from __future__ import annotations

import math

import pytest

from engine import DomainError, calculus
from engine.calculus import ExpressionSyntaxError

SQRT2, SQRT3 = math.sqrt(2), math.sqrt(3)


def value_and_derivative(text: str, x: float) -> tuple[float, float]:
    expr = calculus.parse(text)
    derivative = calculus.derive(expr, "x").derivative
    return calculus.value_at(expr, {"x": x}), calculus.value_at(derivative, {"x": x})


# (expression, x, f(x), f'(x)), from the table's formulas evaluated by hand
POINTS = [
    # the hyperbolic reciprocals: OpenStax entries 26, 27, 29, 30
    ("sech(x)", 1.0, 1 / math.cosh(1), -math.tanh(1) / math.cosh(1)),
    ("csch(x)", 1.0, 1 / math.sinh(1), -math.cosh(1) / math.sinh(1) ** 2),
    ("coth(x)", 1.0, math.cosh(1) / math.sinh(1), -1 / math.sinh(1) ** 2),
    ("cth(x)", -0.5, math.cosh(-0.5) / math.sinh(-0.5), -1 / math.sinh(-0.5) ** 2),
    ("cosech(x)", 2.0, 1 / math.sinh(2), -math.cosh(2) / math.sinh(2) ** 2),
    # the inverse hyperbolic functions, entries 31-36, by their logarithms
    ("arsinh(x)", 1.0, math.log(1 + SQRT2), 1 / SQRT2),
    ("arcsinh(x)", -2.0, -math.log(2 + math.sqrt(5)), 1 / math.sqrt(5)),
    ("asinh(x)", 0.0, 0.0, 1.0),
    ("arcosh(x)", 2.0, math.log(2 + SQRT3), 1 / SQRT3),
    ("arccosh(x)", 3.0, math.log(3 + math.sqrt(8)), 1 / math.sqrt(8)),
    ("artanh(x)", 0.5, math.log(3) / 2, 4 / 3),
    ("arth(x)", -0.5, -math.log(3) / 2, 4 / 3),
    ("arcoth(x)", 2.0, math.log(3) / 2, -1 / 3),
    ("arcoth(x)", -3.0, -math.log(2) / 2, -1 / 8),
    ("arsech(x)", 0.5, math.log(2 + SQRT3), -1 / (0.5 * math.sqrt(0.75))),
    ("arcsch(x)", 1.0, math.log(1 + SQRT2), -1 / SQRT2),
    ("arcsch(x)", -1.0, -math.log(1 + SQRT2), -1 / SQRT2),
    # the inverse reciprocal trigonometric functions, entries 17 and 20
    ("arcsec(x)", 2.0, math.pi / 3, 1 / (2 * SQRT3)),
    ("arcsec(x)", -2.0, 2 * math.pi / 3, 1 / (2 * SQRT3)),
    ("arccsc(x)", 2.0, math.pi / 6, -1 / (2 * SQRT3)),
    ("arccsc(x)", -2.0, -math.pi / 6, -1 / (2 * SQRT3)),
    # continental spellings
    ("sh(x)", 1.0, math.sinh(1), math.cosh(1)),
    ("ch(x)", 1.0, math.cosh(1), math.sinh(1)),
    ("th(x)", 0.5, math.tanh(0.5), 1 - math.tanh(0.5) ** 2),
    ("tg(x)", 0.5, math.tan(0.5), 1 / math.cos(0.5) ** 2),
    ("sen(x)", 0.5, math.sin(0.5), math.cos(0.5)),
    ("arcsen(x)", 0.5, math.pi / 6, 1 / math.sqrt(0.75)),
    ("arctg(x)", 1.0, math.pi / 4, 0.5),
    ("arcctg(x)", -1.0, 3 * math.pi / 4, -0.5),
    ("cosec(x)", math.pi / 6, 2.0, -2.0 * SQRT3),
    # logarithms named by their base (entry 24, log_b x = 1/(x ln b))
    ("lg(x)", 1000.0, 3.0, 1 / (1000 * math.log(10))),
    ("log10(x)", 0.01, -2.0, 1 / (0.01 * math.log(10))),
    ("log_10(x)", 10.0, 1.0, 1 / (10 * math.log(10))),
    ("log2(x)", 8.0, 3.0, 1 / (8 * math.log(2))),
    ("lb(x)", 0.25, -2.0, 1 / (0.25 * math.log(2))),
    ("log_3(x)", 81.0, 4.0, 1 / (81 * math.log(3))),
    # absolute value and sign (entry 22: d/dx ln|x| = 1/x)
    ("abs(x)", -3.0, 3.0, -1.0),
    ("|x|", 2.5, 2.5, 1.0),
    ("ln(abs(x))", -2.0, math.log(2), -0.5),
    ("ln|x|", -0.5, math.log(0.5), -2.0),
    ("|x^2 - 4|", 1.0, 3.0, -2.0),
    ("sgn(x)", -2.0, -1.0, 0.0),
    # real odd roots (entry 4, x^n for every real n, read as the real root)
    ("x^(1/3)", -8.0, -2.0, 1 / 12),
    ("x^(2/3)", -8.0, 4.0, -1 / 3),
    ("x^(-1/3)", -27.0, -1 / 3, -1 / 243),
    ("x^0.2", -32.0, -2.0, 1 / 80),
    ("cbrt(x)", -27.0, -3.0, 1 / 27),
    ("(x^2 - 9)^(1/3)", 1.0, -2.0, 1 / 6),
]  # fmt: skip


@pytest.mark.parametrize(("text", "x", "value", "slope"), POINTS)
def test_every_new_name_has_the_tables_value_and_derivative(
    text: str, x: float, value: float, slope: float
) -> None:
    f, df = value_and_derivative(text, x)
    assert f == pytest.approx(value, rel=1e-13, abs=1e-15)
    assert df == pytest.approx(slope, rel=1e-12, abs=1e-15)


def test_the_cube_root_case_of_the_issue_gives_exact_figures() -> None:
    """x^(1/3) at -8: -2 and 1/12 to the last digit, the root taken before the power."""
    assert value_and_derivative("x^(1/3)", -8.0) == (-2.0, 0.08333333333333333)
    assert value_and_derivative("x^(2/3)", -8.0) == (4.0, -1 / 3)


@pytest.mark.parametrize("text", ["x^(1/2)", "x^0.5", "x^(1/4)", "x^0.3", "x^pi"])
def test_even_roots_and_irrational_powers_need_a_positive_base(text: str) -> None:
    with pytest.raises(DomainError, match="not defined at x = -8"):
        calculus.value_at(calculus.parse(text), {"x": -8.0})


@pytest.mark.parametrize(("alias", "name"), sorted(calculus.ALIASES.items()))
def test_every_alias_reads_as_its_function(alias: str, name: str) -> None:
    assert calculus.parse(f"{alias}(x^2 + 2)") == calculus.parse(f"{name}(x^2 + 2)")
    assert calculus.to_text(calculus.parse(f"{alias}(x)")) == f"{name}(x)"


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("|x|", "abs(x)"),
        ("2*|x - 1|^3", "2*abs(x - 1)^3"),
        ("|x - |y||", "abs(x - abs(y))"),
        ("||x| - 1|", "abs(abs(x) - 1)"),
        ("|x|*|y|", "abs(x)*abs(y)"),
        ("-|x|", "-abs(x)"),
        ("ln|x|", "ln(abs(x))"),
        ("lg|x|", "log(abs(x), 10)"),
        ("lg(x)", "log(x, 10)"),
        ("log10(x)", "log(x, 10)"),
        ("log_2(x)", "log(x, 2)"),
        ("log_7(x)", "log(x, 7)"),
    ],
)
def test_bars_and_logarithms_read_as_the_tables_write_them(text: str, same_as: str) -> None:
    assert calculus.parse(text) == calculus.parse(same_as)


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("sinx", 1, "did you mean sin(x)?"),
        ("Sin(x)", 1, "did you mean sin?"),
        ("SECH(x)", 1, "did you mean sech?"),
        ("Sinh(x)", 1, "did you mean sinh?"),
        ("heavyside(x)", 1, "did you mean heaviside?"),
        ("modulus(x)", 1, "did you mean abs?"),
        ("lnx", 1, "did you mean ln(x)?"),
        ("arcsinus(x)", 1, "did you mean arcsin?"),
        ("cosech2(x)", 1, "did you mean cosech(2)?"),
        ("xy", 1, "did you mean x*y?"),
        ("sin^-1(x)", 4, "for the inverse function write arcsin(x)"),
        ("tanh^-1(x)", 5, "for the inverse function write artanh(x)"),
        ("x|", 2, "'|' closes an absolute value that was not opened"),
        ("|x", 3, "expected '|' to close the '|' at column 1"),
        ("|2x|", 3, "missing operator between '2' and 'x'"),
        ("lg(x, 2)", 1, "lg takes 1 argument, not 2: it is log(u, 10)"),
        ("log_1(x)", 1, "a logarithm's base must be > 0 and not 1"),
    ],
)
def test_a_refused_name_says_what_to_write(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        calculus.parse(text)
    assert caught.value.column == column
    assert message in str(caught.value)


def test_a_name_nothing_resembles_gets_no_guess() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        calculus.parse("quux(x)")
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("function", "entry", "derivative"),
    [
        ("abs", "abs", "x/abs(x)"),
        ("sech", "sech", "-sech(x)*tanh(x)"),
        ("csch", "csch", "-csch(x)*coth(x)"),
        ("coth", "coth", "-csch(x)^2"),
        ("arsinh", "arsinh", "1/sqrt(x^2 + 1)"),
        ("arcosh", "arcosh", "1/sqrt(x^2 - 1)"),
        ("artanh", "artanh", "1/(1 - x^2)"),
        ("arcoth", "arcoth", "1/(1 - x^2)"),
        ("arsech", "arsech", "-1/(x*sqrt(1 - x^2))"),
        ("arcsch", "arcsch", "-1/(abs(x)*sqrt(1 + x^2))"),
        ("arcsec", "arcsec", "1/(abs(x)*sqrt(x^2 - 1))"),
        ("arccsc", "arccsc", "-1/(abs(x)*sqrt(x^2 - 1))"),
        ("cbrt", "cbrt", "1/(3*cbrt(x)^2)"),
        ("lg", "log_a(x)", "1/(x*ln(10))"),
        ("log2", "log_a(x)", "1/(x*ln(2))"),
    ],
)
def test_the_steps_cite_the_textbook_rule_of_every_new_function(
    function: str, entry: str, derivative: str
) -> None:
    """At x itself the step is the table entry; inside a chain its entry is the outer f."""
    (step,) = calculus.derive(calculus.parse(f"{function}(x)"), "x").steps
    assert step.rule is calculus.Rule.TABLE
    assert step.entry is not None
    assert step.entry.name == entry
    assert calculus.to_text(step.derivative) == derivative
    chain = calculus.derive(calculus.parse(f"{function}(3*x)"), "x").steps[0]
    assert chain.rule is calculus.Rule.CHAIN
    assert chain.entry is not None
    assert chain.entry.name == entry


def test_the_table_has_the_abs_rule_with_its_condition() -> None:
    entry = calculus.TABLE["abs"]
    assert entry.text == "d/dx abs(x) = x/abs(x)"
    assert "u != 0" in entry.note
    assert entry.latex == r"\frac{d}{dx} \left|x\right| = \frac{x}{\left|x\right|}"
