"""The endpoints through HTTP: answers, their schema, the catalog, health, and the OpenAPI docs."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import orjson
import pytest

import engine
from app import main, services
from app.config import Settings
from schemas import (
    SPEC_EXAMPLE,
    SPEC_FORWARD_EXAMPLE,
    BackpropResponse,
    ErrorResponse,
    ForwardResponse,
)
from schemas.examples import SPEC_EXAMPLE_LOSS
from schemas.specs import ActivationName, LossName
from tests.conftest import app_client

pytestmark = pytest.mark.anyio


async def test_backprop_answer_conforms_to_its_documented_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    model = BackpropResponse.model_validate_json(response.content)
    assert model.model_dump(exclude_none=True) == response.json()
    assert response.json()["conventions"] == {
        "preset": "textbook", "weight_layout": "in_out", "relu_grad_at_zero": 1,
        "loss": {"name": "mse", "reduction": "sum", "half": True},
    }  # fmt: skip


async def test_forward_without_targets_has_no_loss(client: httpx.AsyncClient) -> None:
    request = {k: v for k, v in SPEC_FORWARD_EXAMPLE.items() if k != "targets"}
    response = await client.post("/v1/forward", json=request)
    assert response.status_code == 200
    assert "loss" not in response.json()
    ForwardResponse.model_validate_json(response.content)


async def test_forward_agrees_with_backprop(client: httpx.AsyncClient) -> None:
    forward = (await client.post("/v1/forward", json=SPEC_FORWARD_EXAMPLE)).json()
    backprop = (await client.post("/v1/backprop", json=SPEC_EXAMPLE)).json()
    assert forward["loss"] == backprop["loss"]
    assert forward["outputs"] == backprop["outputs"]
    for f, b in zip(forward["layers"], backprop["layers"], strict=True):
        assert f == {"pre_activations": b["pre_activations"], "activations": b["activations"]}


async def test_forward_refuses_a_learning_rate(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/forward", json=SPEC_EXAMPLE)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "learning_rate"]


async def test_activation_catalog_lists_the_engine_registry(client: httpx.AsyncClient) -> None:
    catalog = {a["name"]: a for a in (await client.get("/v1/activations")).json()["activations"]}
    assert set(catalog) == set(engine.ACTIVATIONS) == set(ActivationName.__args__)
    assert catalog["leaky_relu"]["parameters"] == [{
        "name": "negative_slope", "default": 0.01,
        "defaults": {"textbook": 0.01, "pytorch": 0.01, "keras": 0.3},
        "description": "slope of the function for z < 0",
    }]  # fmt: skip
    assert catalog["softmax"]["last_layer_only"] is True
    assert catalog["sigmoid"]["derivative"] == "f'(z) = f(z) (1 - f(z))"
    kinked = {name for name, info in catalog.items() if info["kink_follows_relu_grad_at_zero"]}
    assert kinked == {"relu", "leaky_relu"}


async def test_loss_catalog_gives_each_presets_defaults(client: httpx.AsyncClient) -> None:
    catalog = {loss["name"]: loss for loss in (await client.get("/v1/losses")).json()["losses"]}
    assert set(catalog) == set(engine.LOSSES) == set(LossName.__args__)
    mse = {p["name"]: p["defaults"] for p in catalog["mse"]["parameters"]}
    assert mse == {"reduction": {"textbook": "sum", "pytorch": "mean", "keras": "mean"},
                   "half": {"textbook": True, "pytorch": False, "keras": False}}  # fmt: skip
    assert catalog["cross_entropy"]["fused_with"] == "softmax"
    assert catalog["binary_cross_entropy"]["fused_with"] == "sigmoid"
    assert catalog["cross_entropy"]["class_indices"] is True
    assert catalog["mse"]["reductions"] == ["sum", "mean", "batch_mean"]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_not_ready_when_the_self_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SPEC_EXAMPLE_LOSS", SPEC_EXAMPLE_LOSS + 1e-6)
    async with app_client(Settings()) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    ErrorResponse.model_validate_json(response.content)


async def test_openapi_example_is_the_spec_example_and_works(client: httpx.AsyncClient) -> None:
    """What "Try it out" in /docs sends is the contract's worked example, and it gets its answer."""
    openapi = (await client.get("/openapi.json")).json()
    for path, expected in (("/v1/backprop", SPEC_EXAMPLE), ("/v1/forward", SPEC_FORWARD_EXAMPLE)):
        body = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"] == expected
        response = await client.post(path, json=body["example"])
        assert response.json()["loss"] == pytest.approx(SPEC_EXAMPLE_LOSS, rel=1e-12)


