"""From text to an expression tree, by a whitelist grammar: nothing else is ever evaluated.

    expression := term (("+" | "-") term)*
    term       := signed (("*" | "/") signed)*
    signed     := ("-" | "+") signed | power
    power      := atom (("^" | "**") signed)?          right-associative: 2^3^2 = 2^(3^2)
    atom       := number | constant | variable | function "(" arguments ")" | "(" expression ")"
                | "|" expression "|"                   |u| is abs(u)

- number: 12, 0.5, .5, 1e-3 (an exact rational: 0.1 is 1/10), kept as typed for display
- constant: e, pi
- variable: one letter with an optional subscript (x, y2, w_1, x_ab), or a Greek letter's name
  (alpha, theta, eta, ...)
- function: a name of the table (functions.py), or an alias (asin for arcsin, sh for sinh ...);
  log(u) is ln(u) and log(u, a) is the logarithm to the base a, as are lg(u) = log10(u) =
  log_10(u) = log(u, 10), lb(u) = log2(u) = log_2(u) = log(u, 2) and log_a(u) for an integer a
- an absolute value between bars: |x|, |x - |y||, 2*|x|^3. A bar opens where an operand is
  expected and closes where an operator is, so nested bars read as a textbook's do.

So -x^2 is -(x^2) and 2^-1 is 2^(-1). Multiplication is always written: "2x" and "x(x + 1)" are
errors that say to write 2*x, since an implied product is where 1/2x becomes ambiguous. A name
that is not in the grammar gets a "did you mean" with the spelling that is (sinx: sin(x); Sin:
sin; heavyside: heaviside; xy: x*y), and sin^-1(x) gets arcsin(x).

Every error is an ExpressionSyntaxError or an ExpressionLimitError that gives the 1-based column.
The parser is a recursive descent whose depth is checked on the way in, so no input can exhaust
the stack, and a constant exponent is evaluated (in float64, from a tree of bounded size) and
refused when it is over the limit before anything else is done with it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

from engine.calculus.errors import ExpressionLimitError, ExpressionSyntaxError
from engine.calculus.evaluate import constant_value
from engine.calculus.expr import (
    CONSTANTS,
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Var,
    call,
    num,
)
from engine.calculus.functions import ALIASES, FUNCTIONS, LOG_BASE, LOGARITHMS, is_function_name
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
    r"(?P<space>[\s\ufeff\u200b]+)"  # and the invisible ones a copy-paste or an editor adds
    r"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),|])"
)
_MAX_TOKEN = 40
_MAX_DECIMAL_EXPONENT = 308

_LOG_WITH_BASE = re.compile(r"log_?(?P<base>[0-9]+)")
"""log10, log_10, log2, log_2, log_3 ...: the logarithm to an integer base."""

SPELLINGS: dict[str, str] = {
    "tang": "tan",
    "arctang": "arctan",
    "modulus": "abs",
    "absolute": "abs",
    "root": "sqrt",
    "sqr": "sqrt",
    "cuberoot": "cbrt",
    "heavyside": "heaviside",
    "logistic": "sigmoid",
}
"""Names some textbooks use that the grammar does not read, with the spelling that it does."""

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

    def close(self, context: str, closer: str = ")") -> None:
        """Consume the ')' that ends a parenthesis or a call, or the '|' that ends |u|."""
        if self.at(closer):
            self.advance()
            return
        if self.token.kind in ("number", "name") or self.at("("):
            raise self.missing_operator()
        raise ExpressionSyntaxError(
            f"expected '{closer}' {context}, found {_describe(self.token)}", self.token.column
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
            return Num(_number(token), token.text)
        if token.kind == "name":
            return self.name(token)
        if token.kind == "op" and token.text == "(":
            with self.nested(token.column):
                inner = self.expression()
            self.close(f"to close the '(' at column {token.column}")
            return inner
        if token.kind == "op" and token.text == "|":
            with self.nested(token.column):
                inner = self.expression()
            self.close(f"to close the '|' at column {token.column}", "|")
            return self.node(call("abs", inner), token.column)
        raise ExpressionSyntaxError(
            f"expected a number, a name or '(', found {_describe(token)}", token.column
        )

    def name(self, token: Token) -> Expr:
        name = token.text
        if is_function_name(name) or _LOG_WITH_BASE.fullmatch(name):
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
        suggestion = did_you_mean(name)
        raise ExpressionSyntaxError(
            f"unknown name '{name}': "
            + (f"did you mean {suggestion}? It is " if suggestion else "")
            + "not a function of the table, nor e or pi, nor a variable "
            "(a letter with an optional subscript, like x, y2 or w_1, or a Greek letter's "
            "name, like theta)",
            token.column,
        )

    def call(self, token: Token) -> Expr:
        name = ALIASES.get(token.text, token.text)
        base = _logarithm_base(token)
        if not self.at("(", "|"):
            raise ExpressionSyntaxError(
                f"{token.text} is a function: its argument goes in parentheses, "
                f"{token.text}(...)" + self.power_of_function_hint(name),
                self.token.column,
            )
        args = [self.atom()] if self.at("|") else self.arguments(token)  # ln|x| as tables write it
        if base is not None:
            if len(args) != 1:
                raise ExpressionSyntaxError(
                    f"{token.text} takes 1 argument, not {len(args)}: it is log(u, {base})",
                    token.column,
                )
            return self.node(call(LOG_BASE, args[0], num(base)), token.column)
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

    def arguments(self, token: Token) -> list[Expr]:
        """The arguments of a call, from its '(' to its ')'."""
        opening = self.advance()
        args: list[Expr] = []
        with self.nested(opening.column):
            args.append(self.expression())
            while self.at(","):
                self.advance()
                args.append(self.expression())
        self.close(f"to close the '(' of {token.text} at column {opening.column}")
        return args

    def power_of_function_hint(self, name: str) -> str:
        """What sin^2(x) and sin^-1(x) should be written as (the token after the name is '^')."""
        if not self.at("^", "**"):
            return ""
        following = [t.text for t in self.tokens[self.index + 1 : self.index + 3]]
        inverse = _INVERSES.get(name)
        if following == ["-", "1"] and inverse is not None:
            return f"; for the inverse function write {inverse}(x), not {name}^-1(x)"
        return f"; write {name}(x)^2 for a power"

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
        if token.kind == "op" and token.text == "|":
            return ExpressionSyntaxError(
                "'|' closes an absolute value that was not opened: write |u| around the "
                "expression, or abs(u)",
                token.column,
            )
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


_INVERSES = {
    "sin": "arcsin",
    "cos": "arccos",
    "tan": "arctan",
    "cot": "arccot",
    "sec": "arcsec",
    "csc": "arccsc",
    "sinh": "arsinh",
    "cosh": "arcosh",
    "tanh": "artanh",
    "coth": "arcoth",
    "sech": "arsech",
    "csch": "arcsch",
}
"""The inverse of each function, for a student who writes sin^-1(x) as OpenStax's table does."""


