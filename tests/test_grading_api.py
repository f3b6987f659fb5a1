"""POST /v1/grade and /v1/grade/batch: scores, partial credit, formats, feedback and errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from schemas import SPEC_EXAMPLE
from tests.grading_oracle import Student, solve

pytestmark = pytest.mark.anyio

SCHEMAS = Path(__file__).parent / "schemas"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


GRADESCOPE = validator("gradescope_results.schema.json")
PRAIRIELEARN = validator("prairielearn_results.schema.json")

CORRECT = solve(SPEC_EXAMPLE, Student())


async def post_grade(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/grade", json={"problem": SPEC_EXAMPLE, **body})


async def grade(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await post_grade(client, **body)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


# Full marks, in every format --------------------------------------------------------------------


async def test_a_correct_answer_gets_full_marks_natively(client: httpx.AsyncClient) -> None:
    report = await grade(client, submission=CORRECT)
    assert len(report["items"]) == 2 + 2 * 7
    assert report["score"] == report["max_score"] == 16.0
    assert all(item["status"] == "passed" for item in report["items"])
    assert report["summary"] == "16 of 16 items correct, score 16 / 16"


async def test_a_correct_answer_gets_full_marks_on_gradescope(client: httpx.AsyncClient) -> None:
    results = await grade(client, submission=CORRECT, format="gradescope")
    GRADESCOPE.validate(results)
    assert results["score"] == sum(test["max_score"] for test in results["tests"]) == 16.0
    assert {test["status"] for test in results["tests"]} == {"passed"}


async def test_a_correct_answer_gets_full_marks_on_prairielearn(client: httpx.AsyncClient) -> None:
    results = await grade(client, submission=CORRECT, format="prairielearn")
    PRAIRIELEARN.validate(results)
    assert results["gradable"] is True
    assert results["score"] == 1.0
    assert all(test["points"] == test["max_points"] for test in results["tests"])


async def test_answers_rounded_to_4_significant_figures_pass(client: httpx.AsyncClient) -> None:
    def rounded(value: Any) -> Any:
        if isinstance(value, list):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return float(f"{value:.4g}")

    report = await grade(client, submission=rounded(CORRECT))
    assert report["score"] == report["max_score"]


async def test_the_schemas_reject_what_the_specifications_do_not_allow() -> None:
    """The schemas can fail: a wrong visibility, a score over 1, a test without points."""
    bad_gradescope = {"score": 1.0, "tests": [{"name": "x", "visibility": "students"}]}
    bad_prairielearn = {"gradable": True, "score": 1.5}
    assert not GRADESCOPE.is_valid(bad_gradescope)
    assert not GRADESCOPE.is_valid({"output": "no score anywhere"})
    assert not PRAIRIELEARN.is_valid(bad_prairielearn)
    assert not PRAIRIELEARN.is_valid({"score": 0.5, "tests": [{"name": "no points"}]})
    assert PRAIRIELEARN.is_valid({"gradable": False, "format_errors": ["not JSON"]})


# Partial credit and points ------------------------------------------------------------------------


def wrong_entries(submission: dict[str, Any]) -> dict[str, Any]:
    """Two of the three layer 1 deltas off, and the loss off."""
    changed = copy.deepcopy(submission)
    changed["loss"] *= 1.5
    deltas = changed["layers"][0]["deltas"][0]
    deltas[0] += 1.0
    deltas[2] += 1.0
    return changed


async def test_partial_credit_is_the_share_of_entries_within_tolerance(
    client: httpx.AsyncClient,
) -> None:
    report = await grade(
        client,
        submission=wrong_entries(CORRECT),
        partial_credit=True,
        points={"quantities": {"deltas": 3}},
    )
    items = {item["id"]: item for item in report["items"]}
    deltas = items["layers[0].deltas"]
    assert deltas["status"] == "failed"
    assert deltas["entries_within_tolerance"] == 1
    assert deltas["score"] == pytest.approx(1.0)  # 3 points x 1/3
    assert items["loss"]["score"] == 0.0
    assert report["score"] == pytest.approx(sum(item["score"] for item in report["items"]))
    assert report["max_score"] == 14 + 2 * 3


async def test_without_partial_credit_a_failed_item_earns_nothing(
    client: httpx.AsyncClient,
) -> None:
    report = await grade(client, submission=wrong_entries(CORRECT))
    deltas = next(item for item in report["items"] if item["id"] == "layers[0].deltas")
    assert deltas["score"] == 0.0
    assert report["score"] == 14.0


async def test_partial_credit_adds_up_in_every_format(client: httpx.AsyncClient) -> None:
    body = {"submission": wrong_entries(CORRECT), "partial_credit": True}
    native = await grade(client, **body)
    gradescope = await grade(client, **body, format="gradescope")
    prairielearn = await grade(client, **body, format="prairielearn")
    GRADESCOPE.validate(gradescope)
    PRAIRIELEARN.validate(prairielearn)
    total = sum(item["score"] for item in native["items"])
    assert native["score"] == pytest.approx(total)
    assert gradescope["score"] == pytest.approx(sum(t["score"] for t in gradescope["tests"]))
    assert gradescope["score"] == pytest.approx(total)
    assert prairielearn["score"] == pytest.approx(total / native["max_score"])
    assert sum(t["points"] for t in prairielearn["tests"]) == pytest.approx(total)


async def test_points_come_from_the_item_then_the_quantity_then_the_layer(
    client: httpx.AsyncClient,
) -> None:
    report = await grade(
        client,
        submission=CORRECT,
        quantities=["loss", "deltas", "weight_gradients"],
        points={
            "default": 0.5,
            "layers": [1, 2],
            "quantities": {"weight_gradients": 4},
            "items": {"layers[1].deltas": 10},
        },
    )
    points = {item["id"]: item["max_score"] for item in report["items"]}
    assert points == {
        "loss": 0.5,
        "layers[0].deltas": 1,
        "layers[0].weight_gradients": 4,
        "layers[1].deltas": 10,
        "layers[1].weight_gradients": 4,
    }
    assert report["score"] == report["max_score"] == 19.5


# Feedback ----------------------------------------------------------------------------------------


async def test_a_missing_item_fails_with_the_shape_expected(client: httpx.AsyncClient) -> None:
    report = await grade(
        client, submission={"loss": CORRECT["loss"]}, quantities=["loss", "deltas"]
    )
    items = {item["id"]: item for item in report["items"]}
    assert items["loss"]["status"] == "passed"
    assert items["layers[1].deltas"]["status"] == "missing"
    assert items["layers[1].deltas"]["feedback"] == (
        "missing: the answer has no layer 2 deltas (expected shape (1, 2))"
    )
    gradescope = await grade(client, submission={}, quantities=["deltas"], format="gradescope")
    assert {t["status"] for t in gradescope["tests"]} == {"failed"}


async def test_a_shape_mismatch_is_feedback_not_a_422(client: httpx.AsyncClient) -> None:
    submission = {"layers": [{"deltas": [[0.01, 0.01]]}, {"bias_gradients": [[1.0], [2.0]]}]}
    report = await grade(client, submission=submission, quantities=["deltas", "bias_gradients"])
    items = {item["id"]: item for item in report["items"]}
    assert items["layers[0].deltas"]["status"] == "failed"
    assert items["layers[0].deltas"]["feedback"].startswith(
        "wrong shape: expected shape (1, 3), the answer has shape (1, 2)"
    )
    assert items["layers[0].deltas"]["submitted_shape"] == [1, 2]
    assert items["layers[1].bias_gradients"]["feedback"].startswith(
        "wrong shape: expected 2 numbers, the answer has shape (2, 1)"
    )


async def test_one_row_and_one_flat_list_are_the_same_answer(client: httpx.AsyncClient) -> None:
    flat = copy.deepcopy(CORRECT)
    for layer in flat["layers"]:
        layer["deltas"] = layer["deltas"][0]
        layer["bias_gradients"] = [layer["bias_gradients"]]
    report = await grade(client, submission=flat, quantities=["deltas", "bias_gradients"])
    assert report["score"] == report["max_score"]


async def test_a_flat_sample_is_answered_with_flat_lists(client: httpx.AsyncClient) -> None:
    problem = {**SPEC_EXAMPLE, "inputs": [1.0, 2.0], "targets": [1.0, 0.0]}
    deltas = [layer["deltas"][0] for layer in CORRECT["layers"]]
    response = await client.post(
        "/v1/grade",
        json={
            "problem": problem,
            "submission": {"layers": [{"deltas": d} for d in deltas]},
            "quantities": ["deltas"],
        },
    )
    report = response.json()
    assert report["score"] == 2.0
    assert report["items"][0]["expected_shape"] == [3]


async def test_a_wrong_entry_gets_its_worked_formula(client: httpx.AsyncClient) -> None:
    submission = copy.deepcopy(CORRECT)
    submission["layers"][1]["deltas"][0][0] = 0.5
    report = await grade(client, submission=submission, quantities=["deltas"])
    item = report["items"][1]
    expected = (
        "delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771"
    )
    assert item["worked_formula"]["text"] == expected
    assert item["feedback"].endswith(f"Worked formula: {expected}")
    assert item["feedback"].startswith(
        "1 of 2 entries outside the tolerance (rtol 0.01, atol 0.0001); the furthest off is "
        "[0][0] (sample 1, unit 1): expected -0.00771, the answer has 0.5"
    )


async def test_the_tolerance_can_be_tightened(client: httpx.AsyncClient) -> None:
    submission = {"loss": round(CORRECT["loss"], 3)}
    loose = await grade(client, submission=submission, quantities=["loss"])
    tight = await grade(
        client, submission=submission, quantities=["loss"], tolerance={"rtol": 1e-6, "atol": 0}
    )
    assert loose["score"] == 1.0
    assert tight["score"] == 0.0


# Errors name the place ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        (
            {"submission": {}, "points": {"layers": [1]}},
            ["body"],
            "points.layers has 1 entries but the network has 2 layers",
        ),
        (
            {"submission": {}, "points": {"items": {"layers[2].deltas": 1}}},
            ["body"],
            'points.items names "layers[2].deltas"',
        ),
        (
            {"submission": {}, "quantities": ["gradients"]},
            ["body", "quantities", 0],
            "Input should be",
        ),
        ({"submission": {}, "tolerance": {"rtol": -1}}, ["body", "tolerance", "rtol"], "0"),
        ({"submission": {}, "format": "moodle"}, ["body", "format"], "native"),
        ({}, ["body", "submission"], "Field required"),
    ],
)
async def test_a_bad_request_gets_a_422_that_names_the_place(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any], words: str
) -> None:
    response = await post_grade(client, **body)
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == loc
    assert words in problem["msg"]


async def test_a_bad_problem_is_a_422_inside_problem(client: httpx.AsyncClient) -> None:
    problem = copy.deepcopy(SPEC_EXAMPLE)
    problem["network"]["layers"][1]["weights"] = [[0.7, 0.8], [0.9, 1.0]]
    response = await client.post("/v1/grade", json={"problem": problem, "submission": {}})
    assert response.status_code == 422
    assert (
        "network.layers[1].weights has 2 rows but layer 1 has 3 outputs"
        in (response.json()["detail"][0]["msg"])
    )


async def test_a_request_that_is_not_json_is_a_400_that_says_so(client: httpx.AsyncClient) -> None:
    """The instructor's request itself must be JSON (the student's answer inside it may be
    anything: schemas/intake.py reads it)."""
    response = await client.post(
        "/v1/grade", content=b'{"problem": {,}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "json_invalid"


# A whole class ------------------------------------------------------------------------------------


async def test_a_batch_grades_each_answer_as_a_single_request_would(
    client: httpx.AsyncClient,
) -> None:
    answers = {
        "ada": CORRECT,
        "bob": solve(SPEC_EXAMPLE, Student(mistakes={"loss_gradient_sign"})),
        "cy": solve(SPEC_EXAMPLE, Student(mse_half=False)),
        "dee": {"loss": CORRECT["loss"]},
    }
    response = await client.post(
        "/v1/grade/batch",
        json={
            "problem": SPEC_EXAMPLE,
            "submissions": [{"id": k, "submission": v} for k, v in answers.items()],
            "partial_credit": True,
        },
    )
    assert response.status_code == 200, response.text
    batch = response.json()
    for result in batch["results"]:
        single = await grade(client, submission=answers[result["id"]], partial_credit=True)
        assert result["report"] == single
    summary = batch["class_summary"]
    assert summary["submissions"] == 4
    assert summary["full_marks"] == 1
    assert summary["mistakes"] == {"loss_gradient_sign": 1, "mse_half": 1}
    scores = [result["report"]["score"] for result in batch["results"]]
    assert summary["mean_score"] == pytest.approx(sum(scores) / 4)


async def test_a_batch_in_gradescope_format_is_one_results_json_per_student(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/grade/batch",
        json={
            "problem": SPEC_EXAMPLE,
            "submissions": [{"id": "ada", "submission": CORRECT}],
            "format": "gradescope",
        },
    )
    GRADESCOPE.validate(response.json()["results"][0]["report"])


async def test_a_batch_with_a_repeated_id_is_a_422(client: httpx.AsyncClient) -> None:
    handin = {"id": "ada", "submission": {}}
    response = await client.post(
        "/v1/grade/batch", json={"problem": SPEC_EXAMPLE, "submissions": [handin, handin]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == 'submissions[1].id "ada" appears twice'


async def test_the_grading_endpoints_are_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in ("/v1/grade", "/v1/grade/batch", "/v1/gradcheck", "/v1/problems"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        assert name in schema["components"]["schemas"]


async def test_points_are_bounded_so_that_a_score_stays_finite(client: httpx.AsyncClient) -> None:
    """1e308 points per item would sum to an infinite score (null in the JSON): a 422."""
    for points in ({"default": 1e308}, {"items": {"loss": 2e6}}, {"layers": [1, 1e7]}):
        response = await client.post(
            "/v1/grade", json={"problem": SPEC_EXAMPLE, "submission": {}, "points": points}
        )
        assert response.status_code == 422, points
        assert "less than or equal to 1000000" in response.json()["detail"][0]["msg"]
    response = await client.post(
        "/v1/grade",
        json={"problem": SPEC_EXAMPLE, "submission": {}, "points": {"default": 1e6}},
    )
    assert response.json()["max_score"] == 16e6
