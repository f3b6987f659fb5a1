"""Every limit: enforced before the work it bounds, and answered with its name and value."""

from __future__ import annotations

import copy
import json
import threading
import tracemalloc
from typing import Any

import anyio
import httpx
import pytest

from app import services
from app.config import Settings
from schemas import SPEC_EXAMPLE, ErrorResponse
from schemas.problems import ProblemRequest
from tests.conftest import app_client
from tests.grading_oracle import Student, solve

pytestmark = pytest.mark.anyio


def wide(n_samples: int, width: int) -> dict[str, Any]:
    """n_samples x 1 inputs times a 1 x width weight row: an n_samples x width activation."""
    return {
        "network": {"layers": [{"weights": [[0.5] * width], "biases": [0.0] * width,
                                "activation": "relu"}]},
        "inputs": [[1.0]] * n_samples, "targets": [[0.0] * width] * n_samples,
        "learning_rate": 0.1,
    }  # fmt: skip


def deep(n_layers: int, width: int = 2) -> dict[str, Any]:
    layer = {"weights": [[0.1] * width] * width, "biases": [0.0] * width, "activation": "tanh"}
    return {"network": {"layers": [layer] * n_layers}, "inputs": [[1.0] * width],
            "targets": [[0.0] * width], "learning_rate": 0.1}  # fmt: skip


# a request, the settings that make it one over a limit, the limit it must name
CASES = [
    (deep(4), {"max_layers": 3}, "max_layers = 3", "the network has 4 layers"),
    (wide(2, 10), {"max_width": 9}, "max_width = 9", "has 10 units"),
    (wide(5, 2), {"max_batch": 4}, "max_batch = 4", "inputs has 5 samples"),
    (wide(1, 10), {"max_parameters": 19}, "max_parameters = 19", "20 weights and biases"),
    (wide(10, 10), {"max_activation_elements": 99}, "max_activation_elements = 99",
     "100 numbers per array"),
    (wide(10, 10), {"max_work": 99}, "max_work = 99", "100 multiply-adds"),
    # 1 x (1 input + 3 x 10 units + 10 outputs) + 2 x 20 parameters
    (wide(1, 10), {"max_answer_values": 80}, "max_answer_values = 80", "81 numbers"),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "settings", "limit", "size"), CASES,
                         ids=[c[2].split()[0] for c in CASES])  # fmt: skip
async def test_each_limit_is_a_422_naming_it_and_its_value(
    request_: dict[str, Any], settings: dict[str, int], limit: str, size: str
) -> None:
    async with app_client(Settings(**settings)) as client:
        response = await client.post("/v1/backprop", json=request_)
        assert response.status_code == 422, response.text
        [problem] = ErrorResponse.model_validate_json(response.content).detail
        assert problem.type == "limit_exceeded"
        assert limit in problem.msg.replace(",", "")
        assert size in problem.msg.replace(",", "")
        # one under the limit is fine
        name, value = limit.split(" = ")
        relaxed = Settings(**{**settings, name: int(value) + 1000})
    async with app_client(relaxed) as client:
        assert (await client.post("/v1/backprop", json=request_)).status_code == 200


