"""The text feedback stays byte for byte what it was before pictures came in.

tests/golden/text_feedback.json holds /v1/grade and /v1/grade/batch answers recorded from main
at f9f159f, before ``feedback_format`` existed: native, Gradescope and PrairieLearn reports, a
mistake named, expected values hidden, partial credit, several samples, a student's key that
looks like HTML, an unreadable answer in a batch. Never regenerate it to make this test pass:
a difference is a change to what every course already shows its students.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

GOLDEN: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "golden" / "text_feedback.json").read_text()
)


@pytest.mark.parametrize("case", GOLDEN, ids=[case["name"] for case in GOLDEN])
async def test_the_default_answer_is_byte_identical_to_main_s(
    client: httpx.AsyncClient, case: dict[str, Any]
) -> None:
    response = await client.post(case["path"], json=case["request"])
    assert response.status_code == 200, response.text
    assert response.content == case["answer"].encode()


@pytest.mark.parametrize("case", GOLDEN, ids=[case["name"] for case in GOLDEN])
async def test_feedback_format_text_is_the_default_byte_for_byte(
    client: httpx.AsyncClient, case: dict[str, Any]
) -> None:
    response = await client.post(case["path"], json={**case["request"], "feedback_format": "text"})
    assert response.status_code == 200, response.text
    assert response.content == case["answer"].encode()
