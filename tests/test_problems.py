"""POST /v1/problems: the same seed and parameters give the same problem, here and for good."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from engine.problems import SplitMix64

pytestmark = pytest.mark.anyio


def test_splitmix64_gives_the_reference_implementations_numbers() -> None:
    """The first outputs of Vigna's splitmix64.c for the seed 1234567."""
    rng = SplitMix64(1234567)
    assert [rng.next() for _ in range(5)] == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]


def test_draws_below_n_are_uniform_and_in_range() -> None:
    rng = SplitMix64(0)
    counts = [0] * 7
    for _ in range(7000):
        counts[rng.below(7)] += 1
    assert all(900 < c < 1100 for c in counts)


SEED_42 = {
    "network": {
        "layers": [
            {"weights": [[0.9, 0.9], [-1.0, -0.1]], "biases": [0.3, 0.8], "activation": "sigmoid"},
            {"weights": [[0.6, 1.0], [0.3, -0.5]], "biases": [-0.5, 0.3], "activation": "sigmoid"},
        ]
    },
    "inputs": [[-0.2, -0.6]],
    "targets": [[1.0, 0.5]],
    "loss": "mse",
    "learning_rate": 0.5,
}

GOLDEN: list[tuple[dict[str, Any], str]] = [
    ({"seed": 42}, "35df44b0626bb96bf590f35ae1b772aec5dd973c27655baa2afbee0d68f872f7"),
    (
        {"seed": 2**64 - 1, "layer_sizes": [3, 4, 2], "batch_size": 2, "decimals": 2},
        "cd81d51e4df1c99bdb1cf1da290920cd66403eb774608886cdfef3a49ee664da",
    ),
    (
        {
            "seed": 7,
            "layer_sizes": [2, 3, 3],
            "activations": ["relu", "softmax"],
            "loss": "cross_entropy",
            "batch_size": 3,
        },
        "59b5b8170d6d230de87a747248d4584b84da8a7ee115b177cd5b9f6dcefdf2fb",
    ),
    (
        {
            "seed": 123456789,
            "layer_sizes": [4, 2],
            "loss": "binary_cross_entropy",
            "decimals": 0,
            "weight_range": 3,
        },
        "ea4d6e5680e9b98fc84076103836e9bb2373a6a3c67afa45c9fa3cf158f4bc87",
    ),
]


async def generated(client: httpx.AsyncClient, **parameters: Any) -> dict[str, Any]:
    response = await client.post("/v1/problems", json=parameters)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_seed_42_is_this_problem_forever(client: httpx.AsyncClient) -> None:
    assert (await generated(client, seed=42))["problem"] == SEED_42


@pytest.mark.parametrize(("parameters", "digest"), GOLDEN, ids=[str(g[0]) for g in GOLDEN])
async def test_the_same_parameters_give_the_same_problem(
    client: httpx.AsyncClient, parameters: dict[str, Any], digest: str
) -> None:
    problem = (await generated(client, **parameters))["problem"]
    canonical = json.dumps(problem, sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == digest


async def test_each_student_gets_another_problem(client: httpx.AsyncClient) -> None:
    problems = [(await generated(client, seed=seed))["problem"] for seed in range(5)]
    assert len({json.dumps(p) for p in problems}) == 5


async def test_numbers_are_nice_for_hand_calculation(client: httpx.AsyncClient) -> None:
    problem = (await generated(client, seed=3, decimals=1, layer_sizes=[3, 4, 2]))["problem"]
    numbers = [
        x
        for layer in problem["network"]["layers"]
        for row in [*layer["weights"], layer["biases"]]
        for x in row
    ] + [x for row in problem["inputs"] for x in row]
    assert all(-1.0 <= x <= 1.0 and round(x, 1) == x for x in numbers)


async def test_classification_targets_are_one_hot_rows(client: httpx.AsyncClient) -> None:
    problem = (
        await generated(
            client,
            seed=5,
            layer_sizes=[2, 3],
            activations="softmax",
            loss="cross_entropy",
            batch_size=4,
        )
    )["problem"]
    assert all(sorted(row) == [0.0, 0.0, 1.0] for row in problem["targets"])


async def test_the_solution_is_the_backprop_answer(client: httpx.AsyncClient) -> None:
    answer = await generated(client, seed=9, solution=True, explain=True)
    backprop = await client.post("/v1/backprop", json=answer["problem"])
    assert answer["problem"]["explain"] is True
    assert answer["solution"] == backprop.json()
    assert "explanation" in answer["solution"]


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"seed": 1, "activations": ["sigmoid"]}, "activations has 1 entries but"),
        ({"seed": 1, "activations": ["softmax", "sigmoid"]}, "softmax, which can only be"),
        ({"seed": -1}, "greater than or equal to 0"),
        ({"seed": 1, "layer_sizes": [2, 9]}, "less than or equal to 8"),
        ({"seed": "1"}, "valid integer"),
    ],
)
async def test_bad_parameters_are_a_422(
    client: httpx.AsyncClient, parameters: dict[str, Any], words: str
) -> None:
    response = await client.post("/v1/problems", json=parameters)
    assert response.status_code == 422
    assert words in response.json()["detail"][0]["msg"]