async def test_the_activation_blowup_is_refused_before_allocating_it(
    client: httpx.AsyncClient,
) -> None:
    """10,000 x 1 inputs times a 1 x 4,096 row: a 328 MB activation, from a 200 kB body."""
    request = wide(10_000, 4096)
    request["targets"] = [0] * 10_000
    request["loss"] = "cross_entropy"
    tracemalloc.start()
    try:
        response = await client.post("/v1/backprop", json=request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422
    assert "max_activation_elements" in response.json()["detail"][0]["msg"]
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB: something was allocated"


async def test_a_body_at_the_limit_is_read_and_one_byte_over_is_not() -> None:
    body = json.dumps(SPEC_EXAMPLE).encode()
    async with app_client(Settings(max_body_bytes=len(body))) as client:
        at_limit = await client.post("/v1/backprop", content=body,
                                     headers={"content-type": "application/json"})  # fmt: skip
        over = await client.post("/v1/backprop", content=body + b" ",
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert at_limit.status_code == 200
    assert over.status_code == 413
    assert f"max_body_bytes = {len(body):,} bytes" in over.json()["detail"][0]["msg"]


async def test_a_body_with_too_many_values_is_refused_before_parsing() -> None:
    request = wide(1, 2)
    request["inputs"] = [[0] * 50]
    async with app_client(Settings(max_body_values=40)) as client:
        response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 413
    assert "max_body_values = 40 values" in response.json()["detail"][0]["msg"]


async def test_limits_endpoint_tells_the_limits_in_force() -> None:
    async with app_client(Settings(max_width=123)) as client:
        limits = {item["name"]: item for item in (await client.get("/v1/limits")).json()["limits"]}
    assert limits["max_width"]["value"] == 123
    assert limits["max_width"]["setting"] == "BACKPROP_MAX_WIDTH"
    expected = {"max_head_bytes", "max_body_bytes", "max_batch_body_bytes", "max_body_values",
                "max_layers",
                "max_width", "max_batch", "max_parameters", "max_activation_elements",
                "max_work", "max_answer_values", "max_in_flight", "max_connections",
                "head_timeout_seconds", "body_timeout_seconds", "write_timeout_seconds",
                "compute_threads",
                "compute_wait_seconds"}  # fmt: skip
    assert set(limits) == expected
    assert all(item["description"] for item in limits.values())


async def test_limits_are_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKPROP_MAX_LAYERS", "1")
    async with app_client(Settings()) as client:
        response = await client.post("/v1/backprop", json=deep(2))
    assert "max_layers = 1" in response.json()["detail"][0]["msg"]


async def slow_body(chunks: int, pause: float) -> Any:
    for _ in range(chunks):
        await anyio.sleep(pause)
        yield b" "


async def test_past_max_in_flight_requests_get_a_503_with_retry_after() -> None:
    settings = Settings(max_in_flight=1, retry_after_seconds=3)
    async with app_client(settings) as client:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: client.post(
                "/v1/backprop", content=slow_body(5, 0.1),
                headers={"content-type": "application/json"}))  # fmt: skip
            await anyio.sleep(0.1)
            refused = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
            health = await client.get("/healthz")
        after = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3"
    assert refused.json()["detail"][0]["type"] == "busy"
    assert health.status_code == 200, "health checks are always answered"
    assert after.status_code == 200, "the slot is given back"


async def test_a_large_request_waits_for_a_compute_thread_only_so_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def blocking_compute(request: Any) -> Any:
        if request.n_samples > 1:  # the large ones: hold the compute thread
            release.wait(timeout=10)
        return original(request)

    original = services.backprop
    large = copy.deepcopy(SPEC_EXAMPLE)
    large["inputs"], large["targets"] = [[1.0, 2.0]] * 2000, [[1.0, 0.0]] * 2000
    settings = Settings(compute_threads=1, compute_wait_seconds=0.2, retry_after_seconds=2)
    async with app_client(settings) as client:
        monkeypatch.setattr(services, "backprop", blocking_compute)
        async with anyio.create_task_group() as tasks:
            first: list[httpx.Response] = []

            async def hold() -> None:
                first.append(await client.post("/v1/backprop", json=large))

            tasks.start_soon(hold)
            await anyio.sleep(0.1)
            second = await client.post("/v1/backprop", json=large)
            small = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
            release.set()
    assert second.status_code == 503
    assert second.headers["retry-after"] == "2"
    assert small.status_code == 200, "small requests do not wait for the compute threads"
    assert first[0].status_code == 200


async def test_cors_is_closed_unless_configured() -> None:
    preflight = {"origin": "https://example.org", "access-control-request-method": "POST"}
    async with app_client(Settings()) as client:
        closed = await client.options("/v1/backprop", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    async with app_client(Settings(cors_origins=["https://example.org"])) as client:
        opened = await client.options("/v1/backprop", headers=preflight)
        other = await client.options(
            "/v1/backprop", headers={**preflight, "origin": "https://evil.example"}
        )
    assert opened.headers["access-control-allow-origin"] == "https://example.org"
    assert "access-control-allow-origin" not in other.headers


async def test_a_derivatives_body_has_a_smaller_limit(client: httpx.AsyncClient) -> None:
    big = {"expression": "x", "padding": "y" * 300_000}
    response = await client.post("/v1/derivatives", json=big)
    assert response.status_code == 413
    assert "262,144 bytes" in response.json()["detail"][0]["msg"]
    network = copy.deepcopy(SPEC_EXAMPLE)
    network["inputs"] = [[1.123456789, 2.123456789]] * 9000
    network["targets"] = [[1.0, 0.0]] * 9000
    body = json.dumps(network).encode()
    assert len(body) > 256 * 1024
    response = await client.post("/v1/backprop", content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 200, "the network endpoints keep the large limit"


async def test_a_class_batch_has_its_own_body_limit() -> None:
    """/v1/grade/batch is judged by max_batch_body_bytes, every other path by max_body_bytes."""
    handin = {"id": "ada", "submission": {"loss": 0.5, "note": "x" * 3000}}
    body = json.dumps({"problem": SPEC_EXAMPLE, "submissions": [handin]}).encode()
    size, headers = len(body), {"content-type": "application/json"}
    settings = Settings(max_body_bytes=size - 1, max_batch_body_bytes=size)
    async with app_client(settings) as client:
        batch = await client.post("/v1/grade/batch", content=body, headers=headers)
        single = await client.post(
            "/v1/grade", json={"problem": SPEC_EXAMPLE, "submission": handin["submission"]}
        )
    assert batch.status_code == 200, batch.text
    assert single.status_code == 200  # smaller than the batch by its id and list
    settings = Settings(max_batch_body_bytes=size - 1)
    async with app_client(settings) as client:
        over = await client.post("/v1/grade/batch", content=body, headers=headers)
    assert over.status_code == 413
    assert over.json()["detail"][0]["msg"] == (
        f"the body is larger than the limit max_batch_body_bytes = {size - 1:,} bytes"
    )


def test_a_class_of_5000_answers_to_the_last_digit_fits_the_batch_limit() -> None:
    """The issue's class: 5,000 machine-precision answers to a 4-8-8-3 problem (34 MiB), over
    max_body_bytes and under max_batch_body_bytes; `make bench` grades it end to end."""
    problem = services.problems(ProblemRequest(seed=1, layer_sizes=[4, 8, 8, 3]))["problem"]
    answer = solve(problem, Student())
    handins = [{"id": f"s{i:04d}", "submission": answer} for i in range(5000)]
    body = services.dumps({"problem": problem, "submissions": handins})
    assert Settings().max_body_bytes < len(body) <= Settings().max_batch_body_bytes
    assert body.count(b",") < Settings().max_body_values


async def test_a_problem_too_large_to_grade_is_a_422_naming_the_bound(
    client: httpx.AsyncClient,
) -> None:
    """Grading solves the problem under every mistake it looks for, so its problem is bounded
    far below the network limits: 500 samples x 1,000 units make an answer of 2 million
    numbers (samples x (inputs + 3 x units + outputs) + 2 x parameters), fine for /v1/backprop."""
    problem = wide(500, 1000)
    response = await client.post("/v1/grade", json={"problem": problem, "submission": {}})
    assert response.status_code == 422
    (only,) = response.json()["detail"]
    assert only["type"] == "limit_exceeded"
    assert "at most 200,000 numbers (this one 2,004,500)" in only["msg"]
    assert (await client.post("/v1/backprop", json=problem)).status_code == 200
