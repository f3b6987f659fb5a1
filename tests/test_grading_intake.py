"""What students type around their answers never costs the answer (schemas/intake.py).

One stray key, a typo, a null, an extra or empty layer, a byte-order mark: each gave 0 points
and "could not be read"; in a batch, one made the whole class a 422. Now the answer is graded,
and the report says what was ignored and why.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import httpx
import orjson
import pytest

from engine.grading import ItemKey
from schemas import SPEC_EXAMPLE
from schemas.intake import parse_json, read_answer
from tests.grading_oracle import Student, solve

pytestmark = pytest.mark.anyio

CORRECT = solve(SPEC_EXAMPLE, Student())


def to_4_figures(value: Any) -> Any:
    if isinstance(value, list):
        return [to_4_figures(v) for v in value]
    if isinstance(value, dict):
        return {k: to_4_figures(v) for k, v in value.items()}
    return float(f"{value:.4g}")


async def grade(client: httpx.AsyncClient, submission: Any, **options: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/grade", json={"problem": SPEC_EXAMPLE, "submission": submission, **options}
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in report["items"]}


async def test_a_stray_key_is_ignored_with_a_warning_and_full_marks_kept(
    client: httpx.AsyncClient,
) -> None:
    answer = {"student": "Ada Lovelace, s1234567", **to_4_figures(CORRECT)}
    answer["layers"][1]["work"] = "I used the chain rule " * 100
    report = await grade(client, answer)
    assert report["score"] == report["max_score"] == 16
    assert report["warnings"] == [
        'the answer has a key "student", which is not graded: ignored',
        'layers[1] has a key "work", which is not graded: ignored',
    ]


async def test_a_typed_key_is_named_with_the_spelling_meant(client: httpx.AsyncClient) -> None:
    answer = copy.deepcopy(CORRECT)
    answer["layers"][0]["delta"] = answer["layers"][0].pop("deltas")
    report = await grade(client, answer)
    assert report["warnings"] == [
        'layers[0] has a key "delta", which is not graded: ignored (did you mean deltas?)'
    ]
    items = by_id(report)
    assert items["layers[0].deltas"]["status"] == "missing"
    assert report["score"] == 15


async def test_a_long_stray_key_is_quoted_as_a_short_excerpt(client: httpx.AsyncClient) -> None:
    report = await grade(client, {"x" * 2_000_000: 1, **CORRECT})
    (warning,) = report["warnings"]
    assert len(warning) < 120
    assert "xxx..." in warning


async def test_a_null_entry_fails_its_item_only(client: httpx.AsyncClient) -> None:
    answer = copy.deepcopy(CORRECT)
    answer["layers"][1]["deltas"][0][1] = None
    report = await grade(client, answer, partial_credit=True)
    deltas = by_id(report)["layers[1].deltas"]
    assert deltas["status"] == "failed"
    assert deltas["score"] == 0.5  # the other entry is right
    assert "layers[1].deltas[0][1] is null, not a number" in deltas["feedback"]
    assert report["score"] == 15.5


async def test_text_where_a_number_belongs_fails_its_item_only(client: httpx.AsyncClient) -> None:
    answer = copy.deepcopy(CORRECT)
    answer["loss"] = "0.4322 (see working)"
    answer["layers"][0]["biases_typo"] = [1]
    report = await grade(client, answer)
    loss = by_id(report)["loss"]
    assert loss["status"] == "failed"
    assert 'the text "0.4322 (see working)"' in loss["feedback"]
    assert report["score"] == 15


@pytest.mark.parametrize("written", ["1" + "0" * 400, "1e400"])
async def test_a_number_too_large_for_float64_fails_its_item_only(
    client: httpx.AsyncClient, written: str
) -> None:
    """An integer of 401 digits was a 500 (OverflowError); now the item fails and says why."""
    answer = copy.deepcopy(CORRECT)
    answer["loss"] = 0.0
    body = orjson.dumps({"problem": SPEC_EXAMPLE, "submission": answer})
    body = body.replace(b'"loss":0.0', b'"loss":' + written.encode())
    response = await client.post(
        "/v1/grade", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    loss = by_id(response.json())["loss"]
    assert loss["status"] == "failed"
    assert "not a number" in loss["feedback"] or "too large" in loss["feedback"]
    assert response.json()["score"] == 15


def test_a_file_with_an_integer_past_pythons_text_limit_is_read() -> None:
    """5,000 digits: more than Python converts from text (ValueError, "use
    sys.set_int_max_str_digits()"); read as the infinity it is to float64."""
    answer = parse_json(b'{"loss": -' + b"9" * 5000 + b"}")
    assert answer == {"loss": -math.inf}
    assert read_answer(answer, 2).notes[ItemKey("loss")].startswith("loss is -inf, not a number")


async def test_an_extra_layer_is_reported_and_the_rest_graded(client: httpx.AsyncClient) -> None:
    answer = copy.deepcopy(CORRECT)
    answer["layers"].append({"deltas": [[1.0]]})
    report = await grade(client, answer)
    assert report["score"] == 16
    assert report["warnings"] == [
        "layers has 3 entries but the network has 2 layers: layers[2:] are not graded"
    ]


async def test_an_empty_first_layer_leaves_its_items_missing(client: httpx.AsyncClient) -> None:
    answer = copy.deepcopy(CORRECT)
    answer["layers"][0] = {}
    report = await grade(client, answer)
    missing = {key for key, item in by_id(report).items() if item["status"] == "missing"}
    assert missing == {f"layers[0].{q}" for q in CORRECT["layers"][0]}
    assert report["score"] == 9


async def test_a_file_with_a_byte_order_mark_is_read(client: httpx.AsyncClient) -> None:
    text = "\ufeff" + orjson.dumps(CORRECT).decode()
    report = await grade(client, text)
    assert report["score"] == 16


async def test_a_request_sent_with_a_byte_order_mark_is_read(client: httpx.AsyncClient) -> None:
    body = b"\xef\xbb\xbf" + orjson.dumps({"problem": SPEC_EXAMPLE, "submission": CORRECT})
    response = await client.post(
        "/v1/grade", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["score"] == 16


async def test_a_file_with_nan_is_read_and_the_nan_is_wrong(client: httpx.AsyncClient) -> None:
    loss = orjson.dumps(CORRECT["loss"]).decode()
    text = orjson.dumps(CORRECT).decode().replace(f'"loss":{loss}', '"loss":NaN', 1)
    assert "NaN" in text
    report = await grade(client, text)
    assert by_id(report)["loss"]["status"] == "failed"
    assert report["score"] == 15


@pytest.mark.parametrize("report_format", ["native", "gradescope", "prairielearn"])
async def test_only_text_that_is_not_json_is_unreadable(
    client: httpx.AsyncClient, report_format: str
) -> None:
    report = await grade(client, '{"loss": 0.43,, oops', format=report_format)
    words = {"native": "summary", "gradescope": "output", "prairielearn": "message"}
    assert "could not be read" in report[words[report_format]]
    assert "it is not JSON" in report[words[report_format]]
    if report_format == "prairielearn":
        assert report["gradable"] is False
    else:
        assert report["score"] == 0.0


UNREADABLE: dict[str, tuple[Any, str]] = {
    "a list": ([0.43, 0.9], "the answer is a list, not an object"),
    "null": (None, "the answer is null, not an object"),
    "a number": (42, "the answer is a number, not an object"),
    "text of a list": ("[0.43, 0.9]", "the answer is a list, not an object"),
    "empty text": ("  \n", "it is empty"),
    "nested 1,100 deep": ("[" * 1100 + "]" * 1100, "nested too deeply"),
    "an object nested 1,100 deep": (
        '{"loss": ' + "[" * 1100 + "]" * 1100 + "}",
        "nested too deeply",
    ),
}


@pytest.mark.parametrize(("submission", "reason"), UNREADABLE.values(), ids=UNREADABLE.keys())
@pytest.mark.parametrize("report_format", ["native", "prairielearn"])
async def test_what_is_no_answer_at_all_is_unreadable_not_a_zero(
    client: httpx.AsyncClient, submission: Any, reason: str, report_format: str
) -> None:
    """Not an object at all: unreadable, with the reason (PrairieLearn: not gradable, so the
    student keeps the attempt), never a 500 however deep it is nested."""
    report = await grade(client, submission, format=report_format)
    text = report["summary" if report_format == "native" else "message"]
    assert "could not be read" in text
    assert reason in text
    if report_format == "prairielearn":
        assert report["gradable"] is False


def test_a_file_saved_as_utf16_is_read() -> None:
    """Windows Notepad's "Unicode": UTF-16 with its byte-order mark."""
    text = orjson.dumps(CORRECT).decode()
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        data = text.encode(encoding)
        if encoding != "utf-16":  # utf-16 writes its BOM itself
            data = ("\ufeff" + text).encode(encoding)
        assert parse_json(data) == orjson.loads(text), encoding


def test_bytes_that_are_not_utf8_are_named_by_position() -> None:
    data = b'{"loss": 0.43,\n "student": "Jos\xe9"}'
    with pytest.raises(ValueError, match=r"byte 32 \(line 2\) is 0xe9: save the file as UTF-8"):
        parse_json(data)


async def test_a_lone_surrogate_in_a_key_is_quoted_without_a_500(
    client: httpx.AsyncClient,
) -> None:
    """JSON's "\\ud800" is valid JSON but not UTF-8 once read: quoted as U+FFFD."""
    text = '{"\\ud800": 1, "loss": "\\udfff"}'
    report = await grade(client, text)
    assert 'a key "\ufffd"' in report["warnings"][0]
    assert by_id(report)["loss"]["status"] == "failed"


async def test_warnings_reach_gradescope_and_prairielearn(client: httpx.AsyncClient) -> None:
    answer = {"student": "x", **CORRECT}
    gradescope = await grade(client, answer, format="gradescope")
    prairielearn = await grade(client, answer, format="prairielearn")
    assert 'Note: the answer has a key "student"' in gradescope["output"]
    assert 'Note: the answer has a key "student"' in prairielearn["message"]
    assert gradescope["score"] == 16
    assert prairielearn["score"] == 1.0


async def test_a_batch_grades_each_submission_on_its_own(client: httpx.AsyncClient) -> None:
    """One unreadable submission, one with stray keys, one right: 200, each its own report."""
    body = {
        "problem": SPEC_EXAMPLE,
        "submissions": [
            {"id": "unreadable", "submission": "this is my answer: 0.43"},
            {"id": "stray", "submission": {"student": "s2", **CORRECT}},
            {"id": "right", "submission": CORRECT},
            {"id": "empty", "submission": {}},
            {"id": "a list", "submission": [1, 2]},
            {"id": "deep", "submission": "[" * 1100 + "]" * 1100},
            {"id": "surrogate", "submission": '{"loss": "\\ud800", "\\udc00": 0}'},
        ],
    }
    response = await client.post("/v1/grade/batch", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    reports = {r["id"]: r["report"] for r in answer["results"]}
    assert "could not be read" in reports["unreadable"]["summary"]
    assert reports["stray"]["score"] == reports["right"]["score"] == 16
    assert reports["empty"]["score"] == 0
    assert "not an object" in reports["a list"]["summary"]
    assert "nested too deeply" in reports["deep"]["summary"]
    assert reports["surrogate"]["score"] == 0
    summary = answer["class_summary"]
    assert summary["submissions"] == 7
    assert summary["unreadable"] == 3
    assert summary["full_marks"] == 2
    assert summary["mean_score"] == 32 / 7


async def test_a_lone_surrogate_in_the_body_is_that_students_problem(
    client: httpx.AsyncClient,
) -> None:
    """ "\\ud800" in a submission written as JSON (not as text): Pydantic's parser refuses it,
    Python's reads it, and the class is graded, with the odd key quoted as U+FFFD."""
    body = orjson.dumps({"problem": SPEC_EXAMPLE, "submissions": [
        {"id": "odd", "submission": {"SURROGATE_KEY": 1, "loss": "SURROGATE_VALUE"}},
        {"id": "right", "submission": CORRECT},
    ]}).replace(b"SURROGATE_KEY", b"\\ud800x").replace(b"SURROGATE_VALUE", b"\\udfff")  # fmt: skip
    response = await client.post(
        "/v1/grade/batch", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    reports = {r["id"]: r["report"] for r in response.json()["results"]}
    assert reports["right"]["score"] == 16
    assert 'a key "\ufffdx"' in reports["odd"]["warnings"][0]
