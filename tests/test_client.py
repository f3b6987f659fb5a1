"""backprop_client against a live server on 127.0.0.1, and its retry policy against fakes.

Every result is compared with the service's own JSON answer to the same request, sent by
plain httpx: the client must hand back exactly those numbers, whichever way they travelled.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from backprop_client import (
    AsyncClient,
    BackpropResult,
    Client,
    InvalidRequestError,
    Layer,
    PayloadTooLargeError,
    Problem,
)
from backprop_client.arrays import BASE64_MIN_VALUES, decode
from schemas import SPEC_EXAMPLE
from tests.live import serving

pytestmark = pytest.mark.server

SPEC_PROBLEM = Problem(
    layers=[
        Layer(np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]), np.array([0.1, 0.1, 0.1]), "sigmoid"),
        Layer(np.array([[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]]), np.array([0.2, 0.2]), "sigmoid"),
    ],
    inputs=np.array([[1.0, 2.0]]),
    targets=np.array([[1.0, 0.0]]),
    loss="mse",
    learning_rate=0.5,
)

WRONG_SIGN = {  # docs/grading.md's example: every delta with the sign of dL/do flipped
    "loss": 0.4322,
    "layers": [
        {"deltas": np.array([[-0.01049, -0.01016, -0.008323]])},
        {"deltas": np.array([[0.00771, -0.06405]])},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("client-server") / "server.log") as url:
        yield url


class Recorder:
    """The bodies the client sent, through an httpx event hook."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        if request.content:
            self.bodies.append(json.loads(request.content))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server: str, recorder: Recorder) -> Iterator[Client]:
    http = httpx.Client(base_url=server, event_hooks={"request": [recorder]}, timeout=60)
    with Client(http=http) as c:
        yield c
    http.close()


def plain(server: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server}{path}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def assert_same_backprop(result: BackpropResult, answer: dict[str, Any]) -> None:
    """Bit for bit: every array of the result is the JSON answer's, read as float64."""
    assert result.loss == answer["loss"]
    np.testing.assert_array_equal(result.outputs, decode(answer["outputs"]), strict=True)
    np.testing.assert_array_equal(result.input_gradients, decode(answer["input_gradients"]))
    for layer, expected in zip(result.layers, answer["layers"], strict=True):
        for name, value in expected.items():
            np.testing.assert_array_equal(getattr(layer, name), decode(value), strict=True)


# The network endpoints -------------------------------------------------------------------------


def test_backprop_gives_the_services_answer_as_arrays(
    client: Client, server: str, recorder: Recorder
) -> None:
    result = client.backprop(SPEC_PROBLEM)
    assert recorder.bodies == [SPEC_EXAMPLE]  # small: plain JSON lists, nothing added
    assert_same_backprop(result, plain(server, "/v1/backprop", SPEC_EXAMPLE))
    assert result.layers[1].deltas.shape == (1, 2)
    assert result.conventions.weight_layout == "in_out"
    assert result.explanation is None


def test_explain_adds_the_worked_formulas(client: Client, server: str) -> None:
    result = client.backprop(SPEC_PROBLEM, explain=True)
    answer = plain(server, "/v1/backprop", {**SPEC_EXAMPLE, "explain": True})
    assert result.explanation is not None
    delta = result.explanation.layers[1]["deltas"][1]
    assert delta.index == (0, 1)
    assert delta.text == answer["explanation"]["layers"][1]["deltas"][1]["text"]


