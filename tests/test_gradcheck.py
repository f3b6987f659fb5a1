"""POST /v1/gradcheck: finite differences agree with backprop, and the check can fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest

from engine import PRESETS, BackpropProblem, DenseLayer, Network, Preset, make_activation
from engine.gradcheck import gradcheck, verdict
from engine.losses import MSE
from engine.types import FloatArray
from schemas import SPEC_EXAMPLE

pytestmark = pytest.mark.anyio

GRADCHECK_EXAMPLE = {k: v for k, v in SPEC_EXAMPLE.items() if k != "learning_rate"}


def test_verdicts_follow_the_cs231n_thresholds() -> None:
    assert [verdict(e) for e in (1e-9, 1e-6, 1e-3, 0.5)] == [
        "good",
        "acceptable",
        "suspicious",
        "wrong",
    ]


@dataclass(frozen=True)
class _WrongGradient(MSE):
    """An MSE whose gradient is off by 10%: a bug the check must catch."""

    name: ClassVar[str] = "mse"

    def gradient(self, o: FloatArray, y: FloatArray) -> FloatArray:
        return 1.1 * super().gradient(o, y)


def test_a_wrong_gradient_is_found_wrong() -> None:
    textbook = PRESETS[Preset.TEXTBOOK]
    sigmoid = make_activation("sigmoid", {}, textbook)
    network = Network(
        (
            DenseLayer(np.array([[0.1, 0.3], [0.2, 0.4]]), np.array([0.1, 0.1]), sigmoid),
            DenseLayer(np.array([[0.7], [0.9]]), np.array([0.2]), sigmoid),
        )
    )
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    right = gradcheck(BackpropProblem(network, x, y, MSE(reduction="sum", half=True), 0.0))
    wrong = gradcheck(
        BackpropProblem(network, x, y, _WrongGradient(reduction="sum", half=True), 0.0)
    )
    assert right.verdict == "good"
    assert wrong.verdict == "wrong"
    assert wrong.max_relative_error == pytest.approx(0.1 / 1.1, rel=1e-4)


BODIES: dict[str, dict[str, Any]] = {
    "sigmoid mse": GRADCHECK_EXAMPLE,
    "tanh softmax cross-entropy, mean, pytorch": {
        "network": {
            "layers": [
                {
                    "weights": [[0.2, -0.4], [0.5, 0.3], [0.1, 0.1]],
                    "biases": [0.1, -0.1, 0.0],
                    "activation": "tanh",
                },
                {
                    "weights": [[0.6, -0.2, 0.3], [0.1, 0.7, -0.3]],
                    "biases": [0.0, 0.2],
                    "activation": "softmax",
                },
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [1, 0],
        "loss": "cross_entropy",
        "conventions": "pytorch",
    },
    "gelu silu elu, huber": {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, -0.1], "activation": "gelu"},
                {"weights": [[0.6, -0.2], [0.1, 0.7]], "biases": [0.0, 0.2], "activation": "silu"},
                {"weights": [[0.3], [-0.5]], "biases": [0.1], "activation": "elu"},
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [[3.0], [-0.25]],
        "loss": {"name": "huber", "delta": 0.5},
    },
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_backprop_passes_its_own_gradient_check(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["verdict"] == "good"
    assert result["max_relative_error"] < 1e-7
    assert len(result["parameters"]) == 2 * len(body["network"]["layers"])
    assert result["thresholds"] == {"good": 1e-7, "acceptable": 1e-4, "suspicious": 1e-2}


async def test_a_relu_at_its_kink_is_flagged(client: httpx.AsyncClient) -> None:
    body = {
        "network": {
            "layers": [
                {"weights": [[0.5], [-0.5]], "biases": [0.0], "activation": "relu"},
                {"weights": [[0.3]], "biases": [0.1], "activation": "linear"},
            ]
        },
        "inputs": [[1.0, 1.0]],
        "targets": [[1.0]],
    }
    result = (await client.post("/v1/gradcheck", json=body)).json()
    assert result["near_kink"] is True
    assert result["verdict"] == "wrong"  # relu'(0) = 1 against the numeric 1/2


async def test_a_network_too_large_to_check_is_a_422(client: httpx.AsyncClient) -> None:
    width = 80
    body = {
        "network": {
            "layers": [
                {"weights": [[0.01] * width] * width, "biases": [0.0] * width, "activation": "relu"}
            ]
        },
        "inputs": [[1.0] * width],
        "targets": [[0.0] * width],
    }
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 422
    assert (
        "gradcheck perturbs each of the network's 6,480 weights and biases"
        in (response.json()["detail"][0]["msg"])
    )


async def test_gradcheck_needs_targets(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in GRADCHECK_EXAMPLE.items() if k != "targets"}
    response = await client.post("/v1/gradcheck", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "targets"]
