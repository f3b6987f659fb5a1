"""The whitelist grammar: what it reads, how it nests, and the column of every error."""

from __future__ import annotations

import pytest

from engine import calculus
from engine.calculus import ExpressionLimitError, ExpressionSyntaxError


def value(text: str, **env: float) -> float:
    return float(calculus.evaluate(calculus.parse(text), env))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2^2", -4.0),  # the sign binds less tightly than the power
        ("2^3^2", 512.0),  # the power is right-associative
        ("2**3", 8.0),
        ("2^-1", 0.5),
        ("12/3/2", 2.0),  # division is left-associative
        ("2*3/4*2", 3.0),
        ("1 - 2 - 3", -4.0),
        ("--3", 3.0),
        ("+3", 3.0),
        (".5 + 1.5e1", 15.5),
        ("log(8, 2)", 3.0),
        ("log(e)", 1.0),
        ("ln(e^2)", 2.0),
        ("asin(1) - pi/2", 0.0),
        ("step(0.5)", 1.0),
        ("((((((2))))))", 2.0),
        ("sin(x)^2 + cos(x)^2", 1.0),
    ],
)
def test_the_grammar_reads_as_the_textbook(text: str, expected: float) -> None:
    assert value(text, x=0.3) == pytest.approx(expected, abs=1e-15)


def test_numbers_are_exact() -> None:
    assert calculus.to_text(calculus.derive(calculus.parse("0.1*x^2"), "x").derivative) == "x/5"
    assert calculus.to_text(calculus.derive(calculus.parse("x^3/3"), "x").derivative) == "x^2"


@pytest.mark.parametrize("name", ["x", "y2", "x_1", "w_ij", "theta", "eta", "lambda", "X", "b"])
def test_variable_names(name: str) -> None:
    assert calculus.parse(f"2*{name}").variables == {name}


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("2x", 2, "missing operator between '2' and 'x': write 2*x"),
        ("x y", 3, "write x*y"),
        ("x(x + 1)", 2, "x is a variable, not a function"),
        ("sinx", 1, "unknown name 'sinx'"),
        ("sin x", 5, "sin is a function"),
        ("sin^2(x)", 4, "write sin(x)^2"),
        ("x +", 4, "found the end of the expression"),
        ("(x + 1", 7, "expected ')' to close the '(' at column 1"),
        ("x + 1)", 6, "')' without a matching '('"),
        ("log(x, 2, 3)", 1, "log takes 1 or 2 arguments"),
        ("sin(x, y)", 1, "sin takes 1 argument"),
        ("x, y", 2, "',' outside the arguments"),
        ("f(x)", 2, "f is a variable, not a function"),
        ("foo(x)", 1, "unknown name 'foo'"),
        ("__import__('os')", 1, "unexpected character '_'"),
        ("x.__class__", 2, "there is no attribute access"),
        ("().__class__", 3, "there is no attribute access"),
        ("()", 2, "expected a number, a name or '('"),
        ("x[0]", 2, "there is no indexing"),
        ("x = 2", 3, "without an equals sign"),
        ("2 \u2212 x", 3, "ASCII minus"),
        ("x ; 1", 3, "unexpected character ';'"),
        ("x\x00", 2, "U+0000"),
        ("lambda: 1", 7, "unexpected character ':'"),
        ("x^ln(-1)", 2, "not a real number"),
    ],
)
def test_a_syntax_error_says_where(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        calculus.parse(text)
    assert caught.value.column == column
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"column {column}: ")


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_expression_is_an_error(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="empty"):
        calculus.parse(text)


HOSTILE = {
    "huge exponent tower": ("9^9^9^9", "the exponent after '^' is 3.8742e+08"),
    "huge exponent": ("x^1e308", "the exponent after '^' is 1e+308"),
    "exponent out of float range": ("2^(10^400)", "is too large for float64"),
    "exponent by product": ("x^(1000*1000)", "the exponent after '^' is 1e+06"),
    "a number out of range": ("1e999999999", "outside the range of float64"),
    "a tiny number": ("1e-400", "outside the range of float64"),
    "a long number": ("1" * 41, "over the limit of 40"),
    "deep parentheses": ("(" * 60 + "x" + ")" * 60, "nests more than 40 levels"),
    "deep and long parentheses": ("(" * 1000 + "x" + ")" * 1000, "over the limit of 1000"),
    "deep calls": ("sin(" * 100 + "x" + ")" * 100, "nests more than 40 levels"),
    "deep signs": ("-" * 500 + "x", "nests more than 40 levels"),
    "long tower": ("x" + "^x" * 300, "nests more than 40 levels"),
    "long division": ("x" + "/x" * 300, "nests more than 40 levels"),
    "very long input": ("x+" * 100_000 + "x", "has 200001 characters, over the limit of 1000"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_is_refused_before_any_work(name: str) -> None:
    text, message = HOSTILE[name]
    with pytest.raises((ExpressionLimitError, ExpressionSyntaxError)) as caught:
        calculus.parse(text)
    assert message in str(caught.value)


def test_a_derivative_too_large_is_refused() -> None:
    product = "*".join(["x"] * 200)  # the product rule makes 200 terms of 200 factors
    with pytest.raises(ExpressionLimitError, match="more than 20000 nodes"):
        calculus.derive(calculus.parse(product), "x")


def test_limits_can_be_set() -> None:
    limits = calculus.ExpressionLimits(max_length=10, max_depth=3, max_exponent=5)
    with pytest.raises(ExpressionLimitError, match="11 characters"):
        calculus.parse("x" * 11, limits)
    with pytest.raises(ExpressionLimitError, match="3 levels"):
        calculus.parse("((((x))))", limits)
    with pytest.raises(ExpressionLimitError, match="limit of 5"):
        calculus.parse("x^6", limits)
    assert calculus.parse("x^5", limits).variables == {"x"}