def large_problem(seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    widths = (300, 40, 10)
    return Problem(
        layers=[
            Layer(rng.normal(0, 0.1, (n_in, n_out)), rng.normal(0, 0.01, n_out), activation)
            for (n_in, n_out), activation in zip(pairwise(widths), ("relu", "softmax"), strict=True)
        ],
        inputs=rng.random((16, widths[0])),
        targets=rng.integers(0, widths[-1], 16),
        loss="cross_entropy",
        learning_rate=0.1,
    )


def test_a_large_request_travels_as_base64_and_comes_back_bit_for_bit(
    client: Client, server: str, recorder: Recorder
) -> None:
    problem = large_problem()
    assert problem.float_values() >= BASE64_MIN_VALUES
    result = client.backprop(problem)
    sent = recorder.bodies[-1]
    assert sent["array_encoding"] == "base64"
    assert set(sent["network"]["layers"][0]["weights"]) == {"shape", "float64"}
    assert sent["targets"] == np.asarray(problem.targets).tolist()  # class indices stay ints
    lists = client.backprop(problem, array_encoding="lists")
    assert "array_encoding" not in recorder.bodies[-1]
    assert isinstance(recorder.bodies[-1]["inputs"], list)
    answer = plain(server, "/v1/backprop", recorder.bodies[-1])
    assert_same_backprop(result, answer)
    assert_same_backprop(lists, answer)
    result.layers[0].weight_gradients[0, 0] = 0.0  # arrays read from base64 are writable


def test_forward_and_a_gradient_step(client: Client, server: str) -> None:
    forward = client.forward(SPEC_PROBLEM)
    answer = plain(server, "/v1/forward", {k: v for k, v in SPEC_EXAMPLE.items()
                                           if k != "learning_rate"})  # fmt: skip
    assert forward.loss == answer["loss"]
    np.testing.assert_array_equal(forward.layers[0].activations, answer["layers"][0]["activations"])
    no_targets = Problem(SPEC_PROBLEM.layers, SPEC_PROBLEM.inputs)
    assert client.forward(no_targets).loss is None
    first = client.backprop(SPEC_PROBLEM)
    second = client.backprop(SPEC_PROBLEM.stepped(first))
    assert second.loss < first.loss
    np.testing.assert_array_equal(
        second.layers[0].pre_activations,
        SPEC_PROBLEM.inputs @ first.layers[0].updated_weights + first.layers[0].updated_biases,
    )


def test_gradcheck(client: Client) -> None:
    check = client.gradcheck(SPEC_PROBLEM)
    assert check.verdict == "good"
    assert [(c.layer, c.parameter) for c in check.parameters] == [
        (0, "weights"), (0, "biases"), (1, "weights"), (1, "biases"),
    ]  # fmt: skip


def test_a_seeded_problem_and_its_solution(client: Client, server: str) -> None:
    generated = client.problems(7, layer_sizes=[2, 3, 2], solution=True)
    answer = plain(server, "/v1/problems", {"seed": 7, "layer_sizes": [2, 3, 2],
                                            "solution": True})  # fmt: skip
    assert generated.request == answer["problem"]
    assert generated.solution is not None
    assert_same_backprop(generated.solution, answer["solution"])
    assert_same_backprop(client.backprop(generated.problem), answer["solution"])


# Grading ------------------------------------------------------------------------------------------


def test_grade_names_the_mistake(client: Client) -> None:
    report = client.grade(SPEC_PROBLEM, WRONG_SIGN, quantities=["loss", "deltas"])
    assert (report.score, report.max_score) == (1.0, 3.0)
    hidden, failed = report.failed
    assert (hidden.id, failed.id) == ("layers[0].deltas", "layers[1].deltas")
    assert [m.id for m in hidden.mistakes] == [m.id for m in failed.mistakes]
    assert [m.id for m in failed.mistakes] == ["loss_gradient_sign"]
    assert failed.worst_entry is not None
    assert failed.worst_entry.index == (0, 1)
    assert failed.worked_formula is not None
    assert failed.worked_formula.startswith("delta^2_2 = ")


def test_a_whole_answer_passes_and_formats_for_autograders(client: Client) -> None:
    reference = client.backprop(SPEC_PROBLEM)
    report = client.grade(SPEC_PROBLEM, reference)
    assert report.score == report.max_score == 16.0  # loss, outputs, 7 items per layer
    gradescope = client.grade_results(SPEC_PROBLEM, WRONG_SIGN, "gradescope",
                                      quantities=["loss", "deltas"])  # fmt: skip
    assert gradescope["score"] == 1.0
    assert [t["status"] for t in gradescope["tests"]] == ["passed", "failed", "failed"]


def test_grade_batch(client: Client) -> None:
    batch = client.grade_batch(
        SPEC_PROBLEM, {"ada": client.backprop(SPEC_PROBLEM), "bob": WRONG_SIGN},
        quantities=["loss", "deltas"],
    )  # fmt: skip
    assert list(batch.reports) == ["ada", "bob"]
    assert batch.reports["ada"].score == 3.0
    assert batch.reports["bob"].score == 1.0
    assert batch.class_summary.mistakes == {"loss_gradient_sign": 1}


# Derivatives and the rest -------------------------------------------------------------------------


def test_derivatives(client: Client) -> None:
    result = client.derivatives("x^2*y", point={"x": 2.0, "y": 3.0})
    assert result.variables == ("x", "y")
    assert result.gradient_value is not None
    np.testing.assert_array_equal(result.gradient_value, [12.0, 4.0])
    assert result.derivatives[0].steps[0].rule == "constant multiple rule"  # y is constant
    right = client.derivatives_grade("x^2*sin(x)", "2*x*sin(x) + x^2*cos(x)")
    wrong = client.derivatives_grade("x^2*sin(x)", "2*x*cos(x)")
    assert (right.score, wrong.score) == (1.0, 0.0)
    assert wrong.items[0].details["counterexample"] is not None
    descent = client.derivatives_descent("x^2", {"x": 1.0}, learning_rate=0.25, steps=2)
    np.testing.assert_allclose(descent.values, [1.0, 0.25, 0.0625], rtol=1e-15)
    assert descent.point == {"x": 0.25}


def test_catalogues_and_health(client: Client) -> None:
    assert "leaky_relu" in {a.name for a in client.activations()}
    losses = {x.name: x for x in client.losses()}
    assert losses["cross_entropy"].class_indices
    assert client.limits()["max_layers"].setting == "BACKPROP_MAX_LAYERS"
    presets = client.conventions()
    assert sorted(presets) == ["keras", "pytorch", "textbook"]
    assert presets["keras"]["leaky_relu_negative_slope"] == 0.3
    assert client.version() == importlib.metadata.version("backprop-service")
    assert client.healthz() == "ok"
    assert client.readyz() is True


@pytest.mark.anyio
async def test_the_async_client_gives_the_same_answers(server: str) -> None:
    async with AsyncClient(server) as client:
        result = await client.backprop(SPEC_PROBLEM)
        report = await client.grade(SPEC_PROBLEM, WRONG_SIGN, quantities=["deltas"])
        ready = await client.readyz()
    assert_same_backprop(result, plain(server, "/v1/backprop", SPEC_EXAMPLE))
    assert report.failed[0].mistakes[0].id == "loss_gradient_sign"
    assert ready


# Errors -------------------------------------------------------------------------------------------


def test_an_invalid_request_raises_with_the_services_located_messages(
    client: Client, server: str
) -> None:
    bad = Problem([SPEC_PROBLEM.layers[0], SPEC_PROBLEM.layers[0]], SPEC_PROBLEM.inputs,
                  SPEC_PROBLEM.targets, learning_rate=0.5)  # fmt: skip
    with pytest.raises(InvalidRequestError) as caught:
        client.backprop(bad)
    sent = bad.body("lists")
    sent["learning_rate"] = 0.5
    answer = httpx.post(f"{server}/v1/backprop", json=sent).json()
    assert caught.value.status_code == 422
    assert [(list(d.loc), d.msg, d.type) for d in caught.value.details] == [
        (d["loc"], d["msg"], d["type"]) for d in answer["detail"]
    ]
    assert "network.layers[1].weights has 2 rows but layer 1 has 3 outputs" in str(caught.value)


def test_a_missing_field_is_located(client: Client) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.backprop(Problem(SPEC_PROBLEM.layers, SPEC_PROBLEM.inputs, SPEC_PROBLEM.targets))
    (detail,) = caught.value.details
    assert (detail.where, detail.type) == ("learning_rate", "missing")


def test_a_body_over_the_limit_raises_payload_too_large(tmp_path: Any) -> None:
    settings = {"BACKPROP_MAX_BODY_BYTES": "2000"}
    with (
        serving(tmp_path / "server.log", settings) as url,
        Client(url) as client,
        pytest.raises(PayloadTooLargeError) as caught,
    ):
        client.backprop(large_problem())
    assert caught.value.status_code == 413
    assert "max_body_bytes" in caught.value.messages[0]


def test_the_readme_example_prints_what_it_says(server: str) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Python client", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    code = match.group(1)
    shown = [line.split("# ", 1)[1] for line in code.splitlines() if "print(" in line]
    run = subprocess.run(
        [sys.executable, "-c", code.replace("http://127.0.0.1:8000", server)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == shown
