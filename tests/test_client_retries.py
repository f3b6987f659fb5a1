"""backprop_client's retry policy and errors, against a fake service (httpx.MockTransport)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from backprop_client import AsyncClient, Client, RetryPolicy, ServiceBusyError, ServiceError
from backprop_client.client import retry_after_seconds

OK = {"status": "ok"}


def fake(statuses: list[tuple[int, dict[str, str]]], seen: list[float]) -> httpx.MockTransport:
    """A service answering each status in turn (then 200), noting when each request came."""
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        status, headers = next(answers, (200, {}))
        body = OK if status == 200 else {"detail": [{"loc": [], "msg": "busy", "type": "busy"}]}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handle)


def test_a_503_is_retried_after_its_retry_after() -> None:
    seen: list[float] = []
    transport = fake([(503, {"retry-after": "0"}), (503, {"retry-after": "0.2"})], seen)
    http = httpx.Client(transport=transport, base_url="http://service")
    assert Client(http=http).healthz() == "ok"
    assert len(seen) == 3
    assert seen[2] - seen[1] >= 0.2


def test_retries_are_bounded() -> None:
    seen: list[float] = []
    transport = fake([(503, {"retry-after": "0"})] * 10, seen)
    http = httpx.Client(transport=transport, base_url="http://service")
    with pytest.raises(ServiceBusyError) as caught:
        Client(http=http, retry=RetryPolicy(max_retries=2)).healthz()
    assert len(seen) == caught.value.attempts == 3
    assert caught.value.retry_after == 0.0


def test_a_retry_after_longer_than_allowed_is_not_waited_for() -> None:
    seen: list[float] = []
    transport = fake([(503, {"retry-after": "120"})], seen)
    http = httpx.Client(transport=transport, base_url="http://service")
    with pytest.raises(ServiceBusyError) as caught:
        Client(http=http, retry=RetryPolicy(max_retry_wait=30)).healthz()
    assert len(seen) == 1
    assert caught.value.retry_after == 120.0


def test_other_errors_are_not_retried_and_readyz_reads_503_as_not_ready() -> None:
    seen: list[float] = []
    http = httpx.Client(transport=fake([(500, {})], seen), base_url="http://service")
    with pytest.raises(ServiceError) as caught:
        Client(http=http).healthz()
    assert (caught.value.status_code, len(seen)) == (500, 1)
    http = httpx.Client(transport=fake([(503, {})], seen), base_url="http://service")
    assert Client(http=http).readyz() is False


@pytest.mark.anyio
async def test_the_async_client_retries_too() -> None:
    seen: list[float] = []
    transport = fake([(503, {"retry-after": "0"})], seen)
    async with AsyncClient(http=httpx.AsyncClient(transport=transport, base_url="http://s")) as c:
        assert await c.healthz() == "ok"
    assert len(seen) == 2


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    seconds = retry_after_seconds(later)
    assert seconds is not None
    assert 50 < seconds <= 60
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert retry_after_seconds(earlier) == 0.0


def test_the_client_needs_nothing_of_the_server() -> None:
    """Imported with the service's packages (and orjson) made unimportable, it still works."""
    script = """
import sys
for name in ("app", "schemas", "engine", "fastapi", "starlette", "pydantic", "orjson"):
    sys.modules[name] = None
import httpx
import numpy as np
from backprop_client import Client, Layer, Problem

def handle(request):
    body = request.read().decode()
    assert body.startswith('{"network":{"layers":[{"weights":[[1.0]]'), body
    return httpx.Response(503 if handle.calls == 0 else 200, json={"status": "ok"},
                          headers={"retry-after": "0"})
handle.calls = 0
def counted(request):
    response = handle(request)
    handle.calls += 1
    return response

http = httpx.Client(transport=httpx.MockTransport(counted), base_url="http://service")
problem = Problem([Layer(np.eye(1), np.zeros(1), "linear")], np.ones((1, 1)), np.ones((1, 1)))
from backprop_client import endpoints
call = endpoints.Call("POST", "/x", lambda body: body, problem.body("lists"))
assert Client(http=http).send(call) == {"status": "ok"}
assert handle.calls == 2
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=60)  # fmt: skip
    assert result.stdout.strip() == "ok", result.stderr
