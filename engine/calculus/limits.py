"""How large an expression, and what is computed from it, may be.

Every bound keeps one request's work small and predictable: the parser, the rules, the
simplifier and the printers all take time proportional to the size of the trees they walk, and
these limits bound those sizes. SymPy, whose simplify has no such bound, runs only in a worker
process with a deadline (see workers.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExpressionLimits:
    max_length: int = 1000
    """characters in the text of one expression"""
    max_depth: int = 40
    """nesting: parentheses, function calls, signs and powers inside one another"""
    max_exponent: float = 1000.0
    """largest |a| in u^a when a is a constant"""
    max_variables: int = 20
    """different variables in one request"""
    max_result_nodes: int = 20_000
    """nodes in a derivative before it is simplified, and in all the steps together"""
    max_descent_work: int = 400_000
    """nodes a gradient descent evaluates: steps x (nodes of f + nodes of every partial
    derivative), about 1 us each; estimated before anything is derived as steps x (variables
    + 1) x nodes of f (descent.descent_work)"""


DEFAULT_EXPRESSION_LIMITS = ExpressionLimits()
