"""No error answer quotes more than MAX_QUOTED characters of the input, on any path.

A made-up key of 2 MB was quoted in full twice (a 4 MB 422), a 60 KB Content-Type in a 415, a
base64 shape's integer of thousands of digits; the promise (docs/api.md) is a short excerpt.
Each case puts a long run of one marker character somewhere a client controls, and the answer
must be small and hold no run of the marker longer than an excerpt.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from schemas.errors import MAX_QUOTED
from tests.grading_oracle import Student, solve

pytestmark = pytest.mark.anyio

LONG = 200_000
MARK = "Q"
GRADE = {"problem": SPEC_EXAMPLE, "submission": solve(SPEC_EXAMPLE, Student())}
DERIVATIVE = {"expression": "x**2", "variables": ["x"]}


def long() -> str:
    return MARK * LONG


def edited(body: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    edit(copied)
    return copied


def put(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        place: Any = body
        for part in path[:-1]:
            place = place[part]
        place[path[-1]] = value

    return edit


def key_at(path: list[str | int]) -> Callable[[dict[str, Any]], None]:
    """A made-up key of LONG characters in the object at path."""
    return put([*path, long()], 1)


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("/v1/backprop", "a made-up key", edited(SPEC_EXAMPLE, key_at([]))),
    ("/v1/backprop", "a made-up key in a layer",
     edited(SPEC_EXAMPLE, key_at(["network", "layers", 0]))),
    ("/v1/backprop", "an activation's name",
     edited(SPEC_EXAMPLE, put(["network", "layers", 0, "activation"], long()))),
    ("/v1/backprop", "the loss's name", edited(SPEC_EXAMPLE, put(["loss"], long()))),
    ("/v1/backprop", "a number written as text",
     edited(SPEC_EXAMPLE, put(["learning_rate"], long()))),
    ("/v1/backprop", "an entry written as text",
     edited(SPEC_EXAMPLE, put(["inputs", 0, 0], long()))),
    ("/v1/backprop", "a base64 array's text",
     edited(SPEC_EXAMPLE, put(["inputs"], {"shape": [1, 2], "float64": long()}))),
    ("/v1/backprop", "a base64 shape's integer",
     edited(SPEC_EXAMPLE, put(["inputs"], {"shape": [10**4000, 2], "float64": "AA=="}))),
    ("/v1/forward", "a made-up key", edited(SPEC_EXAMPLE, key_at([]))),
    ("/v1/gradcheck", "a made-up key", edited(SPEC_EXAMPLE, key_at([]))),
    ("/v1/grade", "a made-up option", edited(GRADE, key_at([]))),
    ("/v1/grade", "an item's id in points", edited(GRADE, put(["points"], {"items": {long(): 1}}))),
    ("/v1/grade", "a quantity's name", edited(GRADE, put(["quantities"], [long()]))),
    ("/v1/grade", "the format", edited(GRADE, put(["format"], long()))),
    ("/v1/grade/batch", "a repeated id",
     {"problem": SPEC_EXAMPLE,
      "submissions": [{"id": MARK * 200, "submission": {}}, {"id": MARK * 200, "submission": {}}]}),
    ("/v1/grade/batch", "an id too long",
     {"problem": SPEC_EXAMPLE, "submissions": [{"id": long(), "submission": {}}]}),
    ("/v1/problems", "a made-up key", {"seed": 1, long(): 1}),
    ("/v1/problems", "an activation's name", {"seed": 1, "activation": long()}),
    ("/v1/derivatives", "a made-up key", edited(DERIVATIVE, key_at([]))),
    ("/v1/derivatives", "the expression", {"expression": long()}),
    ("/v1/derivatives", "a variable's name", {"expression": "x", "variables": [long()]}),
    ("/v1/derivatives", "a point's variable", {"expression": "x", "at": {long(): 1.0}}),
    ("/v1/derivatives/grade", "the answer",
     {"function": "x**2", "variable": "x", "answer": long()}),
    ("/v1/derivatives/descent", "a made-up key", {"expression": "x**2", long(): 1}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), [(c[0], c[2]) for c in CASES],
                         ids=[f"{c[0]} {c[1]}" for c in CASES])  # fmt: skip
async def test_an_error_quotes_at_most_an_excerpt(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(path, content=json.dumps(body).encode(), headers=JSON)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert len(response.content) < 2_000, response.text[:300]
    assert MARK * (MAX_QUOTED + 1) not in response.text
    assert "0" * (MAX_QUOTED + 1) not in response.text  # the shape's 10**4000


JSON = {"content-type": "application/json"}


async def test_a_long_content_type_is_quoted_as_an_excerpt(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/backprop", content=b"{}", headers={"content-type": "text/" + long()}
    )
    assert response.status_code == 415
    assert len(response.content) < 400
    assert MARK * (MAX_QUOTED + 1) not in response.text


async def test_the_check_fails_on_an_echo(client: httpx.AsyncClient) -> None:
    """The marker check above is not vacuous: the answer to a stray key in a graded answer (a
    200, which quotes its excerpt in a warning) holds a short run of the marker."""
    response = await client.post("/v1/grade", json=edited(GRADE, key_at(["submission"])))
    assert response.status_code == 200
    assert MARK * (MAX_QUOTED - 3) in response.text
    assert MARK * (MAX_QUOTED + 1) not in response.text
