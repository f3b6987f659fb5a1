"""The /v1/derivatives requests and answers, and the answers' assembly from engine results.

An expression arrives as text and is parsed while the request is validated, so that a request
that reaches the engine holds expression trees, and a parse error is a 422 like any other
invalid field: {"loc": ["body", "expression"], "msg": "column 8: unknown name 'sinx' ...",
"type": "expression_syntax"}.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema, StrictBool, model_validator
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import Self  # typing.Self from Python 3.11 on

import engine
from engine import calculus
from schemas.arrays import FiniteFloat, PositiveFloat
from schemas.gradebook import GradedItem, ReportFormat, report

ZeroOrOne = Annotated[int, Field(strict=True, ge=0, le=1)]

MAX_STEPS = 1000
MAX_SAMPLES = 200
MAX_DESCENT_WORK = calculus.DEFAULT_EXPRESSION_LIMITS.max_descent_work
DEFAULT_MIN_DIGITS = 6
"""An answer right only to the digits of its decimals earns the points from this many
significant digits on, by default: 0.693147*2^x for d/dx 2^x does, 0.6931*2^x does not."""


def _parse(text: str) -> calculus.Expr:
    try:
        return calculus.parse(text)
    except calculus.ExpressionError as exc:
        raise PydanticCustomError(exc.kind, "{message}", {"message": str(exc)}) from None


Expression = Annotated[
    calculus.Expr,
    GetPydanticSchema(
        lambda _source, handler: core_schema.no_info_after_validator_function(
            _parse, handler(Annotated[str, Field(strict=True)])
        )
    ),
]
"""An expression of the grammar (docs/derivatives.md), parsed into an expression tree."""


def _variable(name: str) -> str:
    if not calculus.is_variable_name(name):
        raise PydanticCustomError(
            "variable_name",
            "'{name}' is not a variable name: one letter with an optional subscript (x, y2, "
            "w_1) or a Greek letter's name (theta), and not e, pi or a function's name",
            {"name": name[:40]},
        )
    return name


VariableName = Annotated[
    str,
    GetPydanticSchema(
        lambda _source, handler: core_schema.no_info_after_validator_function(
            _variable, handler(Annotated[str, Field(strict=True, max_length=40)])
        )
    ),
]

Point = Annotated[
    dict[VariableName, FiniteFloat],
    Field(max_length=calculus.DEFAULT_EXPRESSION_LIMITS.max_variables),
]


def ordered(names: Iterable[str]) -> list[str]:
    """Variable names in natural order: x, x2, x10, y."""

    def key(name: str) -> list[tuple[int, str]]:
        return [
            (int(part), "") if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name)
        ]

    return sorted(set(names), key=key)


class CalculusRequest(BaseModel):
    """What the /v1/derivatives requests share: the convention for relu'(0)."""

    model_config = ConfigDict(extra="forbid")

    conventions: Literal["textbook", "pytorch"] = Field(
        default="textbook", description="the preset: textbook (relu'(0) = 1) or pytorch (0)"
    )
    relu_grad_at_zero: ZeroOrOne | None = Field(
        default=None,
        description="overrides the preset's relu'(0), which is also heaviside(0)",
    )

    @property
    def at_zero(self) -> float:
        """relu'(0) = heaviside(0) under the request's conventions."""
        preset = engine.PRESETS[engine.Preset(self.conventions)]
        return float(
            preset.relu_grad_at_zero if self.relu_grad_at_zero is None else self.relu_grad_at_zero
        )


def _check_point(point: dict[str, float], variables: Iterable[str], field: str) -> None:
    needed = set(variables)
    missing = ordered(needed - point.keys())
    extra = ordered(point.keys() - needed)
    if missing:
        raise ValueError(f"{field} has no value for {', '.join(missing)}")
    if extra:
        raise ValueError(
            f"{field} gives {', '.join(extra)}, which is not a variable here "
            f"(the variables are {', '.join(ordered(needed)) or 'none'})"
        )


