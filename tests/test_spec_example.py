"""The worked example of docs/api.md, to 1e-12, and the textbook's formulas written out literally.

The expected values are computed here by hand, one scalar at a time, with the textbook's
formulas for a sigmoid network under the 1/2-sum MSE:

    delta^K_k = o_k (1 - o_k) (o_k - t_k)                      (output layer)
    delta^J_j = o_j (1 - o_j) sum_k delta^K_k w_jk              (hidden layer)
    dL/dw_jk  = delta_k o_j,   dL/db_k = delta_k,   w' = w - eta dL/dw
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from schemas import SPEC_EXAMPLE
from schemas.examples import SPEC_EXAMPLE_LOSS
from tests.test_gradients import answer

pytestmark = pytest.mark.anyio

EXACT = 1e-12


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def textbook_backprop(request: dict[str, Any]) -> dict[str, Any]:
    """One sample through a sigmoid network, every quantity by the textbook's scalar formulas."""
    x, t = request["inputs"][0], request["targets"][0]
    eta = request["learning_rate"]
    layers = request["network"]["layers"]
    outs, zs = [x], []
    for layer in layers:
        W, b = layer["weights"], layer["biases"]
        z = [sum(outs[-1][j] * W[j][k] for j in range(len(W))) + b[k] for k in range(len(b))]
        zs.append(z)
        outs.append([sigmoid(v) for v in z])
    o = outs[-1]
    deltas = [[o[k] * (1 - o[k]) * (o[k] - t[k]) for k in range(len(o))]]
    for i in range(len(layers) - 1, 0, -1):
        W_above, o_l, d_above = layers[i]["weights"], outs[i], deltas[0]
        deltas.insert(0, [
            o_l[j] * (1 - o_l[j]) * sum(d_above[k] * W_above[j][k] for k in range(len(d_above)))
            for j in range(len(o_l))
        ])  # fmt: skip
    result = []
    for i, layer in enumerate(layers):
        grad_W = [[deltas[i][k] * outs[i][j] for k in range(len(deltas[i]))]
                  for j in range(len(outs[i]))]  # fmt: skip
        result.append({
            "pre_activations": zs[i], "activations": outs[i + 1], "deltas": deltas[i],
            "weight_gradients": grad_W, "bias_gradients": deltas[i],
            "updated_weights": [[w - eta * g for w, g in zip(w_row, g_row, strict=True)]
                                for w_row, g_row in zip(layer["weights"], grad_W, strict=True)],
            "updated_biases": [b - eta * d
                               for b, d in zip(layer["biases"], deltas[i], strict=True)],
        })  # fmt: skip
    loss = 0.5 * sum((o_k - t_k) ** 2 for o_k, t_k in zip(o, t, strict=True))
    return {"loss": loss, "outputs": o, "layers": result}


def assert_within(got: Any, expected: Any, tol: float, what: str) -> None:
    if isinstance(expected, list):
        assert len(got) == len(expected), what
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_within(g, e, tol, f"{what}[{i}]")
    else:
        assert abs(got - expected) <= tol, f"{what}: {got!r} vs {expected!r}"


def test_spec_example_matches_the_textbook_formulas_to_1e_12() -> None:
    got = answer(SPEC_EXAMPLE)
    expected = textbook_backprop(SPEC_EXAMPLE)
    assert_within(got["loss"], expected["loss"], EXACT, "loss")
    assert_within(got["outputs"][0], expected["outputs"], EXACT, "outputs")
    for i, (layer, want) in enumerate(zip(got["layers"], expected["layers"], strict=True)):
        for field, value in want.items():
            per_sample = field in ("pre_activations", "activations", "deltas")
            assert_within(layer[field][0] if per_sample else layer[field], value, EXACT,
                          f"layers[{i}].{field}")  # fmt: skip


