"""Differentiation by the textbook's rules, one step per rule applied.

    d/dx c = 0                                   constant rule
    (f + g)' = f' + g'                           sum rule
    (c f)' = c f'                                constant multiple rule
    (f g)' = f' g + f g'                         product rule
    (f / g)' = (f' g - f g') / g^2               quotient rule
    d/dx f(g(x)) = f'(g(x)) g'(x)                chain rule
    (f^g)' = f^g (g' ln(f) + g f' / f)           general power rule (both sides depend on x)
    log(u, b) = ln(u) / ln(b)                    change of base (the base depends on x)

and at each leaf an entry of the table (TABLE): x, x^a, a^x, e^x, log_a(x) and the functions of
functions.py. ``derive(expr, "x")`` returns the derivative, tidied (simplify.py), and the steps in
the order a textbook writes them: a rule, then the derivatives it needs, each one level deeper.
The derivative keeps the domain of its function: f' exists only where f does, so it is a
Restricted node, which prints as the tidied derivative and is undefined wherever f is (d/dx
sqrt(x)^2 is 1, for x >= 0 only: the grader never samples x < 0, equivalence.py).
A sub-expression without x is a constant whatever its shape (that is how partial derivatives
treat the other variables).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.calculus.errors import ExpressionLimitError
from engine.calculus.expr import (
    ONE,
    TWO,
    ZERO,
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Pow,
    Restricted,
    Var,
    call,
    mul,
    sub,
    unrestricted,
)
from engine.calculus.functions import FUNCTIONS
from engine.calculus.limits import DEFAULT_EXPRESSION_LIMITS, ExpressionLimits
from engine.calculus.printing import to_latex, to_text
from engine.calculus.simplify import tidy
from engine.compat import StrEnum


class Rule(StrEnum):
    CONSTANT = "constant rule"
    SUM = "sum rule"
    CONSTANT_MULTIPLE = "constant multiple rule"
    PRODUCT = "product rule"
    QUOTIENT = "quotient rule"
    CHAIN = "chain rule"
    GENERAL_POWER = "general power rule"
    CHANGE_OF_BASE = "change of base"
    TABLE = "table entry"


RULE_FORMULAS: dict[Rule, tuple[str, str]] = {
    Rule.CONSTANT: ("d/dx c = 0", r"\frac{d}{dx} c = 0"),
    Rule.SUM: ("(f + g)' = f' + g'", r"(f + g)' = f' + g'"),
    Rule.CONSTANT_MULTIPLE: ("(c f)' = c f'", r"(c f)' = c f'"),
    Rule.PRODUCT: ("(f g)' = f' g + f g'", r"(f g)' = f' g + f g'"),
    Rule.QUOTIENT: (
        "(f / g)' = (f' g - f g') / g^2",
        r"\left(\frac{f}{g}\right)' = \frac{f' g - f g'}{g^{2}}",
    ),
    Rule.CHAIN: ("d/dx f(g(x)) = f'(g(x)) g'(x)", r"\frac{d}{dx} f(g(x)) = f'(g(x)) \, g'(x)"),
    Rule.GENERAL_POWER: (
        "(f^g)' = f^g (g' ln(f) + g f' / f)",
        r"\left(f^{g}\right)' = f^{g} \left(g' \ln(f) + \frac{g f'}{f}\right)",
    ),
    Rule.CHANGE_OF_BASE: ("log(u, b) = ln(u) / ln(b)", r"\log_{b}(u) = \frac{\ln(u)}{\ln(b)}"),
    Rule.TABLE: ("", ""),
}
"""Each rule as the textbook writes it, in text and in LaTeX (a table entry has its own)."""


@dataclass(frozen=True)
class TableEntry:
    """One line of the table of derivatives, written for the variable x."""

    name: str
    function: Expr
    derivative: Expr
    note: str = ""

    @property
    def text(self) -> str:
        return f"d/dx {to_text(self.function)} = {to_text(self.derivative)}"

    @property
    def latex(self) -> str:
        return rf"\frac{{d}}{{dx}} {to_latex(self.function)} = {to_latex(self.derivative)}"


_x, _a, _c = Var("x"), Var("a"), Var("c")

TABLE: dict[str, TableEntry] = {
    entry.name: entry
    for entry in (
        TableEntry("constant", _c, ZERO, "c does not depend on x"),
        TableEntry("x", _x, ONE),
        TableEntry("x^a", Pow(_x, _a), Mul((_a, Pow(_x, sub(_a, ONE)))), "a is a constant"),
        TableEntry("e^x", Pow(Const("e"), _x), Pow(Const("e"), _x)),
        TableEntry("a^x", Pow(_a, _x), Mul((Pow(_a, _x), call("ln", _a))), "a > 0 is a constant"),
        TableEntry(
            "log_a(x)",
            call("log", _x, _a),
            Div(ONE, Mul((_x, call("ln", _a)))),
            "a > 0, a != 1 is a constant",
        ),
        *(
            TableEntry(f.name, call(f.name, _x), tidy(f.derivative(_x)), f.note)
            for f in FUNCTIONS.values()
        ),
    )
}
"""The table of derivatives, by entry name: the constants, x, x^a, e^x, a^x, log_a(x) and one
entry per function of functions.py."""


@dataclass(frozen=True)
class Step:
    """One rule applied to one sub-expression.

    expression : the sub-expression differentiated
    derivative : its derivative, tidied
    depth : 0 for the whole expression, 1 for what its rule needs, and so on
    entry : the table entry used (at a leaf, or as the outer function of the chain rule)
    detail : how the rule is instantiated here, e.g. "f = sin(x), g = exp(x)"
    """

    rule: Rule
    expression: Expr
    derivative: Expr
    depth: int
    entry: TableEntry | None
    detail: str


@dataclass(frozen=True)
class Derivation:
    """d expression / d variable, and the steps that produced it (steps[0] is the whole)."""

    expression: Expr
    variable: str
    derivative: Expr
    """tidied, and Restricted to the expression's domain"""
    steps: tuple[Step, ...]


