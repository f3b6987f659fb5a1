"""Hostile bodies: each one gets a 4xx in the one error shape, and the service keeps answering.

(The kinds docs/api.md lists, with a test each, are in test_bad_input.py and test_limits.py; this is
the wider net: what an attacker or a broken client sends.)
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from schemas import SPEC_EXAMPLE, ErrorResponse
from tests.test_gradients import answer

pytestmark = pytest.mark.anyio

HEAD = json.dumps({k: v for k, v in SPEC_EXAMPLE.items() if k != "inputs"})[:-1].encode()


def with_inputs(raw: bytes) -> bytes:
    return HEAD + b', "inputs": ' + raw + b"}"


HOSTILE: dict[str, tuple[bytes, int]] = {
    "huge integer": (with_inputs(b"[[1" + b"0" * 1000 + b", 1]]"), 422),
    "integer too long to parse": (with_inputs(b"[[1" + b"0" * 100_000 + b", 1]]"), 400),
    "exponent 1e400": (with_inputs(b"[[1e400, 1]]"), 422),
    "exponent of 100,000 digits": (with_inputs(b"[[1e" + b"9" * 100_000 + b", 1]]"), 422),
    "a million-digit fraction": (with_inputs(b"[[0." + b"1" * 1_000_000 + b", 1]]"), 200),
    "deeply nested arrays": (with_inputs(b"[" * 100_000 + b"]" * 100_000), 400),
    "deeply nested objects": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400),
    "null for a number": (with_inputs(b"[[null, 1]]"), 422),
    "object for a matrix": (with_inputs(b'{"0": [1, 2]}'), 422),
    "a top-level array": (b"[" + json.dumps(SPEC_EXAMPLE).encode() + b"]", 422),
    "a top-level string": (b'"hello"', 422),
    "a top-level number": (b"1", 422),
    "byte order mark": (b"\xef\xbb\xbf" + json.dumps(SPEC_EXAMPLE).encode(), 200),  # RFC 8259
    "NUL bytes": (b"\x00" * 1000, 400),
    "invalid UTF-8 in a string": (HEAD + b', "loss": "\xff\xfe"}', 400),
    "a 100 kB activation name": (json.dumps({**SPEC_EXAMPLE, "loss": "x" * 100_000}).encode(),
                                 422),
    "__import__ as an activation": (json.dumps({**SPEC_EXAMPLE, "loss": "__import__('os')"})
                                    .encode(), 422),
    "a million empty rows": (with_inputs(b"[" + b"[]," * 1_000_000 + b"[]]"), 422),
    "a million strings": (with_inputs(b'[["' + b'x", "' * 1_000_000 + b'x"]]'), 422),
    "a learning rate of 1e308 in a string": (HEAD + b', "learning_rate": "1e308"}', 422),
}  # fmt: skip


@pytest.mark.parametrize(("body", "status"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_body_gets_a_clear_4xx(
    client: httpx.AsyncClient, body: bytes, status: int
) -> None:
    response = await client.post("/v1/backprop", content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == status, response.text[:500]
    if status != 200:
        problems = ErrorResponse.model_validate_json(response.content).detail
        assert problems
        assert all(problem.msg for problem in problems)
        assert len(response.content) < 10_000


async def test_the_service_answers_correctly_after_every_hostile_body(
    client: httpx.AsyncClient,
) -> None:
    for body, _ in HOSTILE.values():
        await client.post("/v1/backprop", content=body,
                          headers={"content-type": "application/json"})  # fmt: skip
    response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert response.status_code == 200
    expected: dict[str, Any] = answer(SPEC_EXAMPLE)
    assert response.json() == expected
