"""Every kind of bad input docs/api.md lists gets a 4xx that says what is wrong and where.

The answer has the one error shape, never echoes the input, never shows a stack trace, and lists
a bounded number of problems.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.config import Settings
from schemas import MAX_PROBLEMS, SPEC_EXAMPLE, ErrorResponse
from tests.conftest import app_client

pytestmark = pytest.mark.anyio

Mutation = Callable[[dict[str, Any]], None]


def layer(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: r["network"]["layers"][i]


def set_in(get: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Mutation:
    return lambda r: get(r).__setitem__(key, value)


def top(key: str, value: Any) -> Mutation:
    return set_in(lambda r: r, key, value)


# mutation of the contract's worked example, expected loc, a fragment the message must contain
CASES: list[tuple[str, Mutation, list[Any], str]] = [
    ("string for a number", set_in(layer(0), "biases", [0.1, "0.1", 0.1]),
     ["body", "network", "layers", 0, "biases", 1], "valid number"),
    ("boolean for a number", top("inputs", [[1.0, True]]), ["body", "inputs", 0, 1],
     "valid number"),
    ("boolean learning rate", top("learning_rate", True), ["body", "learning_rate"],
     "valid number"),
    ("string learning rate", top("learning_rate", "0.5"), ["body", "learning_rate"],
     "valid number"),
    ("negative learning rate", top("learning_rate", -0.5), ["body", "learning_rate"],
     "greater than or equal to 0"),
    ("ragged rows", set_in(layer(1), "weights", [[0.7, 0.8], [0.9], [1.1, 1.2]]),
     ["body", "network", "layers", 1, "weights"], "row 1 has 1"),
    ("ragged inputs", top("inputs", [[1.0, 2.0], [1.0]]), ["body", "inputs"], "same length"),
    ("no layers", lambda r: r["network"].__setitem__("layers", []),
     ["body", "network", "layers"], "at least 1"),
    ("empty weights", set_in(layer(0), "weights", []), ["body", "network", "layers", 0, "weights"],
     "at least 1"),
    ("empty row", set_in(layer(0), "weights", [[], []]),
     ["body", "network", "layers", 0, "weights", 0], "at least 1"),
    ("empty inputs", top("inputs", []), ["body", "inputs"], "at least 1"),
    ("softmax not last", set_in(layer(0), "activation", "softmax"), ["body"],
     "network.layers[0].activation is softmax, which can only be the last layer's"),
    ("rows against outputs", set_in(layer(1), "weights", [[0.7, 0.8], [0.9, 1.0]]), ["body"],
     "network.layers[1].weights has 2 rows but layer 1 has 3 outputs"),
    ("inputs against layer 1", top("inputs", [[1.0, 2.0, 3.0]]), ["body"],
     "network.layers[0].weights has 2 rows but each sample of inputs has 3 numbers"),
    ("biases against outputs", set_in(layer(0), "biases", [0.1, 0.1]), ["body"],
     "network.layers[0].biases has 2 entries but network.layers[0].weights has 3 columns"),
    ("targets against outputs", top("targets", [[1.0, 0.0, 0.0]]), ["body"],
     "targets has 3 columns but the last layer has 2 outputs"),
    ("targets against samples", top("targets", [[1.0, 0.0], [0.0, 1.0]]), ["body"],
     "targets has 2 rows but inputs has 1 samples"),
    ("class out of range", lambda r: r.update(loss="cross_entropy", targets=[2]), ["body"],
     "targets[0] is class 2, but the last layer has 2 outputs (classes 0 to 1)"),
    ("negative class", lambda r: r.update(loss="cross_entropy", targets=[-1]), ["body"],
     "targets[0] is class -1"),
    ("class indices for mse", top("targets", [1]), ["body"],
     "class indices as targets only work with cross_entropy"),
    ("unknown activation", set_in(layer(0), "activation", "sigmoidd"),
     ["body", "network", "layers", 0, "activation"], "'sigmoidd'"),
    ("unknown activation parameter", set_in(layer(0), "activation",
     {"name": "leaky_relu", "negative_slop": 0.2}),
     ["body", "network", "layers", 0, "activation", "negative_slop"], "Extra inputs"),
    ("unknown loss", top("loss", "hinge"), ["body", "loss"], "'hinge'"),
    ("label smoothing of 1", top("loss", {"name": "cross_entropy", "label_smoothing": 1.0}),
     ["body", "loss", "label_smoothing"], "less than 1"),
    ("reduction a loss lacks", top("loss", {"name": "l1", "reduction": "batch_mean"}),
     ["body", "loss", "reduction"], "'sum' or 'mean'"),
    ("unknown field", top("learning_rat", 0.5), ["body", "learning_rat"], "Extra inputs"),
    ("missing targets", lambda r: r.pop("targets"), ["body", "targets"], "Field required"),
    ("unknown preset", top("conventions", "tensorflow"), ["body", "conventions"], "'textbook'"),
    ("relu_grad_at_zero of true", top("relu_grad_at_zero", True), ["body", "relu_grad_at_zero"],
     "valid integer"),
    ("relu_grad_at_zero of 0.5", top("relu_grad_at_zero", 0.5), ["body", "relu_grad_at_zero"],
     "valid integer"),
    ("bce over a linear layer", lambda r: r.update(loss="binary_cross_entropy") or
     layer(1)(r).update(activation="linear"), ["body", "loss"], "outputs in [0, 1]"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "loc", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
async def test_bad_request_is_a_422_that_names_the_place(
    client: httpx.AsyncClient, mutate: Mutation, loc: list[Any], fragment: str
) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    mutate(request)
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422, response.text
    problems = ErrorResponse.model_validate_json(response.content).detail
    assert [p.loc for p in problems] == [loc]
    assert fragment in problems[0].msg


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'"inputs": [[1.0, NaN]]', ["body", "inputs", 0, 1]),
        (b'"inputs": [[1.0, Infinity]]', ["body", "inputs", 0, 1]),
        (b'"inputs": [[1.0, -Infinity]]', ["body", "inputs", 0, 1]),
        (b'"inputs": [[1.0, 1e400]]', ["body", "inputs", 0, 1]),
    ],
    ids=["NaN", "Infinity", "-Infinity", "1e400"],
)
async def test_non_finite_numbers_are_refused(
    client: httpx.AsyncClient, raw: bytes, loc: list[Any]
) -> None:
    body = json.dumps({k: v for k, v in SPEC_EXAMPLE.items() if k != "inputs"}).encode()
    body = body[:-1] + b", " + raw + b"}"
    response = await client.post("/v1/backprop", content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == loc
    assert "finite" in problem["msg"]


@pytest.mark.parametrize("body", [b"{\"network\": ", b"not json", b"", b"\xff\xfe{}"],
                         ids=["truncated", "text", "empty", "invalid utf-8"])  # fmt: skip
async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/v1/backprop", content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    [problem] = response.json()["detail"]
    assert problem["type"] == "json_invalid"
    assert problem["msg"].startswith("the body is not valid JSON")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])  # fmt: skip
async def test_a_body_not_sent_as_json_is_a_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.post("/v1/backprop", content=json.dumps(SPEC_EXAMPLE).encode(),
                                 headers=headers)  # fmt: skip
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"][0]["msg"]


async def test_json_variants_of_the_content_type_are_accepted(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = await client.post("/v1/backprop", content=json.dumps(SPEC_EXAMPLE).encode(),
                                     headers={"content-type": content_type})  # fmt: skip
        assert response.status_code == 200


async def test_a_body_over_the_limit_is_a_413() -> None:
    async with app_client(Settings(max_body_bytes=1000)) as client:
        request = copy.deepcopy(SPEC_EXAMPLE)
        request["inputs"] = [[1.0, 2.0]] * 100
        response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 413
    assert response.json()["detail"][0]["type"] == "body_too_large"


async def test_the_input_is_never_echoed(client: httpx.AsyncClient) -> None:
    marker = "SECRET-MARKER-" + "x" * 1000
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["inputs"] = [[marker, marker]] * 50
    request["network"]["layers"][0]["activation"] = marker
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422
    assert b"SECRET-MARKER" not in response.content
    assert len(response.content) < 2000


async def test_problems_are_bounded(client: httpx.AsyncClient) -> None:
    """Each layer with a bad activation is one problem: 50 of them list 20 and say how many more."""
    request = {
        "network": {"layers": [{"weights": [[1.0]], "biases": [0.0], "activation": "nope"}] * 50},
        "inputs": [[1.0]], "targets": [[1.0]], "learning_rate": 0.1,
    }  # fmt: skip
    response = await client.post("/v1/backprop", json=request)
    detail = response.json()["detail"]
    assert len(detail) == MAX_PROBLEMS + 1
    assert detail[-1] == {"loc": ["body"], "msg": "... and 30 more problems",
                          "type": "too_many_problems"}  # fmt: skip


async def test_one_bad_matrix_is_one_problem(client: httpx.AsyncClient) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["inputs"] = [["x"] * 2] * 10_000
    response = await client.post("/v1/backprop", json=request)
    assert len(response.json()["detail"]) == 1


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["type"] == "not_found"
    wrong_method = await client.get("/v1/backprop")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["detail"][0]["type"] == "method_not_allowed"


async def test_a_bug_is_a_500_without_details(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import services

    def broken(request: Any) -> Any:
        raise RuntimeError("secret internals")

    async with app_client(Settings(), raise_app_exceptions=False) as client:
        monkeypatch.setattr(services, "backprop", broken)
        response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "detail": [
            {"loc": [], "msg": f"internal error: it has been logged as {request_id}",
             "type": "internal"}
        ],
        "request_id": request_id,
    }  # fmt: skip
    assert b"secret" not in response.content


async def test_a_streamed_body_over_the_limit_is_cut_off_with_a_413() -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 100

    async with app_client(Settings(max_body_bytes=1000)) as client:
        response = await client.post("/v1/backprop", content=chunks(),
                                     headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"][0]["msg"]
