""" "explain": true on /v1/backprop: each entry's formula, with numbers that add up."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import pytest

import engine
from schemas import SPEC_EXAMPLE

pytestmark = pytest.mark.anyio

ISSUE_EXAMPLE = (
    "delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = 0.9078 * (1 - 0.9078) * (0.9078 - 1) = -0.00771"
)
ARITHMETIC = re.compile(r"^[0-9eE.+\-*/() ^]+$")
# what else the numbers of a formula may hold: a call of an activation, f' or sign or clip
CALLS = re.compile(r"\b(?:" + "|".join(sorted(engine.ACTIVATIONS)) + r"|sign|clip)'?(?=\()")


async def explained(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/backprop", json={**body, "explain": True})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_the_textbook_example_reads_as_the_textbook_writes_it(
    client: httpx.AsyncClient,
) -> None:
    answer = await explained(client, SPEC_EXAMPLE)
    entry = answer["explanation"]["layers"][1]["deltas"][0]
    assert entry["index"] == [0, 0]
    assert entry["text"] == ISSUE_EXAMPLE
    assert entry["latex"] == (
        r"\delta^{2}_{1} = o_{1}(1 - o_{1})(o_{1} - t_{1}) = 0.9078 \cdot (1 - 0.9078) "
        r"\cdot (0.9078 - 1) = -0.00771"
    )
    hidden = answer["explanation"]["layers"][0]["deltas"][0]["text"]
    assert hidden.startswith(
        "delta^1_1 = a^1_1(1 - a^1_1)(w^2_(1,1) delta^2_1 + w^2_(1,2) delta^2_2) = "
    )


async def test_without_explain_there_is_no_explanation(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert "explanation" not in response.json()


NETWORKS: dict[str, dict[str, Any]] = {
    "sigmoid mse": SPEC_EXAMPLE,
    "tanh relu linear, mse mean, 2 samples": {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, -0.1], "activation": "tanh"},
                {"weights": [[0.6, -0.2], [0.1, 0.7]], "biases": [0.0, 0.2], "activation": "relu"},
                {"weights": [[0.3], [-0.5]], "biases": [0.1], "activation": "linear"},
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [[0.5], [-0.25]],
        "loss": {"name": "mse", "reduction": "mean"},
        "learning_rate": 0.1,
    },
    "softmax cross-entropy, pytorch layout": {
        "network": {
            "layers": [
                {
                    "weights": [[0.2, -0.4], [0.5, 0.3], [0.1, 0.1]],
                    "biases": [0.1, -0.1, 0.0],
                    "activation": "sigmoid",
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
        "learning_rate": 0.1,
        "ascent": True,
    },
    "tanh linear, smooth_l1, 2 samples": {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, -0.1], "activation": "tanh"},
                {
                    "weights": [[0.6, -0.2], [0.1, 0.7]],
                    "biases": [0.0, 0.2],
                    "activation": "linear",
                },
            ]
        },
        "inputs": [[1.0, -2.0], [0.5, 0.5]],
        "targets": [[0.5, 1.0], [-0.25, 0.0]],
        "loss": {"name": "smooth_l1", "beta": 0.5, "reduction": "mean"},
        "learning_rate": 0.1,
    },
    "sigmoid binary cross-entropy": {
        "network": {
            "layers": [
                {
                    "weights": [[0.2, -0.4], [0.5, 0.3]],
                    "biases": [0.1, -0.1],
                    "activation": "sigmoid",
                },
            ]
        },
        "inputs": [[1.0, -2.0]],
        "targets": [[1.0, 0.0]],
        "loss": "binary_cross_entropy",
        "learning_rate": 0.5,
    },
}


def _one_layer(activation: str, loss: Any, targets: Any, **conventions: Any) -> dict[str, Any]:
    """One 2-2 layer, two samples: each loss's output delta, with the reduction's scale."""
    return {
        "network": {"layers": [{"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, 0.6],
                                "activation": activation}]},
        "inputs": [[1.0, -0.5], [0.25, 0.5]], "targets": targets, "loss": loss,
        "learning_rate": 0.1, **conventions,
    }  # fmt: skip


# Every other form of an output delta: 2 (o - t) / N for a mean MSE, a softmax carried through
# its Jacobian, cross-entropy over logits (p - t) and over non-softmax outputs (-t / o), binary
# cross-entropy over logits (sigmoid(z) - t) and over non-sigmoid outputs ((o - t) / (o(1 - o))).
NETWORKS |= {
    "tanh, mse mean without 1/2 (pytorch)": _one_layer(
        "tanh", "mse", [[1.0, 0.0], [0.0, 1.0]], conventions="pytorch", weight_layout="in_out"
    ),
    "tanh softmax, mse": {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.4], [0.5, 0.3]], "biases": [0.1, -0.1], "activation": "tanh"},
                {
                    "weights": [[0.6, -0.2], [0.1, 0.7]],
                    "biases": [0.0, 0.2],
                    "activation": "softmax",
                },
            ]
        },
        "inputs": [[1.0, -2.0]],
        "targets": [[1.0, 0.0]],
        "loss": "mse",
        "learning_rate": 0.1,
    },
    "cross-entropy over logits": _one_layer(
        "linear", {"name": "cross_entropy", "from_logits": True}, [1, 0]
    ),
    "cross-entropy over sigmoid outputs": _one_layer("sigmoid", "cross_entropy", [1, 0]),
    "binary cross-entropy over logits": _one_layer(
        "linear",
        {"name": "binary_cross_entropy", "from_logits": True, "reduction": "mean"},
        [[1.0, 0.0], [0.0, 1.0]],
    ),
    "binary cross-entropy over linear outputs": _one_layer(
        "linear", "binary_cross_entropy", [[1.0, 0.0], [0.0, 1.0]]
    ),
    # smooth_l1: d / beta inside, sign(d) outside (sample 0: d = -0.45 and -1.95, beta 0.5);
    # beta = 0 is l1's sign(d)
    "smooth_l1 both sides": _one_layer(
        "linear", {"name": "smooth_l1", "beta": 0.5}, [[0.5, 2.0], [0.0, 0.0]]
    ),
    "smooth_l1 default beta 1": _one_layer("linear", "smooth_l1", [[0.5, 2.0], [0.0, 0.0]]),
    "smooth_l1 beta 0, mean": _one_layer(
        "linear", {"name": "smooth_l1", "beta": 0.0, "reduction": "mean"}, [[0.5, 0.0], [0.0, 2.0]]
    ),
    # keras: a softmax (sigmoid) output gives its logits to the loss, so p - t, no clipping
    "cross-entropy over softmax (keras)": _one_layer(
        "softmax", "cross_entropy", [1, 0], conventions="keras"
    ),
    "cross-entropy over sigmoid outputs (keras: normalized, clipped)": _one_layer(
        "sigmoid", "cross_entropy", [1, 0], conventions="keras"
    ),
    "binary cross-entropy over sigmoid (keras)": _one_layer(
        "sigmoid", "binary_cross_entropy", [[1.0, 0.0], [0.0, 1.0]], conventions="keras"
    ),
}


def _at(array: Any, index: list[int]) -> float:
    for i in index:
        array = array[i]
    return float(array)


@pytest.mark.parametrize("body", NETWORKS.values(), ids=NETWORKS.keys())
async def test_every_formula_ends_in_the_answer_and_its_numbers_add_up(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    answer = await explained(client, body)
    checked = 0
    sample = answer["explanation"]["sample"]
    for layer, explanation in zip(answer["layers"], answer["explanation"]["layers"], strict=True):
        for quantity, entries in explanation.items():
            per_sample = quantity in ("pre_activations", "activations", "deltas")
            worked = layer[quantity][sample] if per_sample else _flatten(layer[quantity])
            assert len(entries) == len(worked), f"{quantity}: an entry is missing"
            for entry in entries:
                value = _at(layer[quantity], entry["index"])
                *_, numbers, result = entry["text"].split(" = ")
                assert result == f"{value:.4g}"
                assert ARITHMETIC.match(CALLS.sub("", numbers).replace(",", "")), entry["text"]
                if ARITHMETIC.match(numbers):
                    evaluated = eval(
                        numbers.replace("^", "**"), {"e": math.e}
                    )  # digits, e, operators
                    assert math.isclose(evaluated, value, rel_tol=2e-2, abs_tol=2e-3), entry["text"]
                    checked += 1
    assert checked > 10


def _flatten(value: Any) -> list[Any]:
    return [x for v in value for x in _flatten(v)] if isinstance(value, list) else [value]


async def test_the_chosen_sample_is_the_one_worked(client: httpx.AsyncClient) -> None:
    body = NETWORKS["tanh relu linear, mse mean, 2 samples"]
    answer = await explained(client, {**body, "explain_sample": 1})
    assert answer["explanation"]["sample"] == 1
    entry = answer["explanation"]["layers"][2]["deltas"][0]
    assert entry["index"] == [1, 0]
    gradient = answer["explanation"]["layers"][2]["weight_gradients"][0]["text"]
    assert gradient.startswith("dL/dw^3_(1,1) = sum_n a^2_1[n] delta^3_1[n] = ")


async def test_a_flat_sample_has_flat_indices(client: httpx.AsyncClient) -> None:
    body = {**SPEC_EXAMPLE, "inputs": [1.0, 2.0], "targets": [1.0, 0.0]}
    answer = await explained(client, body)
    assert answer["explanation"]["layers"][1]["deltas"][0]["index"] == [0]
    assert answer["explanation"]["layers"][1]["deltas"][0]["text"] == ISSUE_EXAMPLE


async def test_a_large_network_is_not_explained(client: httpx.AsyncClient) -> None:
    body = {
        "network": {
            "layers": [{"weights": [[0.1] * 20], "biases": [0.0] * 20, "activation": "relu"}]
        },
        "inputs": [[1.0]],
        "targets": [[0.0] * 20],
        "learning_rate": 0.1,
        "explain": True,
    }
    response = await client.post("/v1/backprop", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == (
        "explain is for networks worked by hand, but a layer has 20 units "
        "(at most 16, inputs included)"
    )


async def test_explain_sample_must_be_a_sample(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/backprop", json={**SPEC_EXAMPLE, "explain": True, "explain_sample": 1}
    )
    assert response.status_code == 422
    assert "explain_sample is 1, but inputs has 1 sample" in response.json()["detail"][0]["msg"]


async def test_a_softmax_output_is_worked_as_the_whole_softmax(client: httpx.AsyncClient) -> None:
    """Case external/05: PostNetwork Academy's 3-2-2 network, whose output unit 2
    is e^(z_2) / (e^(z_1) + e^(z_2)), not "softmax(0.1574)", softmax of one number (which is 1)."""
    body = {
        "network": {
            "layers": [
                {"weights": [[0.2, -0.5], [-0.3, 0.1], [0.4, 0.2]], "biases": [0.5, 0.5],
                 "activation": "sigmoid"},
                {"weights": [[0.3, -0.1], [0.4, 0.2]], "biases": [0.1, 0.1],
                 "activation": "softmax"},
            ]
        },
        "inputs": [[1, 2, -1]], "targets": [0], "loss": "cross_entropy", "learning_rate": 0.1,
    }  # fmt: skip
    answer = await explained(client, body)
    entry = answer["explanation"]["layers"][1]["activations"][1]
    assert entry["text"] == (
        "o_2 = e^(z^2_2) / (e^(z^2_1) + e^(z^2_2)) = e^0.1574 / (e^0.4277 + e^0.1574) = 0.4329"
    )
    assert entry["latex"] == (
        r"o_{2} = e^{z^{2}_{2}} / (e^{z^{2}_{1}} + e^{z^{2}_{2}}) = "
        r"e^{0.1574} / (e^{0.4277} + e^{0.1574}) = 0.4329"
    )
    assert answer["loss"] == pytest.approx(0.567136, abs=1e-6)  # the source's L


IDENTITY = {"weights": [[1.0, 0.0], [0.0, 1.0]], "biases": [0.0, 0.0], "activation": "linear"}
# o = x = [0.2, -3] against t = [1, 0]: o - t = [-0.8, -3]
WORKED_OUTPUT_DELTAS = {
    "huber, sum": ({"name": "huber", "delta": 0.5}, [
        "delta^1_1 = clip(o_1 - t_1, -delta, delta) = clip(0.2 - 1, (-0.5), 0.5) = -0.5",
        "delta^1_2 = clip(o_2 - t_2, -delta, delta) = clip((-3) - 0, (-0.5), 0.5) = -0.5",
    ]),
    "huber, mean over 2 elements": ({"name": "huber", "delta": 0.5, "reduction": "mean"}, [
        "delta^1_1 = (1/2) clip(o_1 - t_1, -delta, delta) = (1/2) * clip(0.2 - 1, (-0.5), 0.5)"
        " = -0.25",
        "delta^1_2 = (1/2) clip(o_2 - t_2, -delta, delta) = (1/2) * clip((-3) - 0, (-0.5), 0.5)"
        " = -0.25",
    ]),
    "l1": ("l1", [
        "delta^1_1 = sign(o_1 - t_1) = sign(0.2 - 1) = -1",
        "delta^1_2 = sign(o_2 - t_2) = sign((-3) - 0) = -1",
    ]),
}  # fmt: skip


@pytest.mark.parametrize("case", WORKED_OUTPUT_DELTAS.values(), ids=WORKED_OUTPUT_DELTAS.keys())
async def test_a_piecewise_losss_delta_is_written_with_its_parameters(
    client: httpx.AsyncClient, case: tuple[Any, list[str]]
) -> None:
    """clip and sign are not arithmetic the numbers check can evaluate: the whole text, by hand."""
    loss, texts = case
    body = {"network": {"layers": [IDENTITY]}, "inputs": [[0.2, -3.0]], "targets": [[1.0, 0.0]],
            "loss": loss, "learning_rate": 0.1}  # fmt: skip
    answer = await explained(client, body)
    assert [e["text"] for e in answer["explanation"]["layers"][0]["deltas"]] == texts


async def test_an_activation_with_no_short_derivative_is_written_f_prime(
    client: httpx.AsyncClient,
) -> None:
    """x = 1, z^1 = 1 + 0.5 = 1.5 > 0, o = 2 * 1.5 = 3, t = 1: delta^2 = 2 and
    delta^1 = relu'(1.5) * 2 * 2 = 4."""
    body = {
        "network": {"layers": [
            {"weights": [[1.0]], "biases": [0.5], "activation": "relu"},
            {"weights": [[2.0]], "biases": [0.0], "activation": "linear"},
        ]},
        "inputs": [[1.0]], "targets": [[1.0]], "learning_rate": 0.1,
    }  # fmt: skip
    answer = await explained(client, body)
    [entry] = answer["explanation"]["layers"][0]["deltas"]
    assert entry["text"] == "delta^1_1 = relu'(z^1_1)(w^2_(1,1) delta^2_1) = 1 * (2 * 2) = 4"


@pytest.mark.parametrize(
    ("loss", "targets"),
    [({"name": "cross_entropy", "label_smoothing": 0.1}, [[1.0, 0.0]]),
     ("cross_entropy", [[0.5, 0.2]])],
    ids=["label smoothing", "targets that sum to 0.7"],
)  # fmt: skip
async def test_a_cross_entropy_with_no_short_formula_leaves_the_output_deltas_unexplained(
    client: httpx.AsyncClient, loss: Any, targets: Any
) -> None:
    """p - t holds only for targets that sum to 1 (in general dL/dz = p sum(t') - t')."""
    body = {
        "network": {"layers": [IDENTITY, {**IDENTITY, "activation": "softmax"}]},
        "inputs": [[0.2, -3.0]], "targets": targets, "loss": loss, "learning_rate": 0.1,
    }  # fmt: skip
    layers = (await explained(client, body))["explanation"]["layers"]
    assert layers[1]["deltas"] == []
    assert len(layers[1]["activations"]) == 2
