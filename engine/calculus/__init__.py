"""Derivatives of elementary functions, as the textbook's first chapter teaches them.

    parse(text)                       text -> expression tree, by a whitelist grammar (parser.py)
    derive(tree, "x")                 d/dx with the rules' steps (rules.py), tidied (simplify.py)
    gradient(tree, ["x", "y"])        each partial derivative, with its steps
    to_text(tree), to_latex(tree)     back to text in the same grammar, and to LaTeX
    evaluate(tree, {"x": array})      float64 values, elementwise (evaluate.py)
    check_equivalence(a, b, ...)      equal at sample points, and by SymPy (equivalence.py); or
                                      right only to the digits of its decimals (rounding.py)
    gradient_descent(tree, ...)       theta' = theta -/+ eta grad f (descent.py)
    warm_up()                         start the SymPy workers and prove they answer (proof.py)
    on_worker_replaced(listener)      be told each time a SymPy worker is replaced (workers.py)

Errors: ExpressionSyntaxError and ExpressionLimitError (errors.py), and the engine's
DomainError and NonFiniteError. SymPy runs only in worker processes with a deadline (proof.py).
"""

from engine.calculus.descent import DescentPoint, descent_work, gradient_descent
from engine.calculus.equivalence import (
    Counterexample,
    Equivalence,
    Interval,
    SymbolicCheck,
    SymbolicOutcome,
    check_equivalence,
)
from engine.calculus.errors import ExpressionError, ExpressionLimitError, ExpressionSyntaxError
from engine.calculus.evaluate import evaluate, value_at
from engine.calculus.expr import Expr
from engine.calculus.functions import ALIASES, FUNCTIONS
from engine.calculus.limits import DEFAULT_EXPRESSION_LIMITS, ExpressionLimits
from engine.calculus.parser import is_variable_name, parse
from engine.calculus.printing import to_latex, to_text, variable_latex
from engine.calculus.proof import SympyCheck, sympy_check, warm_up
from engine.calculus.rounding import Rounding
from engine.calculus.rules import (
    RULE_FORMULAS,
    TABLE,
    Derivation,
    Rule,
    Step,
    TableEntry,
    derive,
    gradient,
)
from engine.calculus.workers import on_worker_replaced

__all__ = [
    "ALIASES",
    "DEFAULT_EXPRESSION_LIMITS",
    "FUNCTIONS",
    "RULE_FORMULAS",
    "TABLE",
    "Counterexample",
    "Derivation",
    "DescentPoint",
    "Equivalence",
    "Expr",
    "ExpressionError",
    "ExpressionLimitError",
    "ExpressionLimits",
    "ExpressionSyntaxError",
    "Interval",
    "Rounding",
    "Rule",
    "Step",
    "SymbolicCheck",
    "SymbolicOutcome",
    "SympyCheck",
    "TableEntry",
    "check_equivalence",
    "derive",
    "descent_work",
    "evaluate",
    "gradient",
    "gradient_descent",
    "is_variable_name",
    "on_worker_replaced",
    "parse",
    "sympy_check",
    "to_latex",
    "to_text",
    "value_at",
    "variable_latex",
    "warm_up",
]
