"""The keras preset, against Keras' documented formulas and examples, worked by hand.

Sources (Keras 3; keras.io and the docstrings of keras-team/keras, keras/src):
- layers.Dense: kernel of shape (input_dim, units), y = x kernel + bias: the in_out layout;
- layers.LeakyReLU(negative_slope=0.3): f(x) = alpha x for x < 0, LeakyReLU()([-3, -1, 0, 2])
  gives [-0.9, -0.3, 0, 2] (activations.leaky_relu's own default is 0.2: the layer's is used);
- losses.MeanSquaredError(reduction="sum_over_batch_size"): mean(square(y_true - y_pred)) over
  the last axis, then the mean over samples; the example [[0, 1], [0, 0]] against
  [[1, 1], [1, 0]] gives 0.5;
- losses.CategoricalCrossentropy: backend categorical_crossentropy with from_logits=False
  divides y_pred by its row's sum and clips it to [epsilon, 1 - epsilon], epsilon =
  backend.epsilon() = 1e-7, then -sum(y_true log y_pred); the example [[0, 1, 0], [0, 0, 1]]
  against [[0.05, 0.95, 0], [0.1, 0.8, 0.1]] gives [0.0513, 2.303], 1.177 reduced;
- losses.BinaryCrossentropy: y_pred clipped to [epsilon, 1 - epsilon], the mean over the last
  axis of -(y log p + (1 - y) log(1 - p)), then over samples; the example [[0, 1], [0, 0]]
  against [[0.6, 0.4], [0.4, 0.6]] gives [0.916, 0.714].
Every expected value below is computed from those formulas in the test, with math.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest

import engine
from tests.test_gradients import answer

pytestmark = pytest.mark.anyio

EPSILON = 1e-7


def outputs_are(rows: list[list[float]], targets: Any, loss: Any, **extra: Any) -> dict[str, Any]:
    """One linear layer whose outputs are exactly ``rows``: inputs are the identity, so
    z = I W + 0 = W (in_out, Keras' kernel layout)."""
    n = len(rows)
    return {
        "network": {"layers": [
            {"weights": rows, "biases": [0.0] * len(rows[0]), "activation": "linear"},
        ]},
        "inputs": np.eye(n).tolist(), "targets": targets, "loss": loss,
        "learning_rate": 0.5, "conventions": "keras", **extra,
    }  # fmt: skip


def test_the_preset_sets_what_keras_does() -> None:
    keras = engine.PRESETS[engine.Preset.KERAS]
    assert keras.weight_layout is engine.WeightLayout.IN_OUT
    assert keras.relu_grad_at_zero == 0
    assert (keras.mse_reduction, keras.mse_half, keras.reduction) == ("mean", False, "mean")
    assert keras.leaky_relu_negative_slope == 0.3
    assert keras.epsilon == EPSILON


def test_the_textbook_default_is_unchanged() -> None:
    textbook = engine.PRESETS[engine.Preset.TEXTBOOK]
    assert (textbook.leaky_relu_negative_slope, textbook.epsilon) == (0.01, None)
    pytorch = engine.PRESETS[engine.Preset.PYTORCH]
    assert (pytorch.leaky_relu_negative_slope, pytorch.epsilon) == (0.01, None)
    request = outputs_are([[0.05, 0.95, 0.5]], [[0.0, 1.0, 0.0]], "cross_entropy")
    del request["conventions"]
    got = answer(request)
    assert got["loss"] == -math.log(0.95)  # no division by the row's sum (1.5), no clipping
    assert got["conventions"]["loss"] == {"name": "cross_entropy", "reduction": "sum",
                                          "from_logits": False, "label_smoothing": 0.0}  # fmt: skip


def test_mse_is_the_mean_over_outputs_and_samples() -> None:
    got = answer(outputs_are([[1.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]], "mse"))
    assert got["loss"] == 0.5  # Keras' example
    # dL/do = 2 (o - t) / (N C), N C = 4
    assert got["layers"][0]["deltas"] == [[0.5, 0.0], [0.5, 0.0]]
    assert got["conventions"] == {
        "preset": "keras", "weight_layout": "in_out", "relu_grad_at_zero": 0,
        "loss": {"name": "mse", "reduction": "mean", "half": False},
    }  # fmt: skip


def test_categorical_cross_entropy_is_keras_example() -> None:
    rows = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    got = answer(outputs_are(rows, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "cross_entropy"))
    per_sample = [-math.log(0.95), -math.log(0.1 / (0.1 + 0.8 + 0.1))]
    assert [round(v, 4) for v in per_sample] == [0.0513, 2.3026]  # Keras: [0.0513, 2.303]
    assert got["loss"] == pytest.approx(sum(per_sample) / 2, rel=1e-15)
    assert round(got["loss"], 3) == 1.177
    # By hand: q = o / s; g_k = -y_k / q_k where the clip passes q_k (0 where it holds it:
    # the 0 of row 1); dL/do_j = (g_j - sum_k g_k q_k) / s, over N = 2 samples.
    s2 = 0.1 + 0.8 + 0.1
    expected = [
        [(0.0 + 1.0) / 2, (-1 / 0.95 + 1.0) / 2, (0.0 + 1.0) / 2],
        [(0.0 + 1.0) / s2 / 2, (0.0 + 1.0) / s2 / 2, (-s2 / 0.1 + 1.0) / s2 / 2],
    ]
    np.testing.assert_allclose(got["layers"][0]["deltas"], expected, rtol=1e-14)
    assert got["conventions"]["loss"]["epsilon"] == EPSILON


def test_cross_entropy_divides_by_the_rows_sum_as_keras_does() -> None:
    """Sigmoid-like outputs (0.3, 0.6) are no distribution: Keras reads them as (1/3, 2/3)."""
    got = answer(outputs_are([[0.3, 0.6]], [[0.0, 1.0]], "cross_entropy"))
    assert got["loss"] == pytest.approx(-math.log(0.6 / 0.9), rel=1e-15)  # ln 1.5, not -ln 0.6
    # g = (0, -1 / (2/3)), sum g q = -1: dL/do = (0 + 1, -1.5 + 1) / 0.9
    np.testing.assert_allclose(got["layers"][0]["deltas"], [[1 / 0.9, -0.5 / 0.9]], rtol=1e-14)


def test_cross_entropy_clips_a_zero_probability_where_the_textbook_refuses() -> None:
    request = outputs_are([[1.0, 0.0]], [[0.0, 1.0]], "cross_entropy")
    got = answer(request)
    assert got["loss"] == pytest.approx(-math.log(EPSILON), rel=1e-15)  # 16.118
    assert got["layers"][0]["deltas"] == [[0.0, 0.0]]  # the clip holds q_2 = 0: no gradient
    with pytest.raises(engine.DomainError, match="has no logarithm"):
        answer({**request, "conventions": "pytorch", "weight_layout": "in_out"})


def test_binary_cross_entropy_is_keras_example() -> None:
    rows, targets = [[0.6, 0.4], [0.4, 0.6]], [[0.0, 1.0], [0.0, 0.0]]
    got = answer(outputs_are(rows, targets, "binary_cross_entropy"))
    per_sample = [-(math.log(0.4) + math.log(0.4)) / 2, -(math.log(0.6) + math.log(0.4)) / 2]
    assert [round(v, 3) for v in per_sample] == [0.916, 0.714]  # Keras' example
    assert got["loss"] == pytest.approx(sum(per_sample) / 2, rel=1e-15)
    # dL/do = (o - y) / (o (1 - o)) / (N C), N C = 4
    expected = [[(o - y) / (o * (1 - o)) / 4 for o, y in zip(r, t, strict=True)]
                for r, t in zip(rows, targets, strict=True)]  # fmt: skip
    np.testing.assert_allclose(got["layers"][0]["deltas"], expected, rtol=1e-14)


def test_binary_cross_entropy_clips_at_epsilon_where_pytorch_clamps_the_log() -> None:
    request = outputs_are([[1.0, 0.5]], [[0.0, 1.0]], "binary_cross_entropy")
    got = answer(request)
    one_minus = 1.0 - (1.0 - EPSILON)  # 1 - clip(1) in float64: 9.99999994e-8
    expected = (-math.log(one_minus) - math.log(0.5)) / 2
    assert got["loss"] == pytest.approx(expected, rel=1e-15)
    assert got["layers"][0]["deltas"][0][0] == 0.0  # held by the clip
    assert got["layers"][0]["deltas"][0][1] == pytest.approx((0.5 - 1.0) / 0.25 / 2, rel=1e-15)
    pytorch = answer({**request, "conventions": "pytorch", "weight_layout": "in_out"})
    assert pytorch["loss"] == pytest.approx((100.0 - math.log(0.5)) / 2, rel=1e-15)


def test_a_softmax_or_sigmoid_last_layer_takes_the_logits_as_keras_fit_does() -> None:
    """Keras' TensorFlow backend computes the loss of a softmax (sigmoid) output from its
    logits (the _keras_logits they carry): the fused form, exact, no clipping. So does this
    preset: delta = (p - y) / N, the same as the pytorch preset's mean."""
    request = {
        "network": {"layers": [
            {"weights": [[2.0, -1.0, 0.5]], "biases": [0.0, 0.0, 0.0], "activation": "softmax"},
        ]},
        "inputs": [[1.0], [40.0]], "targets": [0, 1], "loss": "cross_entropy",
        "learning_rate": 0.5, "conventions": "keras",
    }  # fmt: skip
    got = answer(request)
    z = np.array([[2.0, -1.0, 0.5], [80.0, -40.0, 20.0]])
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(got["layers"][0]["deltas"], (p - y) / 2, rtol=1e-13, atol=1e-300)
    assert got["loss"] == pytest.approx(
        (-np.log(p[0, 0]) + (z[1].max() - z[1, 1] + math.log(np.exp(z[1] - 80).sum()))) / 2,
        rel=1e-14,
    )  # sample 2's p_2 = e^-120 is far below epsilon: clipping would have given 16.1 for 120


def test_leaky_relu_takes_the_layers_slope_0_3() -> None:
    request = {
        "network": {"layers": [
            {"weights": [[-3.0, -1.0, 0.0, 2.0]], "biases": [0.0] * 4, "activation": "leaky_relu"},
        ]},
        "inputs": [[1.0]], "targets": [[0.0] * 4], "loss": "mse", "learning_rate": 0.5,
        "conventions": "keras",
    }  # fmt: skip
    got = answer(request)
    np.testing.assert_allclose(got["outputs"], [[-0.9, -0.3, 0.0, 2.0]], rtol=1e-15)  # Keras'
    # dL/do = 2 o / 4; f'(z) = 0.3 below 0 and at 0 (the left-hand side), 1 above
    np.testing.assert_allclose(
        got["layers"][0]["deltas"], [[0.3 * -0.45, 0.3 * -0.15, 0.0, 1.0]], rtol=1e-15
    )
    for preset in ("textbook", "pytorch"):
        other = answer({**request, "conventions": preset, "weight_layout": "in_out"})
        np.testing.assert_allclose(other["outputs"], [[-0.03, -0.01, 0.0, 2.0]], rtol=1e-15)
    leaky = {"name": "leaky_relu", "negative_slope": 0.5}
    request["network"]["layers"][0]["activation"] = leaky
    np.testing.assert_allclose(answer(request)["outputs"], [[-1.5, -0.5, 0.0, 2.0]], rtol=1e-15)


def test_relu_at_zero_takes_the_left_hand_derivative() -> None:
    request = {
        "network": {"layers": [
            {"weights": [[0.0]], "biases": [0.0], "activation": "relu"},
            {"weights": [[2.0]], "biases": [0.0], "activation": "linear"},
        ]},
        "inputs": [[1.0]], "targets": [[1.0]], "learning_rate": 0.1, "conventions": "keras",
    }  # fmt: skip
    got = answer(request)
    assert got["layers"][0]["deltas"] == [[0.0]]  # tf.nn.relu's and torch.relu's 0 at 0
    assert answer({**request, "relu_grad_at_zero": 1})["layers"][0]["deltas"] == [[-4.0]]


def test_a_keras_kernel_is_read_as_in_out() -> None:
    """Dense(2) on 3 inputs has a (3, 2) kernel: accepted as it is."""
    kernel = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
    request = {
        "network": {"layers": [{"weights": kernel, "biases": [0.0, 0.1], "activation": "linear"}]},
        "inputs": [[1.0, 2.0, 3.0]], "targets": [[0.0, 0.0]], "learning_rate": 0.1,
        "conventions": "keras",
    }  # fmt: skip
    got = answer(request)
    expected = np.array([[1.0, 2.0, 3.0]]) @ np.array(kernel) + np.array([0.0, 0.1])
    np.testing.assert_allclose(got["outputs"], expected, rtol=1e-15)
    assert np.shape(got["layers"][0]["weight_gradients"]) == (3, 2)


# The request and the catalogue ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"loss": {"name": "cross_entropy", "epsilon": 0.0}}, ["body", "loss", "epsilon"]),
        ({"loss": {"name": "binary_cross_entropy", "epsilon": 0.5}}, ["body", "loss", "epsilon"]),
        ({"loss": {"name": "mse", "epsilon": 1e-7}}, ["body", "loss", "epsilon"]),
        ({"conventions": "tensorflow"}, ["body", "conventions"]),
    ],
)
async def test_bad_keras_settings_are_422s(
    client: httpx.AsyncClient, change: dict[str, Any], where: list[Any]
) -> None:
    body = {**outputs_are([[0.3, 0.6]], [[0.0, 1.0]], "cross_entropy"), **change}
    response = await client.post("/v1/backprop", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == where


async def test_epsilon_works_under_any_preset(client: httpx.AsyncClient) -> None:
    body = outputs_are([[0.3, 0.6]], [[0.0, 1.0]], {"name": "cross_entropy", "epsilon": 1e-7})
    body["conventions"] = "textbook"
    got = (await client.post("/v1/backprop", json=body)).json()
    assert got["loss"] == pytest.approx(math.log(1.5), rel=1e-15)
    assert got["conventions"]["loss"]["reduction"] == "sum"


async def test_the_conventions_catalogue_lists_the_three_presets(
    client: httpx.AsyncClient,
) -> None:
    presets = {p["name"]: p for p in (await client.get("/v1/conventions")).json()["presets"]}
    assert list(presets) == ["textbook", "pytorch", "keras"]
    assert presets["keras"] == {
        "name": "keras",
        "weight_layout": "in_out",
        "relu_grad_at_zero": 0,
        "mse": {"reduction": "mean", "half": False},
        "reduction": "mean",
        "leaky_relu_negative_slope": 0.3,
        "epsilon": 1e-7,
        "description": presets["keras"]["description"],
    }
    assert presets["textbook"]["mse"] == {"reduction": "sum", "half": True}
    assert presets["textbook"]["epsilon"] is None
    assert presets["pytorch"]["weight_layout"] == "out_in"
    losses = {x["name"]: x for x in (await client.get("/v1/losses")).json()["losses"]}
    epsilon = {p["name"]: p["defaults"] for p in losses["cross_entropy"]["parameters"]}["epsilon"]
    assert epsilon == {"textbook": None, "pytorch": None, "keras": 1e-7}
    activations = {
        a["name"]: a for a in (await client.get("/v1/activations")).json()["activations"]
    }
    (slope,) = activations["leaky_relu"]["parameters"]
    assert slope["default"] == 0.01
    assert slope["defaults"] == {"textbook": 0.01, "pytorch": 0.01, "keras": 0.3}


def test_binary_cross_entropy_clips_a_zero_output_too() -> None:
    """o = 0 for y = 1: Keras' clip gives -ln(1e-7) and no gradient, at either end."""
    got = answer(outputs_are([[0.0, 1.0]], [[1.0, 1.0]], "binary_cross_entropy"))
    expected = (-math.log(EPSILON) - math.log(1.0 - EPSILON)) / 2  # both ends clipped
    assert got["loss"] == pytest.approx(expected, rel=1e-15)
    assert got["layers"][0]["deltas"] == [[0.0, 0.0]]


def test_the_clip_passes_the_gradient_at_its_bounds() -> None:
    """At o = epsilon and o = 1 - epsilon exactly the clip leaves o as it is, and its
    gradient passes (torch.clip's and tf.clip_by_value's at their bounds)."""
    low, high = EPSILON, 1.0 - EPSILON
    got = answer(outputs_are([[low, high]], [[1.0, 0.0]], "binary_cross_entropy"))
    expected = [(low - 1.0) / (low * (1 - low)) / 2, high / (high * (1 - high)) / 2]
    np.testing.assert_allclose(got["layers"][0]["deltas"], [expected], rtol=1e-12)
    # cross_entropy: the row sums to 1 exactly, so q = o, both at the clip's bounds
    assert low + high == 1.0
    got = answer(outputs_are([[low, high]], [[1.0, 0.0]], "cross_entropy"))
    # g = (-1 / low, 0), sum g q = -1: dL/do = (g - (-1)) / 1
    np.testing.assert_allclose(got["layers"][0]["deltas"], [[-1 / low + 1.0, 1.0]], rtol=1e-12)
    got = answer(outputs_are([[low, high]], [[0.0, 1.0]], "cross_entropy"))
    # g = (0, -1 / high), sum g q = -1: dL/do = (0 + 1, -1 / high + 1): the upper bound passes
    np.testing.assert_allclose(got["layers"][0]["deltas"], [[1.0, -1 / high + 1.0]], rtol=1e-12)


def test_a_probability_of_one_is_held_by_the_clip() -> None:
    """q = 1 > 1 - epsilon: clipped, so no gradient, however right the answer."""
    got = answer(outputs_are([[0.0, 1.0]], [[0.0, 1.0]], "cross_entropy"))
    assert got["loss"] == pytest.approx(-math.log(1.0 - EPSILON), rel=1e-12)
    assert got["layers"][0]["deltas"] == [[0.0, 0.0]]


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ([[0.5, -0.1, 0.6]], "output 1 of sample 0 is -0.1"),
        ([[0.2, 0.8], [0.0, 0.0]], "output 0 of sample 1 is 0"),
    ],
    ids=["a negative output", "a row of zeros after a good row"],
)
def test_keras_cross_entropy_refuses_outputs_that_make_no_distribution(
    rows: list[list[float]], where: str
) -> None:
    targets = [[0.0] * (len(rows[0]) - 1) + [1.0]] * len(rows)
    with pytest.raises(engine.DomainError) as caught:
        answer(outputs_are(rows, targets, "cross_entropy"))
    assert caught.value.argument == "loss"
    message = str(caught.value)
    assert "cross_entropy with epsilon (Keras' form) divides each row of outputs by its sum" in (
        message
    )
    assert where in message
    assert "use a softmax last layer, or set from_logits to true" in message
