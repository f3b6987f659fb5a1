"""POST /v1/derivatives, /v1/derivatives/grade and /v1/derivatives/descent over HTTP."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx
import numpy as np
import pytest

from schemas.derivatives import DerivativeResponse, DescentResponse
from tests.calculus_oracle import TABLE

pytestmark = pytest.mark.anyio


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body)


async def test_the_issue_example(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives", {"expression": "sin(x)*exp(x)", "point": {"x": 1}})
    assert r.status_code == 200
    body = DerivativeResponse.model_validate(r.json())
    (d,) = body.derivatives
    assert d.derivative.text == "cos(x)*exp(x) + sin(x)*exp(x)"
    assert d.derivative.latex == r"\cos\left(x\right) e^{x} + \sin\left(x\right) e^{x}"
    assert d.value == pytest.approx(math.e * (math.sin(1) + math.cos(1)), rel=1e-15)
    assert body.value == pytest.approx(math.e * math.sin(1), rel=1e-15)
    assert [(s.rule, s.depth) for s in d.steps] == [
        ("product rule", 0),
        ("table entry", 1),
        ("table entry", 1),
    ]
    assert d.steps[0].formula.text == "(f g)' = f' g + f g'"
    assert d.steps[1].table_entry is not None
    assert d.steps[1].table_entry.formula.text == "d/dx sin(x) = cos(x)"


async def test_partial_derivatives_and_the_gradient(client: httpx.AsyncClient) -> None:
    r = await post(
        client, "/v1/derivatives", {"expression": "log(x, 2) + x^3*y", "point": {"x": 2, "y": 3}}
    )
    body = DerivativeResponse.model_validate(r.json())
    assert body.variables == ["x", "y"]
    assert body.gradient.text == ["1/(x*ln(2)) + 3*x^2*y", "x^3"]
    assert body.gradient.value == pytest.approx([1 / (2 * math.log(2)) + 36, 8], rel=1e-15)
    assert body.gradient.latex.startswith(r"\nabla f = \left(")


async def test_variables_choose_and_order_the_partials(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives", {"expression": "x*y", "variables": ["y", "z"]})
    body = DerivativeResponse.model_validate(r.json())
    assert [(d.variable, d.derivative.text) for d in body.derivatives] == [("y", "x"), ("z", "0")]


async def test_a_constant_is_differentiated_by_x(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives", {"expression": "pi^2"})
    body = DerivativeResponse.model_validate(r.json())
    assert [(d.variable, d.derivative.text) for d in body.derivatives] == [("x", "0")]
    assert body.derivatives[0].steps[0].rule == "constant rule"


@pytest.mark.parametrize("name", TABLE)
async def test_every_table_entry_over_http(name: str, client: httpx.AsyncClient) -> None:
    """The value the service gives at random points, against the closed form."""
    entry = TABLE[name]
    for x in np.random.default_rng(len(name)).uniform(entry.low, entry.high, 3):
        r = await post(
            client, "/v1/derivatives", {"expression": entry.expression, "point": {"x": x}}
        )
        assert r.status_code == 200, r.text
        value = r.json()["derivatives"][0]["value"]
        assert value == pytest.approx(float(entry.derivative(np.array(x))), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("conventions", "expected"),
    [({}, 1.0), ({"relu_grad_at_zero": 0}, 0.0), ({"conventions": "pytorch"}, 0.0)],
)
async def test_relu_at_zero_follows_the_request(
    conventions: dict[str, Any], expected: float, client: httpx.AsyncClient
) -> None:
    body = {"expression": "relu(x)", "point": {"x": 0}, **conventions}
    r = await post(client, "/v1/derivatives", body)
    assert r.json()["derivatives"][0]["value"] == expected
    assert r.json()["conventions"] == {"relu_grad_at_zero": int(expected)}


@pytest.mark.parametrize(
    ("body", "loc", "type_", "message"),
    [
        ({"expression": "2x"}, ["body", "expression"], "expression_syntax", "column 2: missing"),
        ({"expression": "x", "point": {"y": 1}}, ["body"], "value_error", "no value for x"),
        ({"expression": "x", "point": {"x": 1, "y": 2}}, ["body"], "value_error", "gives y"),
        ({"expression": "x", "point": {"x": "1"}}, ["body", "point", "x"], "float_type", ""),
        ({"expression": "x", "variables": ["sin"]}, ["body", "variables", 0], "variable_name",
         "'sin' is not a variable name"),
        ({"expression": "x", "variables": ["x", "x"]}, ["body"], "value_error", "twice"),
        ({"expression": "ln(x)", "point": {"x": -1}}, ["body", "point"], "domain_error",
         "the expression is not defined at x = -1"),
        ({"expression": "1/x", "point": {"x": 0}}, ["body", "point"], "domain_error",
         "not defined at x = 0"),
        ({"expression": 3}, ["body", "expression"], "string_type", ""),
        ({"expression": "x", "extra": 1}, ["body", "extra"], "extra_forbidden", ""),
    ],
)  # fmt: skip
async def test_errors_say_what_and_where(
    body: dict[str, Any], loc: list[Any], type_: str, message: str, client: httpx.AsyncClient
) -> None:
    r = await post(client, "/v1/derivatives", body)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert (problem["loc"], problem["type"]) == (loc, type_)
    assert message in problem["msg"]


HOSTILE = [
    "9^9^9^9",
    "x^1e308",
    "x^(10^10)",
    "2^2^2^2^2^2",
    "__import__('os').system('true')",
    "x.__class__.__bases__",
    "().__class__",
    "exec('1')",
    "lambda: 1",
    "(" * 500 + "x" + ")" * 500,
    "sin(" * 200 + "x" + ")" * 200,
    "-" * 900 + "x",
    "x" + "^x" * 400,
    "x" * 1001,
    "x+" * 50_000 + "x",
    "1e999999999",
    "x\x00",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/v1/derivatives", "expression", {}),
        ("/v1/derivatives/grade", "function", {"answer": "1"}),
        ("/v1/derivatives/grade", "answer", {"function": "x"}),
        ("/v1/derivatives/descent", "expression", {"start": {"x": 1}, "learning_rate": 0.1}),
    ],
)
async def test_hostile_expressions_get_a_clear_422(
    text: str, path: str, field: str, body: dict[str, Any], client: httpx.AsyncClient
) -> None:
    r = await post(client, path, {**body, field: text})
    assert r.status_code == 422, r.text
    problems = r.json()["detail"]
    assert problems[0]["type"] in ("expression_syntax", "limit_exceeded", "value_error")
    assert len(r.content) < 2000  # the input is never echoed back


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/derivatives", {}),
        ("/v1/derivatives/grade", {"answer": "1"}),
        ("/v1/derivatives/descent", {"start": {"x": 1}, "learning_rate": 0.1}),
    ],
)
async def test_a_derivative_over_the_size_limit_is_a_422(
    path: str, body: dict[str, Any], client: httpx.AsyncClient
) -> None:
    field = "function" if path.endswith("grade") else "expression"
    product = "*".join(["x"] * 300)  # the product rule would give 300 terms of 300 factors
    r = await post(client, path, {**body, field: product})
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["type"] == "limit_exceeded"
    assert "more than 20000 nodes" in problem["msg"]


async def test_grade_accepts_an_equivalent_answer(client: httpx.AsyncClient) -> None:
    r = await post(
        client,
        "/v1/derivatives/grade",
        {"function": "x^2*sin(x)", "answer": "x*(x*cos(x) + 2*sin(x))", "name": "1a"},
    )
    assert r.status_code == 200
    report = r.json()
    assert (report["score"], report["max_score"]) == (1.0, 1.0)
    (item,) = report["items"]
    assert item["name"] == "1a"
    assert item["status"] == "passed"
    assert item["equivalent"] is True
    assert item["expected"]["text"] == "2*x*sin(x) + x^2*cos(x)"
    assert item["feedback"].startswith("Correct: x*(x*cos(x) + 2*sin(x)) equals")


async def test_grade_rejects_a_wrong_answer_with_a_point_and_the_steps(
    client: httpx.AsyncClient,
) -> None:
    r = await post(
        client,
        "/v1/derivatives/grade",
        {"function": "sin(x^2)", "answer": "cos(x^2)", "domain": {"x": [0.5, 2]}, "max_score": 4},
    )
    report = r.json()
    assert (report["score"], report["max_score"]) == (0.0, 4.0)
    (item,) = report["items"]
    assert item["status"] == "failed"
    c = item["counterexample"]
    x = c["point"]["x"]
    assert 0.5 <= x <= 2
    assert c["expected"] == pytest.approx(2 * x * math.cos(x**2), rel=1e-12)
    assert c["answer"] == pytest.approx(math.cos(x**2), rel=1e-12)
    assert [s["rule"] for s in item["steps"]] == ["chain rule", "table entry"]
    assert f"at x = {x:.6g}, cos(x^2) is {math.cos(x**2):.6g}" in item["feedback"]
    assert "chain rule (sin): d/dx sin(x^2) = 2*x*cos(x^2)" in item["feedback"]


@pytest.mark.parametrize("answer", ["2*x*sin(x) + x^2*cos(x)", "2*x*cos(x)"])
async def test_grade_reports_for_gradescope_and_prairielearn(
    answer: str, client: httpx.AsyncClient
) -> None:
    body = {"function": "x^2*sin(x)", "answer": answer, "max_score": 2}
    right = answer.startswith("2*x*sin")
    gradescope = await post(client, "/v1/derivatives/grade", {**body, "format": "gradescope"})
    (test,) = gradescope.json()["tests"]
    assert gradescope.json()["score"] == (2.0 if right else 0.0)
    assert (test["status"], test["max_score"]) == ("passed" if right else "failed", 2.0)
    prairie = await post(client, "/v1/derivatives/grade", {**body, "format": "prairielearn"})
    assert prairie.json()["score"] == (1.0 if right else 0.0)
    assert prairie.json()["gradable"] is True
    (test,) = prairie.json()["tests"]
    assert test["message"].startswith("Correct" if right else "Not equivalent")


async def test_grade_needs_the_variable_when_there_are_several(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives/grade", {"function": "x*y", "answer": "y"})
    assert r.status_code == 422
    assert "say which one" in r.json()["detail"][0]["msg"]
    r = await post(
        client, "/v1/derivatives/grade", {"function": "x*y", "answer": "x", "variable": "y"}
    )
    assert r.json()["items"][0]["status"] == "passed"


async def test_grade_refuses_an_empty_domain_interval(client: httpx.AsyncClient) -> None:
    r = await post(
        client, "/v1/derivatives/grade", {"function": "x", "answer": "1", "domain": {"x": [1, 1]}}
    )
    assert r.status_code == 422
    assert "low < high" in r.json()["detail"][0]["msg"]


async def test_descent_follows_the_textbook(client: httpx.AsyncClient) -> None:
    r = await post(
        client,
        "/v1/derivatives/descent",
        {"expression": "x^2 + 3*y^2", "start": {"x": 1, "y": 1}, "learning_rate": 0.1, "steps": 2},
    )
    body = DescentResponse.model_validate(r.json())
    assert [g.derivative.text for g in body.gradient] == ["2*x", "6*y"]
    # theta' = theta - eta grad f: x' = x (1 - 0.2), y' = y (1 - 0.6)
    assert [p.point for p in body.path] == [
        {"x": 1.0, "y": 1.0},
        {"x": pytest.approx(0.8), "y": pytest.approx(0.4)},
        {"x": pytest.approx(0.64), "y": pytest.approx(0.16)},
    ]
    assert body.path[0].gradient == {"x": 2.0, "y": 6.0}
    assert body.value == pytest.approx(0.64**2 + 3 * 0.16**2)


async def test_ascent_climbs(client: httpx.AsyncClient) -> None:
    r = await post(
        client,
        "/v1/derivatives/descent",
        {"expression": "-(x - 3)^2", "start": {"x": 0}, "learning_rate": 0.25, "ascent": True},
    )
    assert r.json()["point"] == {"x": 1.5}  # 0 + 0.25 * 6


async def test_descent_that_diverges_is_a_422(client: httpx.AsyncClient) -> None:
    r = await post(
        client,
        "/v1/derivatives/descent",
        {"expression": "x^4", "start": {"x": 10}, "learning_rate": 1e10, "steps": 50},
    )
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["type"] == "non_finite_result"
    assert "try a smaller learning_rate" in problem["msg"]


async def test_a_body_that_is_not_json_is_refused(client: httpx.AsyncClient) -> None:
    text = await client.post(
        "/v1/derivatives", content=b'{"expression": "x"}', headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    broken = await client.post(
        "/v1/derivatives", content=b'{"expression": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["detail"][0]["type"] == "json_invalid"


async def test_the_openapi_document_lists_the_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/derivatives", "/v1/derivatives/grade", "/v1/derivatives/descent"} <= set(paths)


async def test_a_field_error_names_its_place_in_the_message(client: httpx.AsyncClient) -> None:
    """As on the network endpoints: the path leads the message (FastAPI parses these bodies)."""
    response = await client.post("/v1/derivatives", json={"expression": "x^"})
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "expression"]
    assert problem["msg"].startswith("expression: column 3")


# Issue 14: the tables' notation, real roots, exact verdicts; issue 12: bounded descent ------


async def test_a_table_form_answer_is_graded_right(client: httpx.AsyncClient) -> None:
    """OpenStax's table, entry 26: d/dx tanh x = sech^2 x (the public case 01)."""
    r = await post(client, "/v1/derivatives/grade", {"function": "tanh(x)", "answer": "sech(x)^2"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["score"] == 1.0
    (item,) = report["items"]
    assert item["equivalent"] is True
    assert item["verdict"] == "equivalent"


@pytest.mark.parametrize(
    ("expression", "x", "value", "slope"),
    [
        ("ln(abs(x))", -2, math.log(2), -0.5),  # the public case 02, entry 22
        ("ln|x|", -2, math.log(2), -0.5),
        ("x^(1/3)", -8, -2.0, 1 / 12),  # the public case 03: the real cube root
        ("x^(2/3)", -8, 4.0, -1 / 3),
        ("cbrt(x)", -8, -2.0, 1 / 12),
        ("arsinh(x)", 1, math.log(1 + math.sqrt(2)), 1 / math.sqrt(2)),
        ("lg(x)", 100, 2.0, 1 / (100 * math.log(10))),
    ],
)
async def test_new_names_and_real_roots_at_a_point(
    expression: str, x: float, value: float, slope: float, client: httpx.AsyncClient
) -> None:
    r = await post(client, "/v1/derivatives", {"expression": expression, "point": {"x": x}})
    assert r.status_code == 200, r.text
    body = DerivativeResponse.model_validate(r.json())
    assert body.value == pytest.approx(value, rel=1e-15)
    assert body.derivatives[0].value == pytest.approx(slope, rel=1e-15)


async def test_a_rational_power_differentiates_to_a_root(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives", {"expression": "x^(1/2)"})
    (d,) = DerivativeResponse.model_validate(r.json()).derivatives
    assert d.derivative.text == "1/(2*sqrt(x))"
    assert d.derivative.latex == r"\frac{1}{2 \sqrt{x}}"


async def test_a_literal_chain_rule_answer_is_right_where_the_function_exists(
    client: httpx.AsyncClient,
) -> None:
    body = {"function": "sqrt(x)^2", "answer": "2*sqrt(x)*1/(2*sqrt(x))"}
    (item,) = (await post(client, "/v1/derivatives/grade", body)).json()["items"]
    assert item["status"] == "passed", item["feedback"]
    assert item["feedback"].startswith("Correct: 2*sqrt(x)*1/(2*sqrt(x)) equals")


async def test_a_proven_difference_is_graded_wrong_with_numbers_that_differ(
    client: httpx.AsyncClient,
) -> None:
    body = {"function": "x^3", "answer": "3*x^2 + 0.0000001"}
    report = (await post(client, "/v1/derivatives/grade", body)).json()
    (item,) = report["items"]
    assert report["score"] == 0.0
    assert (item["status"], item["verdict"], item["symbolic"]) == (
        "failed",
        "different",
        "different",
    )
    assert item["answer"]["text"] == "3*x^2 + 0.0000001"
    assert item["feedback"].startswith("Not equivalent: at x = ")
    assert "SymPy proves they differ" in item["feedback"]
    assert "Correct" not in item["feedback"]
    c = item["counterexample"]
    shown = re.search(r"3\*x\^2 \+ 0\.0000001 is (\S+) but .* is (\S+) \(", item["feedback"])
    assert shown is not None
    assert shown.group(1) != shown.group(2)  # the feedback shows the digits where they differ
    assert float(shown.group(1)) == pytest.approx(c["answer"], rel=1e-6)


@pytest.mark.parametrize(
    ("rule", "status", "score", "opening"),
    [
        ({}, "passed", 1.0, "Right to the 7 significant digits written, not exactly: at x = "),
        ({"min_significant_digits": 8}, "failed", 0.0, "Not equivalent: at x = "),
        ({"min_significant_digits": None}, "failed", 0.0, "Not equivalent: at x = "),
    ],
)
async def test_decimals_right_to_their_digits_follow_the_instructors_rule(
    rule: dict[str, Any], status: str, score: float, opening: str, client: httpx.AsyncClient
) -> None:
    body = {"function": "2^x", "answer": "0.6931472*2^x", **rule}
    (item,) = (await post(client, "/v1/derivatives/grade", body)).json()["items"]
    assert (item["status"], item["score"], item["verdict"]) == (status, score, "rounded")
    assert item["rounding"] == {"decimals": ["0.6931472"], "significant_digits": 7}
    assert item["feedback"].startswith(opening)
    assert "0.6931472*2^x is" in item["feedback"]  # as typed
    assert "433217" not in r_text(item)
    assert "Correct" not in item["feedback"]


def r_text(item: dict[str, Any]) -> str:
    return json.dumps(item)


async def test_one_point_is_counted_in_the_singular(client: httpx.AsyncClient) -> None:
    body = {"function": "x^2", "answer": "2*x", "samples": 1}
    (item,) = (await post(client, "/v1/derivatives/grade", body)).json()["items"]
    assert "checked at 1 random point" in item["feedback"]
    assert "1 random points" not in item["feedback"]


async def test_a_refused_name_suggests_the_accepted_spelling(client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/derivatives", {"expression": "Tanh(x)"})
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["type"] == "expression_syntax"
    assert "did you mean tanh?" in problem["msg"]


ATTACK = (
    "+".join(f"sin(x{i}*x{i + 1})*cos(x{i}+x{i + 1})" for i in range(1, 20, 2))
    + "+"
    + "*".join(f"x{i}" for i in range(1, 18))
)
"""Issue 12's heavy small request: 20 variables in about 300 characters."""


async def test_a_descent_over_its_work_budget_is_refused_before_it_starts(
    client: httpx.AsyncClient,
) -> None:
    assert 290 <= len(ATTACK) <= 310
    start = {f"x{i}": 0.1 for i in range(1, 21)}
    body = {"expression": ATTACK, "start": start, "learning_rate": 0.001, "steps": 1000}
    r = await post(client, "/v1/derivatives/descent", body)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["type"] == "value_error"
    assert "over the limit of 400,000" in problem["msg"]
    assert "steps x (variables + 1) x nodes of the expression = 1000 x 21 x" in problem["msg"]
    assert "take at most" in problem["msg"]
    most = int(re.search(r"take at most (\d+) steps", problem["msg"]).group(1))  # type: ignore[union-attr]
    r = await post(client, "/v1/derivatives/descent", {**body, "steps": most})
    assert r.status_code == 200, r.text
    assert len(r.json()["path"]) == most + 1


async def test_a_descent_whose_gradient_is_larger_than_estimated_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """sin(sin(...(x))) is small, its chain-rule derivative is not: the engine counts it."""
    nested = "sin(" * 30 + "x" + ")" * 30
    body = {"expression": nested, "start": {"x": 0.5}, "learning_rate": 0.01, "steps": 1000}
    r = await post(client, "/v1/derivatives/descent", body)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["type"] == "limit_exceeded"
    assert "over the limit of 400,000" in problem["msg"]
    r = await post(client, "/v1/derivatives/descent", {**body, "steps": 100})
    assert r.status_code == 200


async def test_a_long_descent_within_the_budget_runs(client: httpx.AsyncClient) -> None:
    body = {
        "expression": "(1 - x)^2 + 100*(y - x^2)^2",
        "start": {"x": -1, "y": 1},
        "learning_rate": 0.001,
        "steps": 1000,
    }
    r = await post(client, "/v1/derivatives/descent", body)
    assert r.status_code == 200, r.text
    path = DescentResponse.model_validate(r.json()).path
    assert len(path) == 1001
    assert path[-1].value < path[0].value
