"""Each classic mistake, built into a submission by an independent oracle, is named as itself.

The problems come from /v1/problems (or are written out where a mistake needs a special case:
a z of exactly 0 for ReLU'(0)); the submissions from tests/grading_oracle.py, which knows nothing of
the engine. A test checks the set of items that fail, that each of them names the
mistake, and that every other item passes.

Updated parameters are compared as steps (W' - W against -eta dL/dW), so a wrong gradient
makes its update fail too, and the mistake is named there as well.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.grading_oracle import Student, solve

pytestmark = pytest.mark.anyio

GRADIENTS = ("deltas", "weight_gradients", "bias_gradients")
UPDATES = ("updated_weights", "updated_biases")
STEP = (*GRADIENTS, *UPDATES)


def ids(quantities: tuple[str, ...], layers: range | list[int]) -> set[str]:
    return {f"layers[{i}].{q}" for i in layers for q in quantities}


RELU_AT_ZERO_PROBLEM: dict[str, Any] = {
    "network": {
        "layers": [
            {"weights": [[0.5, 0.2], [-0.5, 0.4]], "biases": [0.0, 0.1], "activation": "relu"},
            {"weights": [[0.3, -0.6], [0.8, 0.1]], "biases": [0.1, -0.2], "activation": "sigmoid"},
        ]
    },
    "inputs": [[1.0, 1.0]],  # z^1_1 = 0.5 - 0.5 + 0 = 0 exactly: the kink
    "targets": [[1.0, 0.0]],
    "loss": "mse",
    "learning_rate": 0.5,
}

CE_MEAN = {"name": "cross_entropy", "reduction": "mean"}

# (mistake id, /v1/problems parameters or a literal problem, the student, items that must fail)
CASES: list[tuple[str, dict[str, Any], Student, set[str]]] = [
    (
        "loss_gradient_sign",
        {"seed": 1, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"loss_gradient_sign"}),
        ids(STEP, range(2)),
    ),
    (
        "output_activation_derivative_omitted",
        {"seed": 2, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"output_activation_derivative_omitted"}),
        ids(STEP, range(2)),
    ),
    (
        "activation_derivative_omitted",
        {"seed": 3, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"activation_derivative_omitted"}),
        ids(STEP, range(2)),
    ),
    (
        "derivative_at_activation",
        {"seed": 4, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"derivative_at_activation"}),
        ids(STEP, range(2)),
    ),
    (
        "weights_not_transposed",
        {"seed": 5, "layer_sizes": [2, 2, 2]},
        Student(mistakes={"weights_not_transposed"}),
        ids(STEP, [0]),
    ),
    (
        "weight_layout",
        {"seed": 6, "layer_sizes": [2, 2, 2]},
        Student(mistakes={"weight_layout"}),
        {"loss", "outputs"} | ids(("pre_activations", "activations", *STEP), range(2)),
    ),
    (
        "relu_grad_at_zero",
        {"literal": RELU_AT_ZERO_PROBLEM},
        Student(relu_at_zero=0),
        ids(STEP, [0]),
    ),
    (
        "mse_half",
        {"seed": 8, "layer_sizes": [2, 3, 2]},
        Student(mse_half=False),
        {"loss"} | ids(STEP, range(2)),
    ),
    (
        "mse_reduction",
        {"seed": 9, "layer_sizes": [2, 3, 2], "batch_size": 2},
        Student(reduction="mean"),
        {"loss"} | ids(STEP, range(2)),
    ),
    (
        "mean_scale_forgotten",
        {
            "seed": 10,
            "layer_sizes": [2, 3, 3],
            "activations": ["sigmoid", "softmax"],
            "loss": CE_MEAN,
            "batch_size": 3,
        },
        Student(loss="cross_entropy", reduction="mean", mistakes={"mean_scale_forgotten"}),
        ids(STEP, range(2)),
    ),
    (
        "weight_gradient_transposed",
        {"seed": 11, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"weight_gradient_transposed"}),
        ids(("weight_gradients",), range(2)),
    ),
    (
        "bias_gradient_not_summed",
        {"seed": 12, "layer_sizes": [2, 3, 2], "batch_size": 3},
        Student(mistakes={"bias_gradient_not_summed"}),
        ids(("bias_gradients", "updated_biases"), range(2)),
    ),
    (
        "bias_gradient_averaged",
        {"seed": 13, "layer_sizes": [2, 3, 2], "batch_size": 3},
        Student(mistakes={"bias_gradient_averaged"}),
        ids(("bias_gradients", "updated_biases"), range(2)),
    ),
    (
        "update_sign",
        {"seed": 14, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"update_sign"}),
        ids(UPDATES, range(2)),
    ),
    (
        "learning_rate_omitted",
        {"seed": 15, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"learning_rate_omitted"}),
        ids(UPDATES, range(2)),
    ),
    (
        "weight_gradient_own_activations",
        {"seed": 16, "layer_sizes": [2, 2, 2]},
        Student(mistakes={"weight_gradient_own_activations"}),
        ids(("weight_gradients", "updated_weights"), range(2)),
    ),
    (
        "weight_gradient_own_activations",  # layers of other widths: a gradient of another shape
        {"seed": 17, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"weight_gradient_own_activations"}),
        ids(("weight_gradients", "updated_weights"), range(2)),  # the updates missing
    ),
    (
        "layers_reversed",
        {"seed": 18, "layer_sizes": [2, 3, 2]},
        Student(mistakes={"layers_reversed"}),
        ids(("pre_activations", "activations", *STEP), range(2)),
    ),
]


async def problem_for(client: httpx.AsyncClient, parameters: dict[str, Any]) -> dict[str, Any]:
    if "literal" in parameters:
        literal: dict[str, Any] = parameters["literal"]
        return literal
    response = await client.post("/v1/problems", json=parameters)
    assert response.status_code == 200, response.text
    problem: dict[str, Any] = response.json()["problem"]
    return problem


async def grade(
    client: httpx.AsyncClient, problem: dict[str, Any], submission: dict[str, Any], **options: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/grade", json={"problem": problem, "submission": submission, **options}
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


@pytest.mark.parametrize(
    ("mistake", "parameters", "student", "failing"),
    CASES,
    ids=[f"{case[0]}-{case[1].get('seed', 'literal')}" for case in CASES],
)
async def test_a_submission_with_the_mistake_is_diagnosed_as_it(
    client: httpx.AsyncClient,
    mistake: str,
    parameters: dict[str, Any],
    student: Student,
    failing: set[str],
) -> None:
    problem = await problem_for(client, parameters)
    report = await grade(client, problem, solve(problem, student))
    items = {item["id"]: item for item in report["items"]}
    failed = {key for key, item in items.items() if item["status"] != "passed"}
    assert failed == failing
    for key in failed - {key for key, item in items.items() if item["status"] == "missing"}:
        item = items[key]
        named = [m["id"] for m in item.get("mistakes", [])]
        assert mistake in named, f"{key}: {item['feedback']}"
        assert "This is what you get when" in item["feedback"]
        assert item["score"] == 0.0


async def test_the_mse_of_pytorch_in_a_textbook_problem_names_both_differences(
    client: httpx.AsyncClient,
) -> None:
    problem = await problem_for(client, {"seed": 21, "layer_sizes": [2, 3, 2], "batch_size": 2})
    report = await grade(client, problem, solve(problem, Student(mse_half=False, reduction="mean")))
    deltas = next(i for i in report["items"] if i["id"] == "layers[1].deltas")
    assert {m["id"] for m in deltas["mistakes"]} == {"mse_half", "mse_reduction"}
    assert "missing its 1/2" in deltas["feedback"]


@pytest.mark.parametrize("parameters", [case[1] for case in CASES], ids=[c[0] for c in CASES])
async def test_the_oracles_correct_answer_gets_full_marks(
    client: httpx.AsyncClient, parameters: dict[str, Any]
) -> None:
    problem = await problem_for(client, parameters)
    student = (
        Student(loss="cross_entropy", reduction="mean") if problem["loss"] == CE_MEAN else Student()
    )
    report = await grade(client, problem, solve(problem, student))
    assert report["score"] == report["max_score"] == len(report["items"])
    assert all("mistakes" not in item for item in report["items"])


async def test_an_unexplained_error_is_not_given_a_name(client: httpx.AsyncClient) -> None:
    problem = await problem_for(client, {"seed": 30, "layer_sizes": [2, 3, 2]})
    submission = solve(problem, Student())
    submission["layers"][1]["deltas"][0][0] += 0.5  # a slip of the pen, no classic mistake
    report = await grade(client, problem, submission)
    deltas = next(i for i in report["items"] if i["id"] == "layers[1].deltas")
    assert deltas["status"] == "failed"
    assert "mistakes" not in deltas
    assert "This is what you get" not in deltas["feedback"]
    assert deltas["worst_entry"]["index"] == [0, 0]
    assert deltas["worked_formula"]["text"].startswith("delta^2_1 = o_1(1 - o_1)(o_1 - t_1) = ")