def _logarithm_base(token: Token) -> int | None:
    """The base of lg, lb, log10, log_2, log_3 ...; None for any other name."""
    if token.text in LOGARITHMS:
        return LOGARITHMS[token.text]
    match = _LOG_WITH_BASE.fullmatch(token.text)
    if match is None:
        return None
    base = int(match.group("base"))
    if base < 2:
        raise ExpressionSyntaxError(
            f"{token.text} has no base: a logarithm's base must be > 0 and not 1", token.column
        )
    return base


def accepted_names() -> list[str]:
    """Every name of a function the grammar reads, aliases included."""
    return sorted({*FUNCTIONS, *ALIASES, *LOGARITHMS, LOG_BASE})


def did_you_mean(name: str) -> str | None:
    """The spelling the grammar reads for a name it does not: Sin -> sin, sinx ->
    sin(x), arcsinus -> arcsin, xy -> x*y; None when nothing is close."""
    names = accepted_names()
    lower = name.lower()
    if lower in names or lower in CONSTANTS:
        return lower
    if lower in SPELLINGS:
        return SPELLINGS[lower]
    for function in sorted(names, key=len, reverse=True):
        rest = name[len(function) :]
        if lower.startswith(function) and rest and (is_variable_name(rest) or rest.isdigit()):
            return f"{function}({rest})"
    close = difflib.get_close_matches(lower, names, n=1, cutoff=0.75)
    if close:
        return close[0]
    letters = set(name)
    if 1 < len(name) <= 4 and len(letters) == len(name) and all(map(is_variable_name, letters)):
        return "*".join(name)
    return None


def _describe(token: Token) -> str:
    return "the end of the expression" if token.kind == "end" else f"'{token.text}'"