class DerivativeRequest(CalculusRequest):
    """POST /v1/derivatives."""

    expression: Expression = Field(examples=["sin(x)*exp(x)", "log(x, 2) + x^3*y"])
    variables: list[VariableName] | None = Field(
        default=None,
        min_length=1,
        max_length=calculus.DEFAULT_EXPRESSION_LIMITS.max_variables,
        description="the variables to differentiate by, in this order (default: every "
        "variable of the expression in natural order, or x when it has none)",
    )
    point: Point | None = Field(
        default=None,
        description="a value for every variable, to evaluate the function and its "
        "derivatives there",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.variables is not None and len(set(self.variables)) != len(self.variables):
            raise ValueError("variables names a variable twice")
        if self.point is not None:
            _check_point(self.point, self.all_variables, "point")
        return self

    @property
    def by(self) -> list[str]:
        """The variables to differentiate by."""
        if self.variables is not None:
            return self.variables
        return ordered(self.expression.variables) or ["x"]

    @property
    def all_variables(self) -> list[str]:
        return ordered({*self.expression.variables, *self.by})


Interval = Annotated[tuple[FiniteFloat, FiniteFloat], Field(description="[low, high]")]


class GradeRequest(CalculusRequest):
    """POST /v1/derivatives/grade."""

    function: Expression = Field(examples=["x^2*sin(x)"])
    answer: Expression = Field(
        description="the student's derivative", examples=["2*x*sin(x) + x^2*cos(x)"]
    )
    variable: VariableName | None = Field(
        default=None,
        description="the variable to differentiate by (default: the function's only variable, "
        "or x when it has none)",
    )
    domain: Annotated[
        dict[VariableName, Interval],
        Field(max_length=calculus.DEFAULT_EXPRESSION_LIMITS.max_variables),
    ] = Field(
        default_factory=dict,
        description="[low, high] of each variable for the sample points; "
        f"[{calculus.equivalence.DEFAULT_INTERVAL[0]:g}, "
        f"{calculus.equivalence.DEFAULT_INTERVAL[1]:g}] for a variable not given",
    )
    samples: Annotated[int, Field(strict=True, ge=1, le=MAX_SAMPLES)] = Field(
        default=32, description="how many points to compare the answer at"
    )
    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] = Field(
        default=0, description="seed of the random sample points, so that a grade is reproducible"
    )
    name: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="the graded item's name (default: d/dx of the function)"
    )
    max_score: PositiveFloat = Field(default=1.0, description="the score of a right answer")
    format: ReportFormat = Field(default="native", description="native, gradescope or prairielearn")
    min_significant_digits: Annotated[int, Field(strict=True, ge=1, le=40)] | None = Field(
        default=DEFAULT_MIN_DIGITS,
        description="an answer that is right only to the digits of the decimals it was typed "
        "with (0.6931472*2^x for d/dx 2^x: SymPy proves it differs from 2^x*ln(2)) earns the "
        "points when each decimal that rounds has at least this many significant digits; "
        "null: only an exactly right answer earns them. Either way the feedback says so.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        variables = ordered(self.function.variables)
        if self.variable is None and len(variables) > 1:
            raise ValueError(
                f"the function has the variables {', '.join(variables)}: say which one to "
                "differentiate by with variable"
            )
        for name, (low, high) in self.domain.items():
            if not low < high:
                raise ValueError(f"domain.{name} must be [low, high] with low < high")
        return self

    @property
    def by(self) -> str:
        if self.variable is not None:
            return self.variable
        return next(iter(ordered(self.function.variables)), "x")


class DescentRequest(CalculusRequest):
    """POST /v1/derivatives/descent."""

    expression: Expression = Field(examples=["x^2 + 3*y^2"])
    start: Point = Field(description="theta_0: a value for every variable of the expression")
    learning_rate: PositiveFloat = Field(description="eta in theta' = theta - eta grad f")
    steps: Annotated[int, Field(strict=True, ge=1, le=MAX_STEPS)] = Field(
        default=1, description="how many steps to take"
    )
    ascent: StrictBool = Field(default=False, description="theta' = theta + eta grad f instead")

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_point(self.start, self.variables, "start")
        variables, nodes = len(self.variables), self.expression.size
        work = calculus.descent_work(self.steps, variables, nodes)
        if work > MAX_DESCENT_WORK:
            most = max(1, MAX_DESCENT_WORK // calculus.descent_work(1, variables, nodes))
            raise ValueError(
                f"the descent is over its work limit: steps x (variables + 1) x nodes of the "
                f"expression = {self.steps} x {variables + 1} x {nodes} = {work:,}, over the "
                f"limit of {MAX_DESCENT_WORK:,}; take at most {most} steps, or descend on a "
                "smaller expression"
            )
        return self

    @property
    def variables(self) -> list[str]:
        return ordered(self.expression.variables)


# Answers ------------------------------------------------------------------------------------


class Rendered(BaseModel):
    text: str = Field(description="in the request grammar: it can be sent back as an expression")
    latex: str


class TableEntryOut(BaseModel):
    name: str = Field(description='the entry: "x^a", "sin", "log_a(x)" ...')
    formula: Rendered
    note: str


class StepOut(BaseModel):
    rule: Literal[
        "constant rule",
        "sum rule",
        "constant multiple rule",
        "product rule",
        "quotient rule",
        "chain rule",
        "general power rule",
        "change of base",
        "table entry",
    ]
    formula: Rendered = Field(description="the rule as the textbook writes it")
    table_entry: TableEntryOut | None = Field(
        description="the table entry used: at a leaf, or the outer function of the chain rule"
    )
    expression: Rendered = Field(description="what this step differentiates")
    derivative: Rendered = Field(description="its derivative")
    detail: str = Field(description='how the rule applies here: "f = sin(x), g = exp(x)"')
    depth: int = Field(description="0 for the whole expression, +1 for each rule it needs")


class PartialDerivative(BaseModel):
    variable: str
    derivative: Rendered
    value: float | None = Field(description="at the point, when one was given")
    steps: list[StepOut] = Field(description="the rules applied, in the order of the textbook")


class Gradient(BaseModel):
    text: list[str] = Field(description="the partial derivatives, in the order of variables")
    latex: str
    value: list[float] | None


class DerivativeResponse(BaseModel):
    expression: Rendered = Field(description="the expression as it was read")
    variables: list[str] = Field(description="the variables differentiated by")
    value: float | None = Field(description="the expression at the point, when one was given")
    derivatives: list[PartialDerivative]
    gradient: Gradient
    conventions: dict[str, int]


class DescentPointOut(BaseModel):
    point: dict[str, float]
    value: float
    gradient: dict[str, float]


class PartialDerivativeFormula(BaseModel):
    variable: str
    derivative: Rendered


class DescentResponse(BaseModel):
    gradient: list[PartialDerivativeFormula] = Field(description="the partial derivatives")
    path: list[DescentPointOut] = Field(description="theta_0 (the start) to theta_steps")
    point: dict[str, float] = Field(description="the last point")
    value: float = Field(description="f at the last point")


def rendered(expr: calculus.Expr) -> dict[str, str]:
    return {"text": calculus.to_text(expr), "latex": calculus.to_latex(expr)}


def _entry(entry: calculus.TableEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "name": entry.name,
        "formula": {"text": entry.text, "latex": entry.latex},
        "note": entry.note,
    }


def steps_payload(derivation: calculus.Derivation) -> list[dict[str, Any]]:
    return [
        {
            "rule": step.rule.value,
            "formula": _formula(step),
            "table_entry": _entry(step.entry),
            "expression": rendered(step.expression),
            "derivative": rendered(step.derivative),
            "detail": step.detail,
            "depth": step.depth,
        }
        for step in derivation.steps
    ]


def _formula(step: calculus.Step) -> dict[str, str]:
    if step.rule is calculus.Rule.TABLE and step.entry is not None:
        return {"text": step.entry.text, "latex": step.entry.latex}
    text, latex = calculus.RULE_FORMULAS[step.rule]
    return {"text": text, "latex": latex}


def derivative_payload(
    req: DerivativeRequest,
    derivations: list[calculus.Derivation],
    values: list[float] | None,
    value: float | None,
) -> dict[str, Any]:
    partials = [
        {
            "variable": d.variable,
            "derivative": rendered(d.derivative),
            "value": None if values is None else values[i],
            "steps": steps_payload(d),
        }
        for i, d in enumerate(derivations)
    ]
    latex = ", ".join(calculus.to_latex(d.derivative) for d in derivations)
    return {
        "expression": rendered(req.expression),
        "variables": [d.variable for d in derivations],
        "value": value,
        "derivatives": partials,
        "gradient": {
            "text": [calculus.to_text(d.derivative) for d in derivations],
            "latex": rf"\nabla f = \left({latex}\right)",
            "value": values,
        },
        "conventions": {"relu_grad_at_zero": int(req.at_zero)},
    }


def descent_payload(
    derivations: list[calculus.Derivation], path: tuple[calculus.DescentPoint, ...]
) -> dict[str, Any]:
    return {
        "gradient": [
            {"variable": d.variable, "derivative": rendered(d.derivative)} for d in derivations
        ],
        "path": [{"point": p.point, "value": p.value, "gradient": p.gradient} for p in path],
        "point": path[-1].point,
        "value": path[-1].value,
    }


# Grading ------------------------------------------------------------------------------------


def steps_text(derivation: calculus.Derivation) -> str:
    """The steps as indented lines, for feedback that is plain text."""
    lines = []
    for step in derivation.steps:
        name = step.rule.value
        if step.entry is not None and step.rule is not calculus.Rule.CONSTANT:
            name += f" ({step.entry.name})"
        line = (
            f"{'  ' * step.depth}{name}: d/d{derivation.variable} "
            f"{calculus.to_text(step.expression)} = {calculus.to_text(step.derivative)}"
        )
        lines.append(line + (f"   [{step.detail}]" if step.detail else ""))
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _numbers(first: float, second: float) -> tuple[str, str]:
    """Two numbers with the fewest significant digits (at least 6) that tell them apart:
    12.0000001 and 12, not 12 and 12."""
    for digits in range(6, 18):
        shown = f"{first:.{digits}g}", f"{second:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return f"{first:.17g}", f"{second:.17g}"


Verdict = Literal["equivalent", "rounded", "different"]


def _verdict(verdict: calculus.Equivalence) -> Verdict:
    if verdict.equivalent:
        return "equivalent"
    return "different" if verdict.rounding is None else "rounded"


def graded_item(
    req: GradeRequest, derivation: calculus.Derivation, verdict: calculus.Equivalence
) -> GradedItem:
    x = derivation.variable
    function = calculus.to_text(req.function)
    expected = calculus.to_text(derivation.derivative)
    answer = calculus.to_text(req.answer)
    name = req.name or f"d/d{x} ({function})"
    accepted = verdict.accepted(req.min_significant_digits)
    if verdict.equivalent:
        feedback = f"Correct: {answer} equals d/d{x} ({function}) = {expected} ({verdict.method})."
    else:
        difference = _difference(verdict, x, function, expected, answer)
        if verdict.rounding is None:
            feedback = f"Not equivalent: {difference}."
        else:
            feedback = _rounded_feedback(
                verdict.rounding, req.min_significant_digits, accepted, difference
            )
        if not accepted:
            feedback += f"\nExpected, rule by rule:\n{steps_text(derivation)}"
    counterexample = verdict.counterexample
    rounding = verdict.rounding
    details = {
        "equivalent": verdict.equivalent,
        "verdict": _verdict(verdict),
        "expected": rendered(derivation.derivative),
        "answer": rendered(req.answer),
        "method": verdict.method,
        "symbolic": verdict.symbolic,
        "points_checked": verdict.points_checked,
        "largest_difference": verdict.largest_difference,
        "counterexample": None
        if counterexample is None
        else {
            "point": counterexample.point,
            "expected": counterexample.expected,
            "answer": counterexample.answer,
        },
        "rounding": None
        if rounding is None
        else {"decimals": list(rounding.decimals), "significant_digits": rounding.digits},
        "steps": steps_payload(derivation),
    }
    return GradedItem(
        name=name,
        status="passed" if accepted else "failed",
        score=req.max_score if accepted else 0.0,
        max_score=req.max_score,
        feedback=feedback,
        details=details,
    )


def _rounded_feedback(
    rounding: calculus.Rounding, min_digits: int | None, accepted: bool, difference: str
) -> str:
    digits = f"{rounding.digits} significant digit" + ("" if rounding.digits == 1 else "s")
    rounded = f"{', '.join(rounding.decimals)} {'is' if len(rounding.decimals) == 1 else 'are'}"
    if accepted:
        return (
            f"Right to the {digits} written, not exactly: {difference}. {rounded} rounded, and "
            f"this item accepts answers right to {min_digits} significant digits or more."
        )
    rule = (
        "this item accepts only exact answers"
        if min_digits is None
        else f"this item needs at least {min_digits} significant digits"
    )
    return (
        f"Not equivalent: {difference}. It is right only to the {digits} written ({rounded} "
        f"rounded), and {rule}."
    )


def _difference(
    verdict: calculus.Equivalence, x: str, function: str, expected: str, answer: str
) -> str:
    """Where the answer differs: "at x = 1.2, A is 1 but d/dx (f) = E is 2 (how it was found)"."""
    c = verdict.counterexample
    assert c is not None, "an answer that is not equivalent has a counterexample"
    where = ", ".join(f"{name} = {_number(v)}" for name, v in c.point.items()) or "every point"
    if c.answer is None or not math.isfinite(c.answer):
        got, want = "not defined", _number(c.expected)
    else:
        got, want = _numbers(c.answer, c.expected)
    return (
        f"at {where}, {answer} is {got} but d/d{x} ({function}) = {expected} is {want} "
        f"({verdict.method})"
    )


def grade_payload(
    req: GradeRequest, derivation: calculus.Derivation, verdict: calculus.Equivalence
) -> dict[str, Any]:
    return report([graded_item(req, derivation, verdict)], req.format)
