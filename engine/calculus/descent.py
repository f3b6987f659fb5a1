"""Gradient descent (and ascent) on an expression, as the textbook writes it:

    theta' = theta - eta grad f(theta)        descent
    theta' = theta + eta grad f(theta)        ascent

The gradient is the vector of the partial derivatives (rules.py), evaluated at each point.

Each step evaluates f and every partial derivative once, in time proportional to their nodes, so
the work is bounded before it starts: steps x (nodes of f + nodes of the gradient) must be at
most ExpressionLimits.max_descent_work. A request model can check the estimate
``descent_work(steps, variables, nodes of f)`` before anything is derived; gradient_descent
checks the exact count before its first step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from engine.calculus.errors import ExpressionLimitError
from engine.calculus.evaluate import evaluate
from engine.calculus.expr import Expr, unrestricted
from engine.calculus.limits import DEFAULT_EXPRESSION_LIMITS, ExpressionLimits
from engine.errors import DomainError, NonFiniteError


@dataclass(frozen=True)
class DescentPoint:
    """One point of the path: theta, f(theta) and grad f(theta), by variable."""

    point: dict[str, float]
    value: float
    gradient: dict[str, float]


def descent_work(steps: int, variables: int, nodes: int) -> int:
    """The work of a descent estimated from f alone, before anything is derived: steps x
    (variables + 1) x nodes of f, as if each partial derivative were as large as f."""
    return steps * (variables + 1) * nodes


def gradient_descent(
    expr: Expr,
    gradient: Mapping[str, Expr],
    start: Mapping[str, float],
    *,
    learning_rate: float,
    steps: int = 1,
    ascent: bool = False,
    at_zero: float = 1.0,
    limits: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS,
) -> tuple[DescentPoint, ...]:
    """The path theta_0 = start, theta_1, ..., theta_steps.

    gradient : the partial derivative of expr by each variable (the variables of the path)
    Raises ExpressionLimitError when the path would evaluate more than
    limits.max_descent_work nodes, DomainError when f or its gradient is not defined at the
    start, and NonFiniteError when the path leaves float64 (a learning rate too large makes it
    diverge).
    """
    # f is evaluated at every point, so a derivative's restriction to f's domain adds nothing
    gradient = {name: unrestricted(d) for name, d in gradient.items()}
    work = steps * (expr.size + sum(d.size for d in gradient.values()))
    if work > limits.max_descent_work:
        raise ExpressionLimitError(
            f"the descent would evaluate {work:,} nodes ({steps} steps x {expr.size} nodes of f "
            f"and {sum(d.size for d in gradient.values())} of its gradient), over the limit of "
            f"{limits.max_descent_work:,}: take fewer steps, or descend on a smaller expression"
        )
    sign = 1.0 if ascent else -1.0
    theta = {name: float(start[name]) for name in gradient}
    path = [_at(expr, gradient, theta, at_zero)]
    if not _finite(path[0]):
        raise DomainError(
            "start",
            f"{_where(theta)}: f or its gradient is not defined there (it is {_describe(path[0])})",
        )
    for k in range(1, steps + 1):
        previous = path[-1]
        theta = {
            name: value + sign * learning_rate * previous.gradient[name]
            for name, value in previous.point.items()
        }
        point = _at(expr, gradient, theta, at_zero)
        if not _finite(point):
            raise NonFiniteError(
                "path",
                None,
                f"step {k} reached {_where(theta)}, where f or its gradient is "
                f"{_describe(point)}: try a smaller learning_rate",
            )
        path.append(point)
    return tuple(path)


def _at(
    expr: Expr, gradient: Mapping[str, Expr], theta: dict[str, float], at_zero: float
) -> DescentPoint:
    return DescentPoint(
        point=theta,
        value=float(evaluate(expr, theta, at_zero=at_zero)),
        gradient={name: float(evaluate(d, theta, at_zero=at_zero)) for name, d in gradient.items()},
    )


def _finite(point: DescentPoint) -> bool:
    values = [point.value, *point.point.values(), *point.gradient.values()]
    return all(math.isfinite(v) for v in values)


def _where(theta: Mapping[str, float]) -> str:
    return ", ".join(f"{name} = {value:.6g}" for name, value in theta.items())


def _describe(point: DescentPoint) -> str:
    if any(math.isnan(v) for v in (point.value, *point.gradient.values())):
        return "undefined"
    return "infinite"
