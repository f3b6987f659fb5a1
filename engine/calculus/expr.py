"""Expressions as trees: what the parser builds, the rules differentiate and the printers write.

    Num(2)                      a rational number, exact (0.1 is 1/10), with its text as the
                                student typed it ("0.1"; None for a number the engine computed)
    Const("e"), Const("pi")     the named constants
    Var("x")                    a variable
    Neg(u)                      -u
    Add((u, v, w))              u + v + w (subtraction is addition of a Neg)
    Mul((u, v, w))              u * v * w
    Div(u, v)                   u / v (kept apart from Mul so that the quotient rule can apply)
    Pow(u, v)                   u ^ v
    Call("sin", (u,))           a function of the table (see functions.py), log has two arguments
    Restricted(u, f)            u, but only where f is defined too: a derivative on the domain of
                                its function (d/dx sqrt(x)^2 is 1, for x >= 0 only); it prints as
                                u, and only ever wraps a whole derivative (rules.py)

Nodes are frozen dataclasses: equal trees compare and hash equal, and subtrees are shared freely.
Every node knows its ``size`` (nodes in the tree, shared subtrees counted each time they occur)
and ``height``, computed once when it is built, so that limits are checked in constant time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

CONSTANTS = ("e", "pi")


@dataclass(frozen=True)
class Expr:
    """Base class of the expression nodes."""

    size: int = field(init=False, compare=False, repr=False)
    height: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        children = self.children
        object.__setattr__(self, "size", 1 + sum(c.size for c in children))
        object.__setattr__(self, "height", 1 + max((c.height for c in children), default=0))

    @property
    def children(self) -> tuple[Expr, ...]:
        return ()

    @cached_property
    def variables(self) -> frozenset[str]:
        """The names of the variables the expression depends on."""
        return frozenset().union(*(c.variables for c in self.children))

    def depends_on(self, name: str) -> bool:
        return name in self.variables


@dataclass(frozen=True)
class Num(Expr):
    value: Fraction
    written: str | None = field(default=None, compare=False)
    """the text the student typed (0.6931472, 1e-3), shown as typed; not part of equality"""

    @property
    def is_integer(self) -> bool:
        return self.value.denominator == 1


@dataclass(frozen=True)
class Const(Expr):
    name: str


@dataclass(frozen=True)
class Var(Expr):
    name: str

    @cached_property
    def variables(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True)
class Neg(Expr):
    arg: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Add(Expr):
    terms: tuple[Expr, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.terms


@dataclass(frozen=True)
class Mul(Expr):
    factors: tuple[Expr, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.factors


@dataclass(frozen=True)
class Div(Expr):
    num: Expr
    den: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.num, self.den)


@dataclass(frozen=True)
class Pow(Expr):
    base: Expr
    exp: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.base, self.exp)


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True)
class Restricted(Expr):
    expr: Expr
    to: Expr
    """the function whose domain restricts expr's"""

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.expr, self.to)


def unrestricted(expr: Expr) -> Expr:
    """The expression without its restriction (what prints, and what SymPy compares)."""
    return expr.expr if isinstance(expr, Restricted) else expr


def num(value: int | Fraction) -> Num:
    return Num(Fraction(value))


ZERO = num(0)
ONE = num(1)
TWO = num(2)
THREE = num(3)
E = Const("e")
PI = Const("pi")


def call(func: str, *args: Expr) -> Call:
    return Call(func, args)


def add(*terms: Expr) -> Expr:
    """u + v + ..., without a one-term Add."""
    return terms[0] if len(terms) == 1 else Add(terms)


def mul(*factors: Expr) -> Expr:
    """u * v * ..., without a one-factor Mul."""
    return factors[0] if len(factors) == 1 else Mul(factors)


def sub(u: Expr, v: Expr) -> Add:
    return Add((u, Neg(v)))
