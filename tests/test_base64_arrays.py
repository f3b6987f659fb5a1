"""Arrays as Base64Array objects in requests and, when asked, in answers: the same numbers."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx
import numpy as np
import pytest

from schemas import SPEC_EXAMPLE, SPEC_FORWARD_EXAMPLE, BackpropResponse, ForwardResponse

pytestmark = pytest.mark.anyio


def encoded(values: Any) -> dict[str, Any]:
    array = np.asarray(values, dtype="<f8")
    return {"shape": list(array.shape), "float64": base64.b64encode(array.tobytes()).decode()}


def decoded(value: dict[str, Any]) -> np.ndarray:
    data = base64.b64decode(value["float64"], validate=True)
    return np.frombuffer(data, dtype="<f8").reshape(value["shape"])


def with_encoded_arrays(request: dict[str, Any]) -> dict[str, Any]:
    request = copy.deepcopy(request)
    for layer in request["network"]["layers"]:
        layer["weights"] = encoded(layer["weights"])
        layer["biases"] = encoded(layer["biases"])
    for key in ("inputs", "targets"):
        if key in request:
            request[key] = encoded(request[key])
    return request


def as_lists(answer: Any) -> Any:
    """The answer with every Base64Array decoded back into lists of numbers."""
    if isinstance(answer, dict):
        if set(answer) == {"shape", "float64"}:
            return decoded(answer).tolist()
        return {key: as_lists(value) for key, value in answer.items()}
    if isinstance(answer, list):
        return [as_lists(item) for item in answer]
    return answer


@pytest.mark.parametrize("flat", [False, True])
async def test_base64_arrays_in_a_request_give_the_same_answer(
    client: httpx.AsyncClient, flat: bool
) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    if flat:
        request["inputs"], request["targets"] = request["inputs"][0], request["targets"][0]
    lists = await client.post("/v1/backprop", json=request)
    base64_request = await client.post("/v1/backprop", json=with_encoded_arrays(request))
    assert lists.status_code == base64_request.status_code == 200
    assert base64_request.content == lists.content


@pytest.mark.parametrize(("path", "example", "model"), [
    ("/v1/backprop", SPEC_EXAMPLE, BackpropResponse),
    ("/v1/forward", SPEC_FORWARD_EXAMPLE, ForwardResponse),
])  # fmt: skip
async def test_a_base64_answer_holds_the_same_numbers(
    client: httpx.AsyncClient, path: str, example: dict[str, Any], model: type[Any]
) -> None:
    lists = (await client.post(path, json=example)).json()
    response = await client.post(path, json={**example, "array_encoding": "base64"})
    model.model_validate_json(response.content)
    answer = response.json()
    assert answer["layers"][0]["activations"]["shape"] == [1, 3]
    assert as_lists(answer) == lists  # == on floats: bit for bit


WEIGHTS = ["body", "network", "layers", 0, "weights"]


@pytest.mark.parametrize(("array", "loc", "kind", "message"), [
    ({"shape": [2, 3], "float64": "not base64!"}, WEIGHTS, "base64_invalid", "not valid base64"),
    ({"shape": [2, 3], "float64": "é" * 64}, WEIGHTS, "base64_invalid", "only ASCII"),
    ({"shape": [2, 3], "float64": encoded([0.1] * 5)["float64"]}, WEIGHTS, "shape_mismatch",
     "float64 holds 40 bytes, but shape [2, 3] needs 6 numbers"),
    (encoded([0.1] * 6), WEIGHTS, "shape_invalid", "shape must be [rows, columns]"),
    (encoded([[0.1, np.nan, 0.5], [0.2, 0.4, 0.6]]), WEIGHTS, "finite_number",
     "not finite at index [0, 1]"),
    ({"shape": [2, 3]}, [*WEIGHTS, "float64"], "missing", "Field required"),
    (encoded([[0.1, 0.3, 0.5]]), ["body"], "shape_mismatch",
     "network.layers[0].weights has 1 rows but each sample of inputs has 2 numbers"),
])  # fmt: skip
async def test_a_bad_base64_array_is_a_422_that_names_the_place(
    client: httpx.AsyncClient, array: dict[str, Any], loc: list[Any], kind: str, message: str
) -> None:
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["network"]["layers"][0]["weights"] = array
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (problem["loc"], problem["type"]) == (loc, kind)
    assert message in problem["msg"]


@pytest.mark.parametrize(("weights", "problems"), [
    ([[0.1, "x", 0.5], [0.2, 0.4, 0.6]], [([*WEIGHTS, 0, 1], "float_type")]),
    ("abc", [(WEIGHTS, "list_type")]),
    (None, [(WEIGHTS, "list_type")]),
    ({"shape": [2, 3]}, [([*WEIGHTS, "float64"], "missing")]),
])  # fmt: skip
async def test_only_the_problems_of_the_form_meant_are_listed(
    client: httpx.AsyncClient, weights: Any, problems: list[tuple[list[Any], str]]
) -> None:
    """Lists unless it is an object: no "should be an object" for a bad list, and vice versa."""
    request = copy.deepcopy(SPEC_EXAMPLE)
    request["network"]["layers"][0]["weights"] = weights
    detail = (await client.post("/v1/backprop", json=request)).json()["detail"]
    assert [(p["loc"], p["type"]) for p in detail] == problems
