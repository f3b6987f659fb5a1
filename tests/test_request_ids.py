"""Every answer says which request it was (X-Request-ID), a 5xx in its body too, and every log
line written while answering it carries the same id."""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
from typing import Any

import anyio
import httpx
import pytest

from app.config import Settings
from app.logs import JSONFormatter, RequestIdFilter
from app.main import create_app
from app.request_ids import new_request_id
from schemas import SPEC_EXAMPLE
from tests.conftest import app_client

pytestmark = pytest.mark.anyio

MADE = re.compile(r"[0-9a-f]{32}")


async def test_a_usable_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    for given in ("7f3c2a9e-5b1d-4e8a-9c0f-1a2b3c4d5e6f", "Root=1-5759e988-bd862e3fe1be46a9", "a"):
        response = await client.post(
            "/v1/backprop", json=SPEC_EXAMPLE, headers={"x-request-id": given}
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == given


async def test_one_is_made_for_a_request_without_one(client: httpx.AsyncClient) -> None:
    ids = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)]
    assert all(MADE.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == 3


def _made_in_a_child(ids: multiprocessing.SimpleQueue[str]) -> None:
    ids.put(new_request_id())


def test_forked_workers_make_different_ids() -> None:
    """uvicorn forks its workers from one process: each must draw its own ids, not repeat its
    parent's or a sibling's sequence."""
    fork = multiprocessing.get_context("fork")
    ids: multiprocessing.SimpleQueue[str] = fork.SimpleQueue()
    children = [fork.Process(target=_made_in_a_child, args=(ids,)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    made = [ids.get() for _ in children] + [new_request_id()]
    assert all(MADE.fullmatch(i) for i in made), made
    assert len(set(made)) == 4, made


@pytest.mark.parametrize(
    "given",
    [
        "x" * 10_000,  # 10 KB
        "x" * 129,
        "two words",
        'quoted"id',
        "ünïcode",
        "",
    ],
    ids=["10KB", "129 characters", "space", "quote", "non-ASCII", "empty"],
)
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/healthz", headers=[(b"x-request-id", given.encode())])
    assert response.status_code == 200
    assert MADE.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize("given", [b"abc\ndef", b"abc\r\nset-cookie: x=1", b"id\x00"])
async def test_an_id_with_a_newline_or_control_character_is_replaced(given: bytes) -> None:
    """Sent straight through ASGI: no HTTP client would send such a header."""
    app = create_app(Settings())
    started: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/healthz", "raw_path": b"/healthz",
             "root_path": "", "query_string": b"", "server": ("test", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"x-request-id", given)]}  # fmt: skip
    await app(scope, receive, send)
    ids = [value for name, value in started[0]["headers"] if name == b"x-request-id"]
    assert len(ids) == 1
    assert MADE.fullmatch(ids[0].decode())


async def test_refusals_by_middleware_carry_the_id() -> None:
    async with app_client(Settings(max_body_bytes=100)) as client:
        too_large = await client.post(
            "/v1/backprop", json=SPEC_EXAMPLE, headers={"x-request-id": "big-1"}
        )
    assert too_large.status_code == 413
    assert too_large.headers["x-request-id"] == "big-1"


async def slow_body() -> Any:
    for _ in range(5):
        await anyio.sleep(0.1)
        yield b" "


async def test_a_busy_503_carries_the_id_in_its_header_and_body() -> None:
    async with app_client(Settings(max_in_flight=1)) as client, anyio.create_task_group() as tg:
        json_type = {"content-type": "application/json"}
        tg.start_soon(lambda: client.post("/v1/backprop", content=slow_body(), headers=json_type))
        await anyio.sleep(0.1)
        refused = await client.post(
            "/v1/backprop", json=SPEC_EXAMPLE, headers={"x-request-id": "busy-1"}
        )
    assert refused.status_code == 503
    assert refused.headers["x-request-id"] == "busy-1"
    assert refused.json()["request_id"] == "busy-1"


async def test_a_4xx_body_has_no_request_id_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/backprop", json={}, headers={"x-request-id": "bad-1"})
    assert response.status_code == 422
    assert response.headers["x-request-id"] == "bad-1"
    assert set(response.json()) == {"detail"}


async def test_a_500_has_the_id_in_header_body_and_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app import services

    def broken(request: Any) -> Any:
        raise RuntimeError("secret internals")

    caplog.handler.addFilter(RequestIdFilter())
    async with app_client(Settings(), raise_app_exceptions=False) as client:
        monkeypatch.setattr(services, "backprop", broken)
        with caplog.at_level(logging.ERROR, logger="backprop_service"):
            response = await client.post(
                "/v1/backprop", json=SPEC_EXAMPLE, headers={"x-request-id": "boom-1"}
            )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.json()["request_id"] == "boom-1"
    assert "boom-1" in response.json()["detail"][0]["msg"]
    logged = [r for r in caplog.records if r.name == "backprop_service"]
    assert [r.request_id for r in logged] == ["boom-1"]  # type: ignore[attr-defined]
    assert logged[0].exc_info is not None
    line = json.loads(JSONFormatter().format(logged[0]))
    assert line["request_id"] == "boom-1"
    assert "secret internals" in line["exception"]
    assert "\n" not in JSONFormatter().format(logged[0])