def derive(
    expr: Expr, variable: str, limits: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS
) -> Derivation:
    """The derivative of ``expr`` with respect to ``variable``, with its steps.

    Raises ExpressionLimitError when the derivative, or all the steps together, would have more
    than limits.max_result_nodes nodes.
    """
    function = unrestricted(expr)
    domain = expr.to if isinstance(expr, Restricted) else expr  # a derivative's derivative
    deriver = _Deriver(variable, limits.max_result_nodes)
    derivative = deriver.derive(function, 0)
    steps = tuple(step for step in deriver.steps if step is not None)
    return Derivation(expr, variable, Restricted(derivative, domain), steps)


def gradient(
    expr: Expr, variables: list[str], limits: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS
) -> list[Derivation]:
    """The partial derivative by each of ``variables``, in that order, with their steps."""
    return [derive(expr, x, limits) for x in variables]


class _Deriver:
    def __init__(self, variable: str, budget: int) -> None:
        self.x = variable
        self.budget = budget
        self.spent = 0
        self.steps: list[Step | None] = []

    def derive(self, expr: Expr, depth: int) -> Expr:
        index = len(self.steps)
        self.steps.append(None)
        rule, entry, detail, raw = self.apply(expr, depth)
        self.charge(raw.size)
        derivative = tidy(raw)
        self.charge(derivative.size)
        self.steps[index] = Step(rule, expr, derivative, depth, entry, detail)
        return derivative

    def charge(self, nodes: int) -> None:
        self.spent += nodes
        if self.spent > self.budget:
            raise ExpressionLimitError(
                f"the derivative and its steps would have more than {self.budget} nodes: "
                "differentiate a shorter expression"
            )

    def depends(self, expr: Expr) -> bool:
        return expr.depends_on(self.x)

    # One method per kind of node; each returns (rule, entry, detail, derivative not tidied).

    def apply(  # noqa: PLR0911 (one case per kind of node)
        self, expr: Expr, depth: int
    ) -> tuple[Rule, TableEntry | None, str, Expr]:
        if not self.depends(expr):
            detail = f"{to_text(expr)} does not depend on {self.x}"
            return Rule.CONSTANT, TABLE["constant"], detail, ZERO
        match expr:
            case Var():
                return Rule.TABLE, TABLE["x"], "", ONE
            case Neg(arg=u):
                return Rule.CONSTANT_MULTIPLE, None, "c = -1", Neg(self.derive(u, depth + 1))
            case Add(terms=terms):
                derivatives = tuple(self.derive(t, depth + 1) for t in terms)
                return Rule.SUM, None, f"{len(terms)} terms", Add(derivatives)
            case Mul(factors=factors):
                return self.product(factors, depth)
            case Div(num=u, den=v):
                return self.quotient(u, v, depth)
            case Pow(base=u, exp=v):
                return self.power(u, v, depth)
            case Call(func="log", args=(u, base)):
                return self.logarithm(u, base, depth)
            case Call(func=func, args=(u,)):
                entry = TABLE[func]
                return self.chain(entry, FUNCTIONS[func].derivative(u), expr, u, depth)
        raise TypeError(f"not an expression node: {expr!r}")

    def chain(
        self, entry: TableEntry, outer: Expr, expr: Expr, inner: Expr, depth: int
    ) -> tuple[Rule, TableEntry | None, str, Expr]:
        """f(u): the table entry when u is x itself, the chain rule f'(u) u' otherwise."""
        if inner == Var(self.x):
            return Rule.TABLE, entry, "", outer
        detail = (
            f"outer f(u) = {to_text(_with_u(expr, inner))}, inner u = {to_text(inner)}, "
            f"f'(u) = {to_text(tidy(_with_u(outer, inner)))} by the table"
        )
        return Rule.CHAIN, entry, detail, mul(outer, self.derive(inner, depth + 1))

    def product(
        self, factors: tuple[Expr, ...], depth: int
    ) -> tuple[Rule, TableEntry | None, str, Expr]:
        constants = [f for f in factors if not self.depends(f)]
        varying = [f for f in factors if self.depends(f)]
        if constants:
            c, f = mul(*constants), mul(*varying)
            detail = f"c = {to_text(c)}, f = {to_text(f)}"
            return Rule.CONSTANT_MULTIPLE, None, detail, Mul((c, self.derive(f, depth + 1)))
        derivatives = [self.derive(f, depth + 1) for f in factors]
        terms = tuple(
            Mul(tuple(derivatives[i] if j == i else f for j, f in enumerate(factors)))
            for i in range(len(factors))
        )
        self.charge(sum(t.size for t in terms))
        names = "fghkmn"
        detail = ", ".join(
            f"{names[i] if i < len(names) else f'f{i + 1}'} = {to_text(f)}"
            for i, f in enumerate(factors)
        )
        return Rule.PRODUCT, None, detail, Add(terms)

    def quotient(self, f: Expr, g: Expr, depth: int) -> tuple[Rule, TableEntry | None, str, Expr]:
        if not self.depends(g):
            detail = f"c = {to_text(Div(ONE, g))}, f = {to_text(f)}"
            return Rule.CONSTANT_MULTIPLE, None, detail, Div(self.derive(f, depth + 1), g)
        df, dg = self.derive(f, depth + 1), self.derive(g, depth + 1)
        numerator = sub(Mul((df, g)), Mul((f, dg)))
        detail = f"f = {to_text(f)}, g = {to_text(g)}"
        return Rule.QUOTIENT, None, detail, Div(numerator, Pow(g, TWO))

    def power(
        self, base: Expr, exponent: Expr, depth: int
    ) -> tuple[Rule, TableEntry | None, str, Expr]:
        expr = Pow(base, exponent)
        if not self.depends(exponent):
            outer = Mul((exponent, Pow(base, sub(exponent, ONE))))
            return self.chain(TABLE["x^a"], outer, expr, base, depth)
        if base == Const("e"):
            return self.chain(TABLE["e^x"], expr, expr, exponent, depth)
        if not self.depends(base):
            outer = Mul((expr, call("ln", base)))
            return self.chain(TABLE["a^x"], outer, expr, exponent, depth)
        dbase, dexponent = self.derive(base, depth + 1), self.derive(exponent, depth + 1)
        inside = Add((Mul((dexponent, call("ln", base))), Div(Mul((exponent, dbase)), base)))
        detail = f"f = {to_text(base)}, g = {to_text(exponent)}"
        return Rule.GENERAL_POWER, None, detail, Mul((expr, inside))

    def logarithm(
        self, u: Expr, base: Expr, depth: int
    ) -> tuple[Rule, TableEntry | None, str, Expr]:
        expr = call("log", u, base)
        if not self.depends(base):
            outer = Div(ONE, Mul((u, call("ln", base))))
            return self.chain(TABLE["log_a(x)"], outer, expr, u, depth)
        rewritten = Div(call("ln", u), call("ln", base))
        detail = f"{to_text(expr)} = {to_text(rewritten)}"
        return Rule.CHANGE_OF_BASE, None, detail, self.derive(rewritten, depth + 1)


_U = Var("u")


def _with_u(expr: Expr, inner: Expr) -> Expr:  # noqa: PLR0911 (one case per kind of node)
    """expr with the sub-expression ``inner`` written as u (to show the outer function)."""
    if expr == inner:
        return _U
    match expr:
        case Neg(arg=a):
            return Neg(_with_u(a, inner))
        case Add(terms=terms):
            return Add(tuple(_with_u(t, inner) for t in terms))
        case Mul(factors=factors):
            return Mul(tuple(_with_u(f, inner) for f in factors))
        case Div(num=a, den=b):
            return Div(_with_u(a, inner), _with_u(b, inner))
        case Pow(base=a, exp=b):
            return Pow(_with_u(a, inner), _with_u(b, inner))
        case Call(func=func, args=args):
            return Call(func, tuple(_with_u(a, inner) for a in args))
    return expr
