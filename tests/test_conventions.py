"""The conventions: the kink at z = 0, the weight layout, the MSE form and default reductions.

Every expected value is worked out by hand in the test.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from engine.activations import SELU_ALPHA, SELU_SCALE
from tests.test_gradients import answer

KINK_CASES = [
    # activation, derivative at 0 from the right (textbook), from the left (pytorch)
    ("relu", 1.0, 0.0),
    ({"name": "leaky_relu", "negative_slope": 0.2}, 1.0, 0.2),
    ("leaky_relu", 1.0, 0.01),
]
# Not named by the convention: PyTorch's value at 0 (the z <= 0 branch) under either preset.
UNNAMED_KINKS = [({"name": "elu", "alpha": 0.7}, 0.7), ("selu", SELU_SCALE * SELU_ALPHA)]


def kink_request(activation: Any, **conventions: Any) -> dict[str, Any]:
    """z^1 = 0 exactly (zero weight and bias); layer 2 is linear with weight 2; target 1.

    The answer's output is 2 f(0) = 0, so under the 1/2-sum MSE dL/do = -1, delta^2 = -1 and
    the upstream gradient at layer 1 is -1 * 2 = -2: delta^1 = -2 f'(0).
    """
    return {
        "network": {"layers": [
            {"weights": [[0.0]], "biases": [0.0], "activation": activation},
            {"weights": [[2.0]], "biases": [0.0], "activation": "linear"},
        ]},
        "inputs": [[1.0]], "targets": [[1.0]], "learning_rate": 0.1,
        "loss": {"name": "mse", "reduction": "sum", "half": True},
        **conventions,
    }  # fmt: skip


@pytest.mark.parametrize(("activation", "right", "left"), KINK_CASES)
def test_kink_takes_the_right_hand_derivative_in_the_textbook_preset(
    activation: Any, right: float, left: float
) -> None:
    got = answer(kink_request(activation))
    assert got["layers"][0]["pre_activations"] == [[0.0]]
    assert got["layers"][0]["deltas"] == [[-2.0 * right]]


@pytest.mark.parametrize(("activation", "right", "left"), KINK_CASES)
def test_kink_takes_the_left_hand_derivative_in_the_pytorch_preset(
    activation: Any, right: float, left: float
) -> None:
    got = answer(kink_request(activation, conventions="pytorch", weight_layout="in_out"))
    assert got["layers"][0]["deltas"] == [[-2.0 * left]]


@pytest.mark.parametrize(("activation", "right", "left"), KINK_CASES)
@pytest.mark.parametrize("preset", ["textbook", "pytorch"])
def test_relu_grad_at_zero_overrides_either_preset(
    activation: Any, right: float, left: float, preset: str
) -> None:
    for grad_at_zero, slope in ((1, right), (0, left)):
        request = kink_request(activation, conventions=preset, weight_layout="in_out",
                               relu_grad_at_zero=grad_at_zero)  # fmt: skip
        got = answer(request)
        assert got["layers"][0]["deltas"] == [[-2.0 * slope]]
        assert got["conventions"]["relu_grad_at_zero"] == grad_at_zero


@pytest.mark.parametrize(("activation", "slope"), UNNAMED_KINKS)
@pytest.mark.parametrize(
    "conventions",
    [
        {},
        {"conventions": "pytorch", "weight_layout": "in_out"},
        {"relu_grad_at_zero": 1},
        {"relu_grad_at_zero": 0},
    ],
)
def test_elu_and_selu_take_pytorchs_value_at_zero_under_every_setting(
    activation: Any, slope: float, conventions: dict[str, Any]
) -> None:
    got = answer(kink_request(activation, **conventions))  # the loss is fixed: 1/2 sum MSE
    assert got["layers"][0]["deltas"] == [[-2.0 * slope]]


def random_request(rng: np.random.Generator, layout: str) -> dict[str, Any]:
    widths = [3, 4, 2]
    Ws = [rng.normal(size=(a, b)) for a, b in pairwise(widths)]
    return {
        "network": {"layers": [
            {"weights": (W if layout == "in_out" else W.T).tolist(),
             "biases": rng.normal(size=W.shape[1]).tolist(), "activation": act}
            for W, act in zip(Ws, ["tanh", "sigmoid"], strict=True)
        ]},
        "inputs": rng.normal(size=(5, 3)).tolist(), "targets": rng.normal(size=(5, 2)).tolist(),
        "learning_rate": 0.25, "weight_layout": layout,
    }  # fmt: skip


def test_out_in_layout_gives_the_same_answer_with_every_matrix_transposed() -> None:
    in_out = answer(random_request(np.random.default_rng(7), "in_out"))
    out_in = answer(random_request(np.random.default_rng(7), "out_in"))
    close = {"rtol": 1e-14, "atol": 1e-15}
    np.testing.assert_allclose(out_in["loss"], in_out["loss"], **close)
    for a, b in zip(in_out["layers"], out_in["layers"], strict=True):
        for field in ("pre_activations", "activations", "deltas", "bias_gradients",
                      "updated_biases"):  # fmt: skip
            np.testing.assert_allclose(b[field], a[field], **close)
        for field in ("weight_gradients", "updated_weights"):
            np.testing.assert_allclose(np.array(b[field]).T, a[field], **close)
    assert out_in["conventions"]["weight_layout"] == "out_in"


def test_pytorch_preset_reads_weights_as_out_in() -> None:
    request = random_request(np.random.default_rng(3), "out_in")
    del request["weight_layout"]
    explicit = answer(
        {
            **request,
            "weight_layout": "out_in",
            "relu_grad_at_zero": 0,
            "loss": {"name": "mse", "reduction": "mean", "half": False},
        }
    )
    assert answer({**request, "conventions": "pytorch"})["layers"] == explicit["layers"]


def linear_request(loss: Any, **conventions: Any) -> dict[str, Any]:
    """outputs = inputs (identity weights, zero biases).

    o = [[1, 2], [3, 5]] and t = [[0, 0], [1, 1]].
    """
    return {
        "network": {"layers": [{"weights": [[1.0, 0.0], [0.0, 1.0]], "biases": [0.0, 0.0],
                                "activation": "linear"}]},
        "inputs": [[1.0, 2.0], [3.0, 5.0]], "targets": [[0.0, 0.0], [1.0, 1.0]],
        "learning_rate": 0.1, "loss": loss, **conventions,
    }  # fmt: skip


# o - t = [[1, 2], [2, 4]]: sum of squares 25, 4 elements, 2 samples.
PYTORCH = {"conventions": "pytorch", "weight_layout": "in_out"}
MSE_CASES = [
    ("mse", {}, 12.5, 1.0),  # textbook: 1/2 sum, dL/do = o - t
    ("mse", PYTORCH, 25 / 4, 2 / 4),  # pytorch: mean, no 1/2
    ({"name": "mse", "reduction": "batch_mean"}, {}, 12.5 / 2, 1 / 2),  # 1/2 sum / N
    ({"name": "mse", "half": False}, {}, 25.0, 2.0),
    ({"name": "mse", "half": True}, PYTORCH, 25 / 8, 1 / 4),
    ({"name": "mse", "reduction": "sum"}, PYTORCH, 25.0, 2.0),
]


@pytest.mark.parametrize(("loss", "conventions", "value", "factor"), MSE_CASES)
def test_mse_forms(loss: Any, conventions: dict[str, Any], value: float, factor: float) -> None:
    got = answer(linear_request(loss, **conventions))
    assert got["loss"] == value
    assert got["layers"][0]["deltas"] == [[factor * 1, factor * 2], [factor * 2, factor * 4]]


def test_other_losses_sum_in_the_textbook_preset_and_average_in_pytorchs() -> None:
    summed = answer(linear_request("l1"))["loss"]
    averaged = answer(linear_request("l1", conventions="pytorch", weight_layout="in_out"))
    assert summed == 9.0
    assert averaged["loss"] == 9.0 / 4
    assert averaged["conventions"]["loss"] == {"name": "l1", "reduction": "mean"}


def test_cross_entropy_mean_is_over_samples() -> None:
    request = {
        "network": {"layers": [{"weights": [[1.0, 0.0], [0.0, 1.0]], "biases": [0.0, 0.0],
                                "activation": "softmax"}]},
        "inputs": [[0.0, 0.0], [math.log(3.0), 0.0]], "targets": [0, 0], "learning_rate": 0.1,
        "loss": "cross_entropy",
    }  # fmt: skip
    # p = [1/2, 1/2] and [3/4, 1/4]: L = ln 2 + ln(4/3) summed, halved for the mean.
    expected_sum = math.log(2.0) + math.log(4.0 / 3.0)
    assert answer(request)["loss"] == pytest.approx(expected_sum, rel=1e-15)
    got = answer({**request, "conventions": "pytorch", "weight_layout": "in_out"})
    assert got["loss"] == pytest.approx(expected_sum / 2, rel=1e-15)
    np.testing.assert_allclose(got["layers"][0]["deltas"],
                               [[-0.25, 0.25], [-0.125, 0.125]], rtol=1e-15)  # fmt: skip


def test_ascent_steps_the_other_way() -> None:
    request = random_request(np.random.default_rng(11), "in_out")
    down, up = answer(request), answer({**request, "ascent": True})
    for layer, d, u in zip(request["network"]["layers"], down["layers"], up["layers"], strict=True):
        W = np.array(layer["weights"])
        np.testing.assert_allclose(np.array(u["updated_weights"]) - W,
                                   W - np.array(d["updated_weights"]), rtol=1e-12)  # fmt: skip
        assert u["weight_gradients"] == d["weight_gradients"]


def test_a_flat_sample_gives_flat_per_sample_answers() -> None:
    request = random_request(np.random.default_rng(5), "in_out")
    request["inputs"], request["targets"] = request["inputs"][0], request["targets"][0]
    flat = answer(request)
    rows = answer({**request, "inputs": [request["inputs"]], "targets": [request["targets"]]})
    assert flat["outputs"] == rows["outputs"][0]
    assert flat["input_gradients"] == rows["input_gradients"][0]
    for f, r in zip(flat["layers"], rows["layers"], strict=True):
        assert f["deltas"] == r["deltas"][0]
        assert f["weight_gradients"] == r["weight_gradients"]


def test_one_class_index_for_a_flat_sample() -> None:
    request = {
        "network": {"layers": [{"weights": [[0.5, -0.5, 0.1]], "biases": [0.0, 0.0, 0.0],
                                "activation": "softmax"}]},
        "inputs": [2.0], "targets": 2, "loss": "cross_entropy", "learning_rate": 1.0,
    }  # fmt: skip
    one_hot = answer({**request, "targets": [0.0, 0.0, 1.0]})
    assert answer(request)["layers"] == one_hot["layers"]
