"""GET /metrics counts exactly the requests made, by route template and status, and what
refused them; across worker processes too (a real server with two workers)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from engine.calculus.workers import Workers
from schemas import SPEC_EXAMPLE
from tests.conftest import app_client

ROOT = Path(__file__).resolve().parent.parent

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_by(samples: Samples) -> dict[tuple[str, str, str], float]:
    """backprop_http_requests_total by (route, method, status)."""
    return {
        (labels["route"], labels["method"], labels["status"]): value
        for (name, frozen), value in samples.items()
        if name == "backprop_http_requests_total" and (labels := dict(frozen))
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.mark.anyio
async def test_metrics_count_exactly_the_requests_made_by_route_template() -> None:
    async with app_client(Settings()) as client:
        for _ in range(3):
            await client.post("/v1/backprop", json=SPEC_EXAMPLE)
        await client.post("/v1/backprop?debug=1", json=SPEC_EXAMPLE)
        await client.post("/v1/backprop", json={"network": {}})
        await client.get("/v1/activations")
        await client.get("/v1/backprop")  # 405
        await client.head("/healthz")
        await client.get("/playground/no-such-file.js")
        await client.get("/playground/main.js")
        await client.get("/docs/assets/swagger-ui.css")
        await client.get("/no/such/path/12345")
        await client.get("/another/unknown")
        samples = await scrape(client)
        again = await scrape(client)
    assert requests_by(samples) == {
        ("/v1/backprop", "POST", "200"): 4,
        ("/v1/backprop", "POST", "422"): 1,
        ("/v1/activations", "GET", "200"): 1,
        ("/v1/backprop", "GET", "405"): 1,
        ("/healthz", "HEAD", "200"): 1,
        ("/playground/{name}", "GET", "404"): 1,
        ("/playground/{name}", "GET", "200"): 1,
        ("/docs/assets", "GET", "200"): 1,
        ("unmatched", "GET", "404"): 2,
    }
    assert requests_by(again)["/metrics", "GET", "200"] == 1  # the first scrape
    assert value(samples, "backprop_http_request_duration_seconds_count", route="/v1/backprop") == 6
    assert value(samples, "backprop_http_request_duration_seconds_sum", route="/v1/backprop") > 0
    assert value(samples, "backprop_http_requests_in_flight") == 1  # the scrape itself
    assert value(samples, "process_resident_memory_bytes") > 0


async def slow_body(pieces: int = 5) -> Any:
    for _ in range(pieces):
        await anyio.sleep(0.1)
        yield b" "


JSON = {"content-type": "application/json"}


async def chunks(count: int, chunk: bytes) -> Any:
    for _ in range(count):
        yield chunk


@pytest.mark.anyio
async def test_requests_in_flight_are_counted_while_they_are_answered() -> None:
    async with app_client(Settings()) as client:
        async with anyio.create_task_group() as tasks:
            for _ in range(2):
                tasks.start_soon(
                    lambda: client.post("/v1/backprop", content=slow_body(20), headers=JSON)
                )
            with anyio.fail_after(5):  # both slow requests have arrived (2 s of body to come)
                while value(during := await scrape(client), "backprop_http_requests_in_flight") < 3:
                    await anyio.sleep(0.02)
        after = await scrape(client)
    assert value(during, "backprop_http_requests_in_flight") == 3  # two, and the scrape
    assert value(after, "backprop_http_requests_in_flight") == 1


@pytest.mark.anyio
async def test_refusals_are_counted_by_the_limit_that_refused_them() -> None:
    wide = copy.deepcopy(SPEC_EXAMPLE)
    settings = Settings(max_body_bytes=1500, max_width=2, max_in_flight=1)
    async with app_client(settings) as client:
        stated = await client.post(
            "/v1/backprop", content=b"[" + b"0," * 1000 + b"0]", headers=JSON
        )
        streamed = await client.post("/v1/backprop", content=chunks(100, b"0," * 10), headers=JSON)
        too_wide = await client.post("/v1/backprop", json=wide)  # 3 hidden units
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: client.post("/v1/forward", content=slow_body(), headers=JSON))
            await anyio.sleep(0.1)
            busy = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
        samples = await scrape(client)
    statuses = [r.status_code for r in (stated, streamed, too_wide, busy)]
    assert statuses == [413, 413, 422, 503]
    refusals = {
        (dict(labels)["limit"], dict(labels)["status"]): count
        for (name, labels), count in samples.items()
        if name == "backprop_refusals_total"
    }
    assert refusals == {
        ("max_body_bytes", "413"): 2,
        ("max_width", "422"): 1,
        ("max_in_flight", "503"): 1,
    }
    assert requests_by(samples)["/v1/backprop", "POST", "503"] == 1  # refused before routing


@pytest.mark.anyio
async def test_compute_pool_waits_are_measured() -> None:
    large = copy.deepcopy(SPEC_EXAMPLE)
    large["inputs"], large["targets"] = [[1.0, 2.0]] * 3000, [[1.0, 0.0]] * 3000
    async with app_client(Settings()) as client:
        await client.post("/v1/backprop", json=SPEC_EXAMPLE)  # tiny: on the event loop
        for _ in range(2):
            assert (await client.post("/v1/backprop", json=large)).status_code == 200
        samples = await scrape(client)
    assert value(samples, "backprop_compute_wait_seconds_count") == 2
    assert value(samples, "backprop_compute_wait_seconds_bucket", le="0.01") == 2


@pytest.mark.anyio
async def test_a_sympy_worker_replaced_is_counted() -> None:
    async with app_client(Settings()) as client:
        before = value(
            await scrape(client), "backprop_sympy_worker_restarts_total", reason="timed_out"
        )
        workers: Workers[float, None] = Workers("time:sleep", processes=1)
        try:
            assert workers.run(600.0, 0.3).status == "timed_out"
        finally:
            workers.close()
        after = value(
            await scrape(client), "backprop_sympy_worker_restarts_total", reason="timed_out"
        )
    assert after == before + 1


@pytest.mark.anyio
async def test_metrics_can_be_turned_off() -> None:
    async with app_client(Settings(metrics_enabled=False)) as client:
        assert (await client.get("/metrics")).status_code == 404


@pytest.mark.anyio
async def test_openmetrics_is_answered_to_a_scraper_that_asks_for_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