def test_spec_example_matches_the_figures_printed_in_spec_md() -> None:
    """The original specification printed its figures rounded to 8 decimals, the loss in full
    (docs/api.md shows them in full)."""
    got = answer(SPEC_EXAMPLE)
    assert abs(got["loss"] - SPEC_EXAMPLE_LOSS) <= EXACT
    printed = {
        "outputs": [[0.90784448, 0.92517484]],
        0: {"pre_activations": [[0.6, 1.2, 1.8]],
            "activations": [[0.64565631, 0.76852478, 0.85814894]],
            "deltas": [[0.01048751, 0.0101591, 0.00832322]],
            "weight_gradients": [[0.01048751, 0.0101591, 0.00832322],
                                 [0.02097503, 0.02031821, 0.01664643]],
            "bias_gradients": [0.01048751, 0.0101591, 0.00832322],
            "updated_weights": [[0.09475624, 0.29492045, 0.49583839],
                                [0.18951249, 0.3898409, 0.59167678]],
            "updated_biases": [0.09475624, 0.09492045, 0.09583839]},
        1: {"pre_activations": [[2.28759555, 2.51482855]],
            "activations": [[0.90784448, 0.92517484]],
            "deltas": [[-0.00771, 0.06404648]],
            "weight_gradients": [[-0.00497801, 0.04135201], [-0.00592532, 0.04922131],
                                 [-0.00661632, 0.05496142]],
            "bias_gradients": [-0.00771, 0.06404648],
            "updated_weights": [[0.702489, 0.77932399], [0.90296266, 0.97538935],
                                [1.10330816, 1.17251929]],
            "updated_biases": [0.203855, 0.16797676]},
    }  # fmt: skip
    rounding = 0.5e-8 + 1e-15
    assert_within(got["outputs"], printed["outputs"], rounding, "outputs")
    for i in (0, 1):
        for field, value in printed[i].items():
            assert_within(got["layers"][i][field], value, rounding, f"layers[{i}].{field}")


async def test_spec_example_over_http(client: Any) -> None:
    """Over HTTP, every field of the answer against the textbook's formulas worked here, not
    against the service's own answer computed another way (a wrong derivative would be wrong
    both ways)."""
    response = await client.post("/v1/backprop", json=SPEC_EXAMPLE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    got, expected = response.json(), textbook_backprop(SPEC_EXAMPLE)
    assert_within(got["loss"], expected["loss"], EXACT, "loss")
    assert_within(got["outputs"][0], expected["outputs"], EXACT, "outputs")
    for i, (layer, want) in enumerate(zip(got["layers"], expected["layers"], strict=True)):
        assert set(layer) == set(want)
        for field, value in want.items():
            per_sample = field in ("pre_activations", "activations", "deltas")
            assert_within(layer[field][0] if per_sample else layer[field], value, EXACT,
                          f"layers[{i}].{field}")  # fmt: skip
    assert response.json() == answer(SPEC_EXAMPLE), "HTTP and in-process answers are the same"


def test_textbook_formulas_on_a_three_layer_network_with_two_samples() -> None:
    """The same literal formulas, per sample, on a 3-4-3-2 network (batch gradients add up)."""
    layers = [
        {"weights": [[0.2, -0.3, 0.4, 0.1], [-0.5, 0.6, 0.2, -0.1], [0.3, 0.1, -0.2, 0.5]],
         "biases": [0.1, -0.1, 0.05, 0.0], "activation": "sigmoid"},
        {"weights": [[0.7, -0.2, 0.1], [-0.4, 0.3, 0.6], [0.2, 0.5, -0.3], [0.1, -0.6, 0.4]],
         "biases": [0.0, 0.2, -0.2], "activation": "sigmoid"},
        {"weights": [[0.5, -0.5], [0.3, 0.8], [-0.7, 0.2]], "biases": [0.1, -0.3],
         "activation": "sigmoid"},
    ]  # fmt: skip
    samples = [([1.0, 0.5, -1.0], [1.0, 0.0]), ([-0.5, 2.0, 0.3], [0.0, 1.0])]
    request = {"network": {"layers": layers}, "inputs": [s[0] for s in samples],
               "targets": [s[1] for s in samples], "learning_rate": 0.3}  # fmt: skip
    got = answer(request)
    per_sample = [textbook_backprop({**request, "inputs": [x], "targets": [t]}) for x, t in samples]
    assert_within(got["loss"], sum(p["loss"] for p in per_sample), EXACT, "loss")
    for i in range(3):
        for n, p in enumerate(per_sample):
            for field in ("pre_activations", "activations", "deltas"):
                assert_within(got["layers"][i][field][n], p["layers"][i][field], EXACT,
                              f"layers[{i}].{field}[{n}]")  # fmt: skip
        summed_W = [[sum(p["layers"][i]["weight_gradients"][j][k] for p in per_sample)
                     for k in range(len(row))]
                    for j, row in enumerate(layers[i]["weights"])]  # fmt: skip
        assert_within(got["layers"][i]["weight_gradients"], summed_W, EXACT, f"dW[{i}]")
        summed_b = [sum(p["layers"][i]["bias_gradients"][k] for p in per_sample)
                    for k in range(len(layers[i]["biases"]))]  # fmt: skip
        assert_within(got["layers"][i]["bias_gradients"], summed_b, EXACT, f"db[{i}]")
