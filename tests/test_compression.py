"""gzip both ways: large answers compressed for clients that accept it; gzip request bodies read
inflated, the body limits counting the inflated bytes, so that a bomb is a 413 and not an
allocation; a truncated stream a 400, an encoding the service does not read a 415."""

from __future__ import annotations

import copy
import gzip
import struct
import tracemalloc
import zlib
from typing import Any

import anyio
import httpx
import pytest

from app.config import Settings
from schemas import SPEC_EXAMPLE
from tests.conftest import app_client

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}
GZIP_JSON = {**JSON, "content-encoding": "gzip"}

MiB = 1 << 20


def deflated_zeros() -> tuple[bytes, bytes]:
    """One MiB of zeros as a raw deflate block ending in a full flush (the same bytes each
    time, so blocks can be repeated), and the empty final block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block, compressor.flush(zlib.Z_FINISH)


def gzip_bomb(mebibytes: int, crc: int) -> bytes:
    """A valid gzip stream of ``mebibytes`` MiB of zeros (crc: their CRC-32), about 1,000 times
    smaller, made without compressing them all."""
    block, final = deflated_zeros()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    size = (mebibytes * MiB) & 0xFFFFFFFF
    return header + block * mebibytes + final + struct.pack("<II", crc, size)


CRC_OF_1_GIB_OF_ZEROS = 1533330096
"""zlib.crc32(bytes(2**30)), which takes a second to compute."""

BOMB = gzip_bomb(1024, CRC_OF_1_GIB_OF_ZEROS)
"""1 GiB of zeros in 1 MB of gzip."""


def test_the_bomb_is_a_valid_gzip_stream_of_1_gib() -> None:
    small = gzip_bomb(3, zlib.crc32(bytes(3 * MiB)))
    assert gzip.decompress(small) == bytes(3 * MiB)
    assert len(BOMB) < 1.1 * MiB
    assert BOMB[-4:] == struct.pack("<I", 2**30)  # the size trailer: 1 GiB


def large_request(samples: int) -> dict[str, Any]:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["inputs"], request["targets"] = [[1.0, 2.0]] * samples, [[1.0, 0.0]] * samples
    return request


# Answers ------------------------------------------------------------------------------------------


async def test_a_large_answer_is_gzipped_for_a_client_that_accepts_it(
    client: httpx.AsyncClient,
) -> None:
    request = large_request(100)
    plain = await client.post("/v1/backprop", json=request, headers={"accept-encoding": "identity"})
    zipped = await client.post("/v1/backprop", json=request, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.content == plain.content  # httpx inflated it
    assert zipped.json()["loss"] == plain.json()["loss"]


async def test_a_small_answer_is_sent_as_it_is(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/backprop", json=SPEC_EXAMPLE, headers={"accept-encoding": "gzip"}
    )
    assert len(answer.content) < 4096
    assert "content-encoding" not in answer.headers


async def test_compression_can_be_turned_off() -> None:
    async with app_client(Settings(gzip_level=0)) as client:
        answer = await client.post(
            "/v1/backprop", json=large_request(100), headers={"accept-encoding": "gzip"}
        )
    assert "content-encoding" not in answer.headers


async def slow_body() -> Any:
    for _ in range(5):
        await anyio.sleep(0.1)
        yield b" "


async def test_a_busy_503_and_head_are_unharmed() -> None:
    gzip_ok = {"accept-encoding": "gzip"}
    async with app_client(Settings(max_in_flight=1, gzip_minimum_bytes=1)) as client:
        head = await client.head("/healthz", headers=gzip_ok)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: client.post("/v1/forward", content=slow_body(), headers=JSON))
            await anyio.sleep(0.1)
            busy = await client.post("/v1/backprop", json=SPEC_EXAMPLE, headers=gzip_ok)
    assert head.status_code == 200
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["detail"][0]["type"] == "busy"


# Request bodies ----------------------------------------------------------------------------------


async def test_a_gzip_body_is_read_inflated(client: httpx.AsyncClient) -> None:
    body = httpx.Request("POST", "/", json=SPEC_EXAMPLE).content
    expected = await client.post("/v1/backprop", content=body, headers=JSON)
    for encoding in ("gzip", "x-gzip", "GZip"):
        answer = await client.post(
            "/v1/backprop",
            content=gzip.compress(body),
            headers={**JSON, "content-encoding": encoding},
        )
        assert answer.status_code == 200, answer.text
        assert answer.content == expected.content
    identity = await client.post(
        "/v1/backprop", content=body, headers={**JSON, "content-encoding": "identity"}
    )
    assert identity.content == expected.content


async def test_gzip_members_one_after_another_are_one_body(client: httpx.AsyncClient) -> None:
    body = httpx.Request("POST", "/", json=SPEC_EXAMPLE).content
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    answer = await client.post("/v1/backprop", content=members, headers=GZIP_JSON)
    assert answer.status_code == 200, answer.text


async def test_a_body_fastapi_parses_is_read_inflated_too(client: httpx.AsyncClient) -> None:
    body = gzip.compress(b'{"expression": "x^2", "point": {"x": 3}}')
    answer = await client.post("/v1/derivatives", content=body, headers=GZIP_JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == 9


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            gzip.compress(b'{"inputs": [1, 2, 3]}')[:-12],
            "its gzip stream ends before its end (truncated)",
        ),
        (gzip.compress(b"{}")[:5], "its gzip stream ends before its end (truncated)"),
        (b"", "its gzip stream ends before its end (truncated)"),
        (b'{"not": "gzip"}', "it is not gzip-compressed data"),
        (gzip.compress(b"{}") + b"garbage after the end", "it is not gzip-compressed data"),
    ],
    ids=["truncated", "header only", "empty", "not gzip", "trailing garbage"],
)
async def test_a_body_that_is_not_the_gzip_it_says_is_a_400(
    client: httpx.AsyncClient, body: bytes, why: str
) -> None:
    answer = await client.post("/v1/backprop", content=body, headers=GZIP_JSON)
    assert answer.status_code == 400
    assert answer.json() == {"detail": [{
        "loc": [], "type": "content_encoding_invalid",
        "msg": f"the body is sent with Content-Encoding: gzip, but {why}"}]}  # fmt: skip


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, gzip", "compress"])
async def test_an_encoding_the_service_does_not_read_is_a_415(
    client: httpx.AsyncClient, encoding: str
) -> None:
    answer = await client.post(
        "/v1/backprop", content=b"{}", headers={**JSON, "content-encoding": encoding}
    )
    assert answer.status_code == 415
    assert answer.headers["accept-encoding"] == "gzip"
    (problem,) = answer.json()["detail"]
    assert problem["type"] == "unsupported_content_encoding"
    assert repr(encoding) in problem["msg"]


async def test_the_body_limit_counts_the_inflated_bytes() -> None:
    body = httpx.Request("POST", "/", json=large_request(200)).content
    async with app_client(Settings(max_body_bytes=len(body) - 1)) as client:
        answer = await client.post("/v1/backprop", content=gzip.compress(body), headers=GZIP_JSON)
    assert len(gzip.compress(body)) < len(body) / 10
    assert answer.status_code == 413
    assert "max_body_bytes" in answer.json()["detail"][0]["msg"]


async def test_the_batch_limit_applies_to_an_inflated_batch() -> None:
    async with app_client(Settings(max_batch_body_bytes=4096)) as client:
        answer = await client.post("/v1/grade/batch", content=BOMB, headers=GZIP_JSON)
    assert answer.status_code == 413
    assert "max_batch_body_bytes = 4,096 bytes" in answer.json()["detail"][0]["msg"]


async def test_a_1_gib_gzip_bomb_is_a_413_without_allocating_it() -> None:
    limit = 4 * MiB
    async with app_client(Settings(max_body_bytes=limit)) as client:
        await client.post("/v1/backprop", content=gzip.compress(b"{}"), headers=GZIP_JSON)
        tracemalloc.start()
        try:
            answer = await client.post("/v1/backprop", content=BOMB, headers=GZIP_JSON)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answer.status_code == 413
    assert answer.json()["detail"][0]["msg"] == (
        "the body is larger than the limit max_body_bytes = 4,194,304 bytes"
    )
    # the limit's bytes, a chunk, and the bomb itself as the client sends it: never 1 GiB
    assert peak < limit + 2 * len(BOMB) + 4 * MiB, f"{peak / MiB:.1f} MiB allocated"
