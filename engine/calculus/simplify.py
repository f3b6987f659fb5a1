"""Tidying a derivative the way a student would on paper, in time proportional to its size.

The rules produce what the textbook's formulas say, 0*g + 1*f' and all; ``tidy`` then applies
only rewrites that are always valid and always cheap, bottom-up in one pass:

- numbers are folded exactly (3 * 1/3 is 1), and 0 and 1 vanish where they should;
- sums are flattened and like terms collected (x*y + 2*y*x is 3*x*y);
- products are flattened, signs pulled to the front, powers of one base merged (x*x^2 is x^3)
  and factors cancelled between numerator and denominator (x^2/x is x);
- powers of powers with an integer outer exponent are merged when that keeps the domain
  ((x^(1/3))^3 is x, as a real root; (x^(1/4))^4 is not), and u^0, u^1, 1^u vanish;
- u^(1/2) is sqrt(u), and in a denominator |u|^2 is u^2 (any even power: x/|x|^2 is 1/x);
- a coefficient that reads better as a decimal stays one (1.3862944*x, not 866434*x/625000);
- a few exact values of the table are used (sin(0) = 0, ln(1) = 0, ...).

Cancelling can extend a domain: sqrt(x)/sqrt(x) is 1, defined for x < 0 too. The rules keep the
function's domain with the derivative (a Restricted node, rules.py), so that the derivative is
never evaluated, nor an answer graded, where the function itself is not defined.

It never expands, factors or applies identities such as sin^2 + cos^2 = 1: the answer keeps the
shape the rules gave it, and an equivalence check (equivalence.py) settles the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from engine.calculus.expr import (
    ONE,
    ZERO,
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Restricted,
    Var,
    num,
)
from engine.calculus.numbers import reads_as_decimal

_MAX_BITS = 2000
"""Exact numbers are folded only while numerator and denominator stay under this many bits."""
_MAX_FOLDED_EXPONENT = 64

_HALF = Fraction(1, 2)

_EXACT_VALUES: dict[tuple[str, Fraction], Fraction] = {
    ("sin", Fraction(0)): Fraction(0),
    ("cos", Fraction(0)): Fraction(1),
    ("tan", Fraction(0)): Fraction(0),
    ("sinh", Fraction(0)): Fraction(0),
    ("cosh", Fraction(0)): Fraction(1),
    ("tanh", Fraction(0)): Fraction(0),
    ("sech", Fraction(0)): Fraction(1),
    ("arsinh", Fraction(0)): Fraction(0),
    ("arcosh", Fraction(1)): Fraction(0),
    ("artanh", Fraction(0)): Fraction(0),
    ("arcsin", Fraction(0)): Fraction(0),
    ("arctan", Fraction(0)): Fraction(0),
    ("exp", Fraction(0)): Fraction(1),
    ("ln", Fraction(1)): Fraction(0),
    ("sqrt", Fraction(0)): Fraction(0),
    ("sqrt", Fraction(1)): Fraction(1),
    ("cbrt", Fraction(0)): Fraction(0),
    ("cbrt", Fraction(1)): Fraction(1),
    ("sgn", Fraction(0)): Fraction(0),
    ("sigmoid", Fraction(0)): Fraction(1, 2),
    ("relu", Fraction(0)): Fraction(0),
}


def tidy(expr: Expr) -> Expr:  # noqa: PLR0911 (one case per kind of node)
    """An equal expression, with the cheap simplifications above applied."""
    match expr:
        case Neg(arg=u):
            return negate(tidy(u))
        case Add(terms=terms):
            return make_sum(tidy(t) for t in terms)
        case Mul(factors=factors):
            return make_product(tidy(f) for f in factors)
        case Div(num=u, den=v):
            return make_quotient(tidy(u), tidy(v))
        case Pow(base=u, exp=v):
            return make_power(tidy(u), tidy(v))
        case Call(func=func, args=args):
            return make_call(func, tuple(tidy(a) for a in args))
        case Restricted(expr=u, to=f):
            return Restricted(tidy(u), f)
    return expr


def _small(value: Fraction) -> bool:
    return max(value.numerator.bit_length(), value.denominator.bit_length()) <= _MAX_BITS


def negate(u: Expr) -> Expr:
    """-u, tidy when u is."""
    match u:
        case Num(value=v):
            return Num(-v)
        case Neg(arg=inner):
            return inner
        case Add(terms=terms):
            return make_sum(negate(t) for t in terms)
        case Mul() | Div():
            return make_product((Num(Fraction(-1)), u))
    return Neg(u)


# Sums ---------------------------------------------------------------------------------------


def _coefficient(term: Expr) -> tuple[Fraction, Expr | None]:
    """term = c * rest for a tidy term, with rest None when the term is a number."""
    match term:
        case Num(value=v):
            return v, None
        case Neg() | Mul() | Div():
            product = _Product()
            product.include(term, 1)
            c, product.coefficient = product.coefficient, Fraction(1)
            rest = product.build()
            return (c, rest) if rest != ONE else (c, None)
    return Fraction(1), term


def _term_key(rest: Expr) -> Hashable:
    """Equal for products and quotients of the same factors in any order."""
    match rest:
        case Mul(factors=factors):
            return ("product", frozenset(Counter(factors).items()))
        case Div(num=u, den=v):
            return ("quotient", _term_key(u), _term_key(v))
    return rest


def scale(c: Fraction, rest: Expr) -> Expr:
    """c * rest, for a tidy rest."""
    if c == 1:
        return rest
    if c == 0:
        return ZERO
    return make_product((Num(c), rest))


_NUMBER = ("number",)
"""The key of the numbers among the terms of a sum."""


def make_sum(terms: Iterable[Expr]) -> Expr:
    """The sum of tidy terms: flattened and like terms collected, in the order they come."""
    groups: dict[Hashable, tuple[Fraction, Expr]] = {}
    unfolded: list[Expr] = []
    for term in _flatten_sum(terms):
        c, rest = _coefficient(term)
        key = _NUMBER if rest is None else _term_key(rest)
        previous, first_rest = groups.get(key, (Fraction(0), ONE if rest is None else rest))
        total = previous + c
        if _small(total):
            groups[key] = (total, first_rest)
        else:
            unfolded.append(term)
    result = [scale(c, rest) for c, rest in groups.values() if c != 0]
    result.extend(unfolded)
    if not result:
        return ZERO
    return result[0] if len(result) == 1 else Add(tuple(result))


def _flatten_sum(terms: Iterable[Expr]) -> Iterable[Expr]:
    for term in terms:
        if isinstance(term, Add):
            yield from term.terms
        else:
            yield term


# Products and quotients ---------------------------------------------------------------------


@dataclass
class _Product:
    """A product being collected: coefficient * prod(base^exponent), exponents possibly < 0."""

    coefficient: Fraction = Fraction(1)
    powers: dict[Expr, Fraction] = field(default_factory=dict)
    others: list[tuple[Expr, int]] = field(default_factory=list)  # (factor, +1 or -1)

    def include(self, factor: Expr, sign: int) -> None:
        match factor:
            case Num(value=v) if v != 0 or sign > 0:
                folded = self.coefficient * v if sign > 0 else self.coefficient / v
                if _small(folded):
                    self.coefficient = folded
                else:
                    self.others.append((factor, sign))
            case Neg(arg=u):
                self.coefficient = -self.coefficient
                self.include(u, sign)
            case Mul(factors=factors):
                for f in factors:
                    self.include(f, sign)
            case Div(num=u, den=v):
                self.include(u, sign)
                self.include(v, -sign)
            case Pow(base=base, exp=Num(value=e)):
                self._add_power(base, sign * e)
            case _:
                self._add_power(factor, Fraction(sign))

    def _add_power(self, base: Expr, exponent: Fraction) -> None:
        self.powers[base] = self.powers.get(base, Fraction(0)) + exponent

    def _even_powers_of_abs(self) -> None:
        """1/|u|^(2k) is 1/u^(2k), merged with the other powers of u: x/|x|^2 is 1/x (d/dx
        ln|x|). In a numerator |u|^2 stays, to cancel with a |u| below it (3*x*|x|)."""
        for base, exponent in list(self.powers.items()):
            match base:
                case Call(func="abs", args=(inner,)) if exponent < 0 and exponent % 2 == 0:
                    del self.powers[base]
                    self._add_power(inner, exponent)

    def build(self) -> Expr:
        if self.coefficient == 0:
            return ZERO
        self._even_powers_of_abs()
        numerator: list[Expr] = []
        denominator: list[Expr] = []
        for base, exponent in self.powers.items():
            if exponent > 0:
                numerator.append(make_power(base, Num(exponent)))
            elif exponent < 0:
                denominator.append(make_power(base, Num(-exponent)))
        for factor, sign in self.others:
            (numerator if sign > 0 else denominator).append(factor)
        numerator.sort(key=_variables_first)
        denominator.sort(key=_variables_first)
        c = self.coefficient
        if not numerator and not denominator:
            return Num(c)
        if reads_as_decimal(c):  # 1.3862944*x, not 866434*x/625000
            top = _product_of(abs(c), numerator)
            bottom = _product_of(1, denominator)
            magnitude = top if bottom == ONE else Div(top, bottom)
            return magnitude if c > 0 else negate_magnitude(magnitude)
        top = _product_of(abs(c.numerator), numerator)
        bottom = _product_of(c.denominator, denominator)
        magnitude = top if bottom == ONE else Div(top, bottom)
        return magnitude if c > 0 else negate_magnitude(magnitude)


def _variables_first(factor: Expr) -> tuple[int, str]:
    """Sort key putting powers of variables first, by name (2*x*cos(x^2), not 2*cos(x^2)*x);
    the sort is stable, so other factors keep their order."""
    match factor:
        case Var(name=name) | Pow(base=Var(name=name), exp=Num()):
            return 0, name
    return 1, ""


def _product_of(coefficient: int | Fraction, factors: list[Expr]) -> Expr:
    flat: list[Expr] = []
    for f in factors:
        flat.extend(f.factors if isinstance(f, Mul) else (f,))
    if coefficient != 1 or not flat:
        flat.insert(0, num(coefficient))
    return flat[0] if len(flat) == 1 else Mul(tuple(flat))


def negate_magnitude(u: Expr) -> Expr:
    """-u for a tidy product or quotient whose sign is positive: the sign goes on the number
    in front when there is one, as a Neg otherwise."""
    match u:
        case Num(value=v):
            return Num(-v)
        case Mul(factors=(Num(value=v), *rest)):
            return Mul((Num(-v), *rest))
        case Div(num=top, den=bottom):
            return Div(negate_magnitude(top), bottom)
    return Neg(u)


def make_product(factors: Iterable[Expr]) -> Expr:
    """The product of tidy factors, with numbers folded and like bases merged."""
    product = _Product()
    for f in factors:
        product.include(f, 1)
    return product.build()


def make_quotient(u: Expr, v: Expr) -> Expr:
    """u / v for tidy u and v, with common factors cancelled."""
    if v == ONE:
        return u
    if ZERO in (u, v):
        return Div(u, v) if v == ZERO else ZERO
    return make_product((u, Div(ONE, v)))


# Powers and functions -----------------------------------------------------------------------


def make_power(base: Expr, exponent: Expr) -> Expr:  # noqa: PLR0911 (one case per rewrite)
    """base ^ exponent for a tidy base and exponent."""
    if exponent == ZERO or base == ONE:
        return ONE
    if exponent == ONE:
        return base
    if exponent == Num(_HALF):
        return make_call("sqrt", (base,))
    match base, exponent:
        case Num(value=b), Num(value=e) if e.denominator == 1 and abs(e) <= _MAX_FOLDED_EXPONENT:
            if b != 0 or e > 0:
                folded = b ** int(e)
                if _small(folded):
                    return Num(folded)
        case Num(value=b), Num(value=e) if b == 0 and e > 0:
            return ZERO
        case Pow(base=inner, exp=Num(value=a)), Num(value=e) if _merges(a, e):
            return make_power(inner, Num(a * e))
    return Pow(base, exponent)


def _merges(a: Fraction, e: Fraction) -> bool:
    """Whether (u^a)^e = u^(a e) with the same domain: e an integer, and u^(a e) no more
    defined than u^a ((x^(1/3))^3 = x, real roots; (x^(1/4))^2 = x^(1/2); not (x^(1/4))^4)."""
    return e.denominator == 1 and (a.denominator % 2 == 1 or (a * e).denominator % 2 == 0)


def make_call(func: str, args: tuple[Expr, ...]) -> Expr:
    """func(args), with the exact values of the table at 0 and 1."""
    if len(args) == 1 and isinstance(args[0], Num):
        exact = _EXACT_VALUES.get((func, args[0].value))
        if exact is not None:
            return Num(exact)
    if func in ("ln", "log") and args[0] == ONE:
        return ZERO
    if func == "ln" and args[0] == Const("e"):
        return ONE
    if func == "abs" and isinstance(args[0], Num):
        return Num(abs(args[0].value))
    return Call(func, args)
