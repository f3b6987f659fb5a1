"""From text to an expression tree, by a whitelist grammar: nothing else is ever evaluated.

    expression := term (("+" | "-") term)*
    term       := signed (("*" | "/") signed)*
    signed     := ("-" | "+") signed | power
    power      := atom (("^" | "**") signed)?          right-associative: 2^3^2 = 2^(3^2)
    atom       := number | constant | variable | function "(" arguments ")" | "(" expression ")"

- number: 12, 0.5, .5, 1e-3 (an exact rational: 0.1 is 1/10)
- constant: e, pi
- variable: one letter with an optional subscript (x, y2, w_1, x_ab), or a Greek letter's name
  (alpha, theta, eta, ...)
- function: a name of the table (functions.py), or an alias (asin for arcsin ...); log(u) is
  ln(u) and log(u, a) is the logarithm to the base a

So -x^2 is -(x^2) and 2^-1 is 2^(-1). Multiplication is always written: "2x" and "x(x + 1)" are
errors that say to write 2*x, since an implied product is where 1/2x becomes ambiguous.

Every error is an ExpressionSyntaxError or an ExpressionLimitError that gives the 1-based column.
The parser is a recursive descent whose depth is checked on the way in, so no input can exhaust
the stack, and a constant exponent is evaluated (in float64, from a tree of bounded size) and
refused when it is over the limit before anything else is done with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

from engine.calculus.errors import ExpressionLimitError, ExpressionSyntaxError
from engine.calculus.evaluate import constant_value
from engine.calculus.expr import CONSTANTS, Add, Call, Const, Div, Expr, Mul, Neg, Num, Pow, Var
from engine.calculus.functions import ALIASES, FUNCTIONS, LOG_BASE, is_function_name
from engine.calculus.limits import DEFAULT_EXPRESSION_LIMITS, ExpressionLimits

GREEK = frozenset(
    {
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
        "omega",
    }
)  # fmt: skip
VARIABLE = re.compile(r"[A-Za-z](?:_?[0-9]+|_[A-Za-z0-9]+)?")
"""A variable's name, when it is not a Greek letter's: x, x2, x_2, w_ij."""

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),])"
)
_MAX_TOKEN = 40
_MAX_DECIMAL_EXPONENT = 308

_HINTS = {
    "_": "names start with a letter",
    ".": "there is no attribute access: only numbers, variables, + - * / ^ and functions",
    "[": "there is no indexing: write x_1 or x1 for a subscript",
    "=": "write only the expression, without an equals sign",
    "'": "write the expression itself, not its derivative with a prime",
    "\u2212": "write - (the ASCII minus) for minus",
    "\u00b7": "write * for multiplication",
    "\u00d7": "write * for multiplication",
}


def is_variable_name(name: str) -> bool:
    """Whether ``name`` can be a variable: x, x2, w_1, theta, but not e, pi or sin."""
    return (
        (name in GREEK or VARIABLE.fullmatch(name) is not None)
        and name not in CONSTANTS
        and not is_function_name(name)
    )


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    column: int  # 1-based


def parse(text: str, limits: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS) -> Expr:
    """The expression tree of ``text``; raises ExpressionSyntaxError or ExpressionLimitError."""
    if len(text) > limits.max_length:
        raise ExpressionLimitError(
            f"the expression has {len(text)} characters, over the limit of {limits.max_length}"
        )
    if not text.strip():
        raise ExpressionSyntaxError("the expression is empty")
    return _Parser(tokenize(text), limits).parse()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _unexpected_character(text[position], position + 1)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            if match.end() - position > _MAX_TOKEN:
                raise ExpressionLimitError(
                    f"a {kind} of {match.end() - position} characters is over the limit of "
                    f"{_MAX_TOKEN}",
                    position + 1,
                )
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _unexpected_character(char: str, column: int) -> ExpressionSyntaxError:
    shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
    hint = _HINTS.get(char)
    return ExpressionSyntaxError(
        f"unexpected character {shown}" + (f": {hint}" if hint else ""), column
    )


class _Parser:
    def __init__(self, tokens: list[Token], limits: ExpressionLimits) -> None:
        self.tokens = tokens
        self.index = 0
        self.limits = limits
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def close(self, context: str) -> None:
        """Consume the ')' that ends a parenthesis or a call."""
        if self.at(")"):
            self.advance()
            return
        if self.token.kind in ("number", "name") or self.at("("):
            raise self.missing_operator()
        raise ExpressionSyntaxError(
            f"expected ')' {context}, found {_describe(self.token)}", self.token.column
        )

    @contextmanager
    def nested(self, column: int) -> Iterator[None]:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise ExpressionLimitError(
                f"the expression nests more than {self.limits.max_depth} levels deep", column
            )
        yield
        self.depth -= 1

    def node(self, expr: Expr, column: int) -> Expr:
        if expr.height > self.limits.max_depth:
            raise ExpressionLimitError(
                f"the expression nests more than {self.limits.max_depth} levels deep", column
            )
        return expr

    # The grammar, one method per rule -------------------------------------------------------

    def parse(self) -> Expr:
        expr = self.expression()
        if self.token.kind != "end":
            raise self.missing_operator()
        return expr

    def expression(self) -> Expr:
        terms = [self.term()]
        column = self.token.column
        while self.at("+", "-"):
            op = self.advance()
            term = self.term()
            terms.append(term if op.text == "+" else self.node(Neg(term), op.column))
        return terms[0] if len(terms) == 1 else self.node(Add(tuple(terms)), column)

    def term(self) -> Expr:
        factors = [self.signed()]
        column = self.token.column
        while self.at("*", "/"):
            op = self.advance()
            operand = self.signed()
            if op.text == "*":
                factors.append(operand)
            else:
                left = factors[0] if len(factors) == 1 else self.node(Mul(tuple(factors)), column)
                factors = [self.node(Div(left, operand), op.column)]
                column = self.token.column
        return factors[0] if len(factors) == 1 else self.node(Mul(tuple(factors)), column)

    def signed(self) -> Expr:
        if self.at("-", "+"):
            op = self.advance()
            with self.nested(op.column):
                operand = self.signed()
            return self.node(Neg(operand), op.column) if op.text == "-" else operand
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if not self.at("^", "**"):
            return base
        op = self.advance()
        with self.nested(op.column):
            exponent = self.signed()
        if not exponent.variables:
            self.check_exponent(exponent, op.column)
        return self.node(Pow(base, exponent), op.column)

    def atom(self) -> Expr:
        token = self.advance()
        if token.kind == "number":
            return Num(_number(token))
        if token.kind == "name":
            return self.name(token)
        if token.kind == "op" and token.text == "(":
            with self.nested(token.column):
                inner = self.expression()
            self.close(f"to close the '(' at column {token.column}")
            return inner
        raise ExpressionSyntaxError(
            f"expected a number, a name or '(', found {_describe(token)}", token.column
        )

    def name(self, token: Token) -> Expr:
        name = token.text
        if is_function_name(name):
            return self.call(token)
        if name in CONSTANTS:
            return Const(name)
        if is_variable_name(name):
            if self.at("("):
                raise ExpressionSyntaxError(
                    f"{name} is a variable, not a function: write {name}*(...) to multiply",
                    self.token.column,
                )
            return Var(name)
        raise ExpressionSyntaxError(
            f"unknown name '{name}': not a function of the table, nor e or pi, nor a variable "
            "(a letter with an optional subscript, like x, y2 or w_1, or a Greek letter's "
            "name, like theta)",
            token.column,
        )

    def call(self, token: Token) -> Expr:
        name = ALIASES.get(token.text, token.text)
        if not self.at("("):
            hint = f"write {token.text}(x)^2 for a power" if self.at("^", "**") else ""
            raise ExpressionSyntaxError(
                f"{token.text} is a function: its argument goes in parentheses, "
                f"{token.text}(...)" + (f"; {hint}" if hint else ""),
                self.token.column,
            )
        opening = self.advance()
        args: list[Expr] = []
        with self.nested(opening.column):
            args.append(self.expression())
            while self.at(","):
                self.advance()
                args.append(self.expression())
        self.close(f"to close the '(' of {token.text} at column {opening.column}")
        arity = (1, 2) if name == LOG_BASE else (1,)
        if len(args) not in arity:
            wanted = (
                "1 or 2 arguments (log(u) or log(u, base))" if name == LOG_BASE else "1 argument"
            )
            raise ExpressionSyntaxError(
                f"{token.text} takes {wanted}, not {len(args)}", token.column
            )
        if name == LOG_BASE and len(args) == 1:
            name = "ln"
        assert name in FUNCTIONS or name == LOG_BASE
        return self.node(Call(name, tuple(args)), token.column)

    def check_exponent(self, exponent: Expr, column: int) -> None:
        value = constant_value(exponent)
        limit = self.limits.max_exponent
        if math.isnan(value):
            raise ExpressionSyntaxError("the exponent after '^' is not a real number", column)
        if abs(value) > limit:
            shown = f"{value:.6g}" if math.isfinite(value) else "too large for float64"
            raise ExpressionLimitError(
                f"the exponent after '^' is {shown}, over the limit of {limit:g} in absolute value",
                column,
            )

    def missing_operator(self) -> ExpressionSyntaxError:
        token = self.token
        previous = self.tokens[self.index - 1]
        if token.kind == "op" and token.text == ")":
            return ExpressionSyntaxError("')' without a matching '('", token.column)
        if token.kind == "op" and token.text == ",":
            return ExpressionSyntaxError("',' outside the arguments of a function", token.column)
        return ExpressionSyntaxError(
            f"missing operator between '{previous.text}' and '{token.text}': write "
            f"{previous.text}*{token.text} to multiply",
            token.column,
        )


def _number(token: Token) -> Fraction:
    """The exact value of a number token (checked first: Fraction("1e999999999") would hang)."""
    _, _, exponent = token.text.lower().partition("e")
    too_large = exponent and abs(int(exponent)) > _MAX_DECIMAL_EXPONENT
    if too_large or not math.isfinite(float(token.text)):
        raise ExpressionLimitError(
            f"the number {token.text} is outside the range of float64", token.column
        )
    return Fraction(token.text)


def _describe(token: Token) -> str:
    return "the end of the expression" if token.kind == "end" else f"'{token.text}'"