async def test_openapi_documents_request_bodies_and_every_error(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    schemas = openapi["components"]["schemas"]
    for path, model in (("/v1/backprop", "BackpropRequest"), ("/v1/forward", "ForwardRequest")):
        operation = openapi["paths"][path]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model}"
        assert {"400", "413", "415", "422"} <= set(operation["responses"])
    assert "learning_rate" in schemas["BackpropRequest"]["required"]
    assert "LayerSpec" in schemas
    assert (await client.get("/docs")).status_code == 200


async def test_docs_can_be_turned_off() -> None:
    async with app_client(Settings(docs_enabled=False)) as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
        assert (await client.post("/v1/backprop", json=SPEC_EXAMPLE)).status_code == 200


async def test_large_request_is_answered_off_the_event_loop(client: httpx.AsyncClient) -> None:
    """A body over the inline threshold takes the worker-thread path and gets the same answer."""
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["inputs"] = [[1.0, 2.0]] * 2000
    request["targets"] = [[1.0, 0.0]] * 2000
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 200
    single = (await client.post("/v1/backprop", json=SPEC_EXAMPLE)).json()
    assert response.json()["loss"] == pytest.approx(2000 * single["loss"], rel=1e-12)
    assert response.json()["layers"][1]["deltas"][1999] == single["layers"][1]["deltas"][0]


async def test_answers_are_the_same_under_a_root_path() -> None:
    """Behind a proxy that strips a prefix (root_path), the same requests get the same answers."""
    bad = copy.deepcopy(SPEC_EXAMPLE)
    bad["network"]["layers"][1]["weights"] = [[0.7, 0.8], [0.9, 1.0]]
    app = main.create_app(Settings())
    answers = []
    for root_path in ("", "/api"):
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers.append([
                (response.status_code, response.headers["content-type"], response.content)
                for response in [
                    await client.post(f"{root_path}/v1/backprop", json=SPEC_EXAMPLE),
                    await client.post(f"{root_path}/v1/forward", json=SPEC_FORWARD_EXAMPLE),
                    await client.post(f"{root_path}/v1/backprop", json=bad),
                    await client.post(f"{root_path}/v1/backprop", content=b"{}"),
                ]
            ])  # fmt: skip
    at_root, under_prefix = answers
    assert [status for status, *_ in at_root] == [200, 200, 422, 415]
    assert at_root == under_prefix


async def test_telemetry_can_be_turned_on() -> None:
    """FastAPI's native OpenTelemetry is off by default (it costs), and answers stay the same."""
    async with app_client(Settings(telemetry_enabled=True)) as client:
        response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert response.json()["loss"] == pytest.approx(SPEC_EXAMPLE_LOSS, rel=1e-12)


async def test_a_streamed_body_is_answered_like_one_with_a_length() -> None:
    """Without Content-Length (chunked), the body limit counts the body as it comes."""

    async def chunks() -> Any:
        body = orjson.dumps(SPEC_EXAMPLE)
        for start in range(0, len(body), 50):
            yield body[start : start + 50]

    async with app_client(Settings()) as client:
        streamed = await client.post("/v1/backprop", content=chunks(),
                                     headers={"content-type": "application/json"})  # fmt: skip
        whole = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 200
    assert streamed.content == whole.content


async def test_the_gates_refusals_carry_cors_headers_when_cors_is_on() -> None:
    """CORS wraps the gate, so a browser can read a 413 or 503 too (not only the answers)."""
    origin = {"origin": "https://example.org"}
    settings = Settings(cors_origins=["https://example.org"], max_body_bytes=1000)
    async with app_client(settings) as client:
        answered = await client.post("/v1/backprop", json=SPEC_EXAMPLE, headers=origin)
        too_large = await client.post(
            "/v1/backprop", content=b" " * 2000,
            headers={**origin, "content-type": "application/json"},
        )  # fmt: skip
    assert answered.status_code == 200
    assert too_large.status_code == 413
    for response in (answered, too_large):
        assert response.headers["access-control-allow-origin"] == "https://example.org"
