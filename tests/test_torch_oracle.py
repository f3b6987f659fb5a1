"""POST /v1/backprop against PyTorch autograd, field by field, to a relative error of 1e-9.

The oracle (tests/torch_reference.py) is written from docs/api.md with torch.nn.functional and
``loss.backward()``; it shares no code with the engine. Every field of the answer is compared:
loss, outputs, input_gradients, and each layer's pre_activations, activations, deltas,
weight_gradients, bias_gradients, updated_weights and updated_biases.

Coverage
--------
``test_random_networks_match_pytorch``, 3,330 random networks: one test per loss variant (44:
mse with each reduction x half, and with neither; cross_entropy from_logits x label_smoothing
x reduction; binary_cross_entropy from_logits x reduction; l1; huber with two deltas;
smooth_l1 with two betas, then its default and beta = 0; each reduction also left to the
preset). For each, every last-layer activation the loss accepts
(all 15 under from_logits and the regression losses) x 6 layouts: each preset with its own
weight layout left implicit, sent explicitly, and overridden by the other one. relu_grad_at_zero
cycles through unset, 0 and 1; hidden activations are drawn from all 14 variants (leaky_relu
and elu with default and other parameters, gelu none and tanh, softplus with default and
other beta/threshold); depth 1-4, widths 1-6, batch 1-5 with single flat samples among them,
weights and biases ~ N(0, 1), learning rate 0.01-2, one in five an ascent. cross_entropy
targets are class indices, one-hot rows, probability rows or rows that do not sum to 1 in
turn; binary_cross_entropy targets soft or hard. ``test_the_random_cases_cover_every_combination``
checks that claim. TORCH_ORACLE_SEED=<int> draws another set, TORCH_ORACLE_WEIGHT_SCALE=<sd>
larger weights (then a 422 is accepted where PyTorch's own answer is not finite).

Then: kinks where z is exactly 0 (relu, leaky_relu, elu, selu; each preset's own convention
and each overridden; hidden and output layers), the losses' own kinks (l1 at o = y, huber at
|o - y| = delta, smooth_l1 at |o - y| = beta and with beta = 0), every activation at 169
values of z from -1000 to 1000, losses saturated (logits 17 to 120 apart, probabilities and
targets within 1e-12 of 0 and 1), and 225 networks posted to a real uvicorn server.

Tolerance
---------
An entry passes when |ours - PyTorch's| <= 1e-9 |PyTorch's| + 16 eps M + 2^-1022.

1e-9 relative is what we are judged by. It cannot be asked of entries that float64 itself
cannot resolve to 1e-9: a delta p - y where the softmax is sure (p = 1 - 1e-12), 1 - tanh(z)^2
at z = 19 (PyTorch gives 2.2e-16 or 0 for 1.1e-16), GELU's 1 + erf(z / sqrt 2) below z = -6,
a bias gradient whose samples cancel. Any evaluation, PyTorch's included, gets those only to
a few eps times the size of the terms that cancel. M is that size: a running error analysis
of the computation (Higham, ch. 3) that the oracle carries beside it, e.g. M = |a| |W| + |b|
for z = a W + b, propagated layer by layer with each activation's sensitivity and the
cancellation inside PyTorch's own formula for it and for its derivative. Where nothing
cancels M is about |entry| and the floor is 16 eps = 3.6e-15 relative, a million times below
1e-9; it matters only where an entry is small against the terms that produced it. The factor
16: the largest |ours - PyTorch's| / (eps M) over 26,000 random networks (10,000 of them with
weights ~ N(0, 9)) is 1.9. 2^-1022 lets an entry that has underflowed (sigmoid(-710), e^-745)
be 0 on one side and subnormal on the other. A deliberately wrong gradient still fails (the
negative controls at the end).

Run with ``make test-torch``; TORCH_ORACLE_REPORT=<path> writes, per field, the largest
relative error, the largest share of the tolerance used, the largest |ours - PyTorch's| /
(eps M) and how many entries needed the floor, as JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytest.importorskip("torch")

from engine import activations as engine_activations
from tests import torch_reference as ref

pytestmark = [pytest.mark.torch, pytest.mark.anyio]

SEED = int(os.environ.get("TORCH_ORACLE_SEED", "20261126"))
WEIGHT_SCALE = float(os.environ.get("TORCH_ORACLE_WEIGHT_SCALE", "1.0"))
"""Standard deviation of the random weights and biases; larger values saturate more units."""

ACTIVATIONS: list[str | dict[str, Any]] = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    {"name": "leaky_relu", "negative_slope": 0.2},
    "elu",
    {"name": "elu", "alpha": 0.7},
    "selu",
    {"name": "gelu", "approximate": "none"},
    {"name": "gelu", "approximate": "tanh"},
    "softplus",
    {"name": "softplus", "beta": 2.0, "threshold": 5.0},
    "silu",
]
"""Every activation variant a hidden layer may have (softmax is last-layer only)."""

LAST_ACTIVATIONS = [*ACTIVATIONS, "softmax"]


def _loss_variants() -> list[dict[str, Any]]:
    variants: list[dict[str, Any]] = []
    for reduction, half in itertools.product(["sum", "mean", "batch_mean", None], [True, False]):
        variants.append({"name": "mse", "reduction": reduction, "half": half})
    variants.append({"name": "mse"})
    for reduction in ["sum", "mean", None]:
        for from_logits, smoothing in itertools.product([False, True], [0.0, 0.1]):
            variants.append(
                {
                    "name": "cross_entropy",
                    "from_logits": from_logits,
                    "label_smoothing": smoothing,
                    "reduction": reduction,
                }
            )
        variants.extend(
            {"name": "binary_cross_entropy", "from_logits": from_logits, "reduction": reduction}
            for from_logits in [False, True]
        )
        variants.append({"name": "l1", "reduction": reduction})
        variants.extend(
            {"name": "huber", "delta": delta, "reduction": reduction} for delta in [1.0, 0.3]
        )
        variants.extend(
            {"name": "smooth_l1", "beta": beta, "reduction": reduction} for beta in [1.0, 0.3]
        )
    variants.append({"name": "smooth_l1"})
    variants.append({"name": "smooth_l1", "beta": 0.0})  # l1, as PyTorch makes it
    return [{k: v for k, v in variant.items() if v is not None} for variant in variants]


LOSS_VARIANTS = _loss_variants()


def _loss_id(loss: dict[str, Any]) -> str:
    return "-".join(f"{v}" for v in loss.values())


def last_activations_for(loss: dict[str, Any]) -> list[str | dict[str, Any]]:
    """The last layers a loss accepts: cross_entropy and binary_cross_entropy without
    from_logits take the logarithm of the outputs, so those must be positive, in [0, 1]."""
    if loss.get("from_logits"):
        return LAST_ACTIVATIONS
    if loss["name"] == "cross_entropy":
        return [
            "softmax",
            "sigmoid",
            "softplus",
            {"name": "softplus", "beta": 2.0, "threshold": 5.0},
        ]
    if loss["name"] == "binary_cross_entropy":
        return ["softmax", "sigmoid"]
    return LAST_ACTIVATIONS


# Random networks ------------------------------------------------------------------------------


def random_request(
    rng: np.random.Generator,
    loss: dict[str, Any],
    *,
    last: str | dict[str, Any],
    preset: str,
    layout: str,
    override_layout: bool,
    relu_grad_at_zero: int | None,
    target_kind: int,
) -> dict[str, Any]:
    """A random network of depth 1-4, widths 1-6, batch 1-5, weights and biases ~ N(0, 1)."""
    depth = int(rng.integers(1, 5))
    widths = [int(w) for w in rng.integers(1, 7, size=depth + 1)]
    if loss["name"] == "cross_entropy" or last == "softmax":
        widths[-1] = max(widths[-1], 2)
    n_samples = int(rng.integers(1, 6))
    flat = n_samples == 1 and rng.random() < 0.5
    layers = []
    for i in range(depth):
        activation = last if i == depth - 1 else ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]
        W = rng.normal(scale=WEIGHT_SCALE, size=(widths[i], widths[i + 1]))
        layers.append(
            {
                "weights": (W if layout == "in_out" else W.T).tolist(),
                "biases": rng.normal(scale=WEIGHT_SCALE, size=widths[i + 1]).tolist(),
                "activation": activation,
            }
        )
    x = rng.normal(size=(n_samples, widths[0]))
    request: dict[str, Any] = {
        "network": {"layers": layers},
        "inputs": x[0].tolist() if flat else x.tolist(),
        "targets": _random_targets(
            rng, loss["name"], n_samples, widths[-1], flat=flat, kind=target_kind
        ),
        "loss": loss,
        "learning_rate": float(rng.uniform(0.01, 2.0)),
        "conventions": preset,
    }
    if override_layout:
        request["weight_layout"] = layout
    if relu_grad_at_zero is not None:
        request["relu_grad_at_zero"] = relu_grad_at_zero
    if rng.random() < 0.2:
        request["ascent"] = True
    return request


def _random_targets(
    rng: np.random.Generator, loss: str, n: int, c: int, *, flat: bool, kind: int
) -> Any:
    if loss == "cross_entropy" and kind == 0:
        classes = [int(k) for k in rng.integers(0, c, size=n)]
        return classes[0] if flat else classes
    if loss == "cross_entropy":
        rows = {
            1: np.eye(c)[rng.integers(0, c, size=n)],
            2: rng.dirichlet([1.0] * c, n),
            3: rng.random((n, c)),  # rows that do not sum to 1: dL/dz = p sum(y) - y
        }[kind]
    elif loss == "binary_cross_entropy":
        rows = rng.random((n, c)) if kind != 1 else rng.integers(0, 2, (n, c)).astype(float)
    else:
        rows = rng.normal(size=(n, c))
    return rows[0].tolist() if flat else rows.tolist()


LAYOUTS = [
    ("textbook", "in_out", False),
    ("textbook", "in_out", True),
    ("textbook", "out_in", True),
    ("pytorch", "out_in", False),
    ("pytorch", "out_in", True),
    ("pytorch", "in_out", True),
]
"""(preset, layout the weights are sent in, whether weight_layout says so): each preset with
its own layout left implicit, said explicitly, and overridden by the other one."""


def random_cases(loss: dict[str, Any], seed: int = SEED) -> Iterator[dict[str, Any]]:
    """Every last activation the loss accepts x LAYOUTS; relu_grad_at_zero (unset, 0, 1) and
    the kind of targets cycling, the rest drawn at random."""
    rng = np.random.default_rng([seed, zlib.crc32(_loss_id(loss).encode())])
    combos = itertools.product(last_activations_for(loss), LAYOUTS)
    for i, (last, (preset, layout, override)) in enumerate(combos):
        yield random_request(
            rng,
            loss,
            last=last,
            preset=preset,
            layout=layout,
            override_layout=override,
            relu_grad_at_zero=[None, 0, 1][(i + i // len(LAYOUTS)) % 3],
            target_kind=(i + i // len(LAYOUTS)) % 4,
        )


# Running and reporting -------------------------------------------------------------------------

_REPORT: dict[str, dict[str, float]] = {
    "relative_error": {},
    "tolerance_used": {},
    "needed_floor": {},
    "rounding_ratio": {},
    "cases": {"networks": 0},
}


def _record(comparison: ref.Comparison) -> None:
    for kind, values in (
        ("relative_error", comparison.relative_error),
        ("tolerance_used", comparison.tolerance_used),
        ("rounding_ratio", comparison.rounding_ratio),
    ):
        for name, value in values.items():
            _REPORT[kind][name] = max(_REPORT[kind].get(name, 0.0), value)
    for name, count in comparison.needed_floor.items():
        _REPORT["needed_floor"][name] = _REPORT["needed_floor"].get(name, 0) + count
    _REPORT["cases"]["networks"] += 1


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    path = os.environ.get("TORCH_ORACLE_REPORT")
    if path:
        Path(path).write_text(json.dumps(_REPORT, indent=2, sort_keys=True) + "\n")


async def _post(client: httpx.AsyncClient, request: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/backprop", json=request)
    assert response.status_code == 200, (response.text, json.dumps(request)[:2000])
    answer: dict[str, Any] = response.json()
    return answer


def assert_matches_pytorch(answer: dict[str, Any], request: dict[str, Any]) -> ref.Comparison:
    expected = ref.conventions_used(request)
    used = answer["conventions"]
    assert {k: used[k] for k in ("preset", "weight_layout", "relu_grad_at_zero")} == {
        k: expected[k] for k in ("preset", "weight_layout", "relu_grad_at_zero")
    }
    assert {k: used["loss"][k] for k in expected["loss"]} == expected["loss"]
    comparison = ref.compare(answer, request)
    _record(comparison)
    if comparison.mismatches:
        shown = "\n  ".join(str(m) for m in comparison.mismatches[:12])
        pytest.fail(
            f"{len(comparison.mismatches)} entries differ from PyTorch:\n  {shown}\n"
            f"request: {json.dumps(request)[:3000]}",
            pytrace=False,
        )
    return comparison


# The random matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSS_VARIANTS, ids=_loss_id)
async def test_random_networks_match_pytorch(
    client: httpx.AsyncClient, loss: dict[str, Any]
) -> None:
    for request in random_cases(loss):
        response = await client.post("/v1/backprop", json=request)
        if response.status_code == 422 and not ref.is_finite(request):
            continue  # both refuse: log(0) of an underflowed output (large weights only)
        assert response.status_code == 200, (response.text, json.dumps(request)[:2000])
        assert_matches_pytorch(response.json(), request)


@pytest.mark.parametrize("loss", LOSS_VARIANTS[::5], ids=_loss_id)
async def test_forward_matches_pytorch(client: httpx.AsyncClient, loss: dict[str, Any]) -> None:
    """POST /v1/forward: the same request without learning_rate gives the same loss, outputs,
    z and a as /v1/backprop's; without targets, no loss."""
    for request in itertools.islice(random_cases(loss, seed=SEED + 3), 0, None, 4):
        forward_request = {k: v for k, v in request.items() if k not in ("learning_rate", "ascent")}
        response = await client.post("/v1/forward", json=forward_request)
        assert response.status_code == 200, response.text
        answer = response.json()
        comparison = ref.compare_forward(answer, request)
        assert not comparison.mismatches, [str(m) for m in comparison.mismatches[:12]]
        del forward_request["targets"]
        response = await client.post("/v1/forward", json=forward_request)
        assert response.status_code == 200, response.text
        assert "loss" not in response.json()
        assert response.json()["outputs"] == answer["outputs"]


def _activation_key(spec: str | dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True)


def test_the_random_cases_cover_every_combination() -> None:
    """What the module docstring claims: every loss variant x every last activation it takes
    x preset x layout (own and overridden), and every hidden activation under both presets,
    both layouts and every relu_grad_at_zero setting."""
    last_seen: set[tuple[str, str, str, str, bool]] = set()
    hidden_seen: set[tuple[str, str, str, Any]] = set()
    total = flat = ascent = 0
    for loss in LOSS_VARIANTS:
        for request in random_cases(loss):
            total += 1
            flat += not isinstance(request["inputs"][0], list)
            ascent += request.get("ascent", False)
            preset = request["conventions"]
            own = "in_out" if preset == "textbook" else "out_in"
            layout = request.get("weight_layout", own)
            layers = request["network"]["layers"]
            key = (_loss_id(loss), _activation_key(layers[-1]["activation"]), preset, layout)
            last_seen.add((*key, "weight_layout" in request))
            for layer in layers[:-1]:
                hidden_seen.add(
                    (
                        _activation_key(layer["activation"]),
                        preset,
                        layout,
                        request.get("relu_grad_at_zero"),
                    )
                )
    for loss in LOSS_VARIANTS:
        for last in last_activations_for(loss):
            for preset, layout, override in LAYOUTS:
                key = (_loss_id(loss), _activation_key(last), preset, layout, override)
                assert key in last_seen, key
    for activation, preset, layout, setting in itertools.product(
        ACTIVATIONS, ["textbook", "pytorch"], ["in_out", "out_in"], [None, 0, 1]
    ):
        assert (_activation_key(activation), preset, layout, setting) in hidden_seen
    assert total > 2500
    assert flat > 100
    assert ascent > 300


# Kinks: z exactly 0 -----------------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

KINKS: list[tuple[str | dict[str, Any], float, float]] = [
    ("relu", 0.0, 1.0),
    ("leaky_relu", 0.01, 1.0),
    ({"name": "leaky_relu", "negative_slope": 0.2}, 0.2, 1.0),
    # elu and selu are not named by the convention: PyTorch's value at 0 (the left) under both
    ({"name": "elu", "alpha": 0.7}, 0.7, 0.7),
    ({"name": "elu", "alpha": 2.5}, 2.5, 2.5),
    ("selu", SELU_SCALE * SELU_ALPHA, SELU_SCALE * SELU_ALPHA),
]
"""(activation, f'(0) with relu_grad_at_zero 0, with relu_grad_at_zero 1), from the formulas."""

KINK_SETTINGS = [
    ("textbook", None, 1),
    ("pytorch", None, 0),
    ("textbook", 0, 0),
    ("pytorch", 1, 1),
]
"""(preset, relu_grad_at_zero sent, the setting that applies): each preset's own and each
overridden."""


def kink_request(
    activation: str | dict[str, Any], preset: str, relu_grad_at_zero: int | None
) -> dict[str, Any]:
    """3 -> 4 -> 2, both layers with ``activation``, where z is exactly 0 in places.

    Layer 1: unit 0 has zero weights and bias (z = 0 for both samples); unit 1 has weights
    (2, 2, 0), so z = 2 - 2 + 0 = 0 for sample 0 and 10 for sample 1. Layer 2: unit 0 has
    zero weights and bias, so the output layer has a kink too.
    """
    W1 = np.array([[0.0, 2.0, 0.3, -1.0], [0.0, 2.0, -0.2, 0.5], [0.0, 0.0, 0.1, 2.0]])
    b1 = [0.0, 0.0, 0.05, -0.1]
    W2 = np.array([[0.0, 0.4], [0.0, 0.6], [0.0, 0.9], [0.0, 0.3]])
    b2 = [0.0, 0.2]
    out_in = preset == "pytorch"
    request: dict[str, Any] = {
        "network": {
            "layers": [
                {
                    "weights": (W1.T if out_in else W1).tolist(),
                    "biases": b1,
                    "activation": activation,
                },
                {
                    "weights": (W2.T if out_in else W2).tolist(),
                    "biases": b2,
                    "activation": activation,
                },
            ]
        },
        "inputs": [[1.0, -1.0, 0.5], [2.0, 3.0, -1.0]],
        "targets": [[0.7, -0.3], [-0.4, 0.8]],
        "loss": "mse",
        "learning_rate": 0.1,
        "conventions": preset,
    }
    if relu_grad_at_zero is not None:
        request["relu_grad_at_zero"] = relu_grad_at_zero
    return request


@pytest.mark.parametrize(("preset", "sent", "setting"), KINK_SETTINGS)
@pytest.mark.parametrize(
    ("activation", "left", "right"), KINKS, ids=[_activation_key(k[0]) for k in KINKS]
)
async def test_kinks_at_zero_follow_relu_grad_at_zero(
    client: httpx.AsyncClient,
    *,
    activation: str | dict[str, Any],
    left: float,
    right: float,
    preset: str,
    sent: int | None,
    setting: int,
) -> None:
    request = kink_request(activation, preset, sent)
    answer = await _post(client, request)
    assert_matches_pytorch(answer, request)

    hidden, output = answer["layers"]
    assert [row[0] for row in hidden["pre_activations"]] == [0.0, 0.0]
    assert hidden["pre_activations"][0][1] == 0.0
    assert [row[0] for row in output["pre_activations"]] == [0.0, 0.0]
    # delta^1 = (delta^2 W2^T) f'(z^1), here by hand at the three kinks of layer 1.
    W2 = np.array(request["network"]["layers"][1]["weights"])
    W2 = W2.T if preset == "pytorch" else W2
    upstream = np.array(output["deltas"]) @ W2.T
    slope = right if setting == 1 else left
    deltas = np.array(hidden["deltas"])
    for sample, unit in [(0, 0), (1, 0), (0, 1)]:
        assert upstream[sample, unit] != 0.0
        assert deltas[sample, unit] == pytest.approx(upstream[sample, unit] * slope, rel=1e-15)
    assert answer["conventions"]["relu_grad_at_zero"] == setting


async def test_a_kink_at_minus_zero_is_a_kink_at_zero(client: httpx.AsyncClient) -> None:
    """-0.0 == 0: the bias -0.0 with zero weights gives z = 0 (IEEE makes 0 * x + -0.0 = 0.0
    or -0.0 depending on the order), and both conventions must treat it as the kink."""
    for preset in ["textbook", "pytorch"]:
        request = {
            "network": {
                "layers": [{"weights": [[0.0], [-0.0]], "biases": [-0.0], "activation": "relu"}]
            },
            "inputs": [[-1.0, 1.0]],
            "targets": [[-1.0]],
            "loss": "mse",
            "learning_rate": 0.5,
            "conventions": preset,
            "weight_layout": "in_out",
        }
        answer = await _post(client, request)
        assert_matches_pytorch(answer, request)
        # dL/da = a - y = 1 (textbook), so delta = ReLU'(0) = 1; PyTorch's ReLU'(0) = 0.
        assert answer["layers"][0]["deltas"][0][0] == {"textbook": 1.0, "pytorch": 0.0}[preset]


# The losses' own kinks --------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["textbook", "pytorch"])
async def test_l1_and_huber_at_their_kinks_match_pytorch(
    client: httpx.AsyncClient, preset: str
) -> None:
    """l1 at o = y has gradient 0 (sign(0) = 0, as PyTorch); huber at |o - y| = delta exactly
    is on its linear side with gradient +-delta, and continuous there."""
    base: dict[str, Any] = {
        "network": {
            "layers": [
                {"weights": [[0.0, 0.0, 0.0]], "biases": [1.5, -0.25, 3.0], "activation": "linear"}
            ]
        },
        "inputs": [[0.7], [-1.2]],
        "learning_rate": 0.25,
        "conventions": preset,
        "weight_layout": "in_out",
    }
    l1 = {**base, "loss": "l1", "targets": [[1.5, 0.0, 3.0], [1.0, -0.25, 2.0]]}
    answer = await _post(client, l1)
    assert_matches_pytorch(answer, l1)
    assert answer["layers"][0]["deltas"][0][0] == 0.0
    assert answer["layers"][0]["deltas"][1][1] == 0.0

    huber = {
        **base,
        "loss": {"name": "huber", "delta": 0.5},
        "targets": [[1.0, 0.25, 3.5], [2.0, -0.75, 2.5]],
    }
    answer = await _post(client, huber)
    assert_matches_pytorch(answer, huber)
    scale = 1.0 if preset == "textbook" else 1.0 / 6.0
    assert (
        np.array(answer["layers"][0]["deltas"]).tolist()
        == (scale * np.array([[0.5, -0.5, -0.5], [-0.5, 0.5, 0.5]])).tolist()
    )


@pytest.mark.parametrize("preset", ["textbook", "pytorch"])
async def test_smooth_l1_at_its_breakpoints_matches_pytorch(
    client: httpx.AsyncClient, preset: str
) -> None:
    """smooth_l1 exactly at |o - y| = beta is on its linear side with gradient +-1 (the
    quadratic side gives the same: the gradient is continuous); beta = 0 is l1 (0 at o = y)."""
    base: dict[str, Any] = {
        "network": {
            "layers": [
                {"weights": [[0.0, 0.0, 0.0]], "biases": [1.5, -0.25, 3.0], "activation": "linear"}
            ]
        },
        "inputs": [[0.7], [-1.2]],
        "learning_rate": 0.25,
        "conventions": preset,
        "weight_layout": "in_out",
    }
    at_beta = {
        **base,
        "loss": {"name": "smooth_l1", "beta": 0.5},
        "targets": [
            [1.0, 0.25, 3.25],
            [2.0, -0.75, 2.5],
        ],  # d = (0.5, -0.5, -0.25), (-0.5, 0.5, 0.5)
    }
    answer = await _post(client, at_beta)
    assert_matches_pytorch(answer, at_beta)
    scale = 1.0 if preset == "textbook" else 1.0 / 6.0
    assert (
        np.array(answer["layers"][0]["deltas"]).tolist()
        == (scale * np.array([[1.0, -1.0, -0.5], [-1.0, 1.0, 1.0]])).tolist()
    )
    as_l1 = {
        **base,
        "loss": {"name": "smooth_l1", "beta": 0.0},
        "targets": [[1.5, 0.0, 3.0], [1.0, -0.25, 2.0]],
    }
    answer = await _post(client, as_l1)
    assert_matches_pytorch(answer, as_l1)
    assert answer["layers"][0]["deltas"][0][0] == 0.0
    assert answer["layers"][0]["deltas"][1][1] == 0.0


# Extreme pre-activations and saturated losses ---------------------------------------------------

EXTREME_Z = sorted(
    {
        *np.linspace(-40.0, 40.0, 161).tolist(),
        *(
            s * v
            for s in (-1.0, 1.0)
            for v in (1e-300, 1e-8, 0.5, 5.0, 17.0, 27.5, 36.5, 700.0, 1000.0)
        ),
    }
)
"""z from -1000 to 1000, densely over [-40, 40] where the exponentials saturate."""


def _probe_request(
    activation: str | dict[str, Any], logits: np.ndarray, *, loss: Any, targets: Any, preset: str
) -> dict[str, Any]:
    """One layer whose z is exactly ``logits`` (N x K): inputs are the N x N identity, so
    z = I W + 0 = W with no rounding."""
    n = logits.shape[0]
    return {
        "network": {
            "layers": [
                {
                    "weights": logits.tolist(),
                    "biases": [0.0] * logits.shape[1],
                    "activation": activation,
                }
            ]
        },
        "inputs": np.eye(n).tolist(),
        "targets": targets,
        "loss": loss,
        "learning_rate": 0.125,
        "conventions": preset,
        "weight_layout": "in_out",
    }


@pytest.mark.parametrize("activation", LAST_ACTIVATIONS, ids=_activation_key)
@pytest.mark.parametrize("preset", ["textbook", "pytorch"])
async def test_extreme_pre_activations_match_pytorch(
    client: httpx.AsyncClient, activation: str | dict[str, Any], preset: str
) -> None:
    """f(z) and f'(z) for |z| up to 1000, with dL/da = 1 exactly (l1, sum, targets below every
    output) so that delta = f'(z); for softmax the rows are 4 of these z at a time."""
    z = np.array(EXTREME_Z)
    z = z[: len(z) // 4 * 4].reshape(-1, 4) if activation == "softmax" else z.reshape(1, -1)
    targets = np.full(z.shape, -2000.0).tolist()
    loss = {"name": "l1", "reduction": "sum"}
    request = _probe_request(activation, z, loss=loss, targets=targets, preset=preset)
    assert_matches_pytorch(await _post(client, request), request)


def _saturated_cases() -> list[tuple[str, Any, str | dict[str, Any], np.ndarray, Any]]:
    gaps = np.array([[0.0, 30.0, -30.0], [40.0, 0.0, -5.0], [0.0, 17.0, 36.0], [0.0, -1.0, 120.0]])
    big = np.array([[-40.0, -30.0, -17.0, -1e-3, 17.0, 30.0, 40.0]])
    hard = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    soft = [[1e-12, 1.0 - 1e-12, 0.0], [0.5, 0.25, 0.25], [1.0 - 1e-9, 0.0, 1e-9], [0.0, 1.0, 0.0]]
    binary = [[0.0, 1.0, 1e-12, 0.5, 1.0 - 1e-12, 0.0, 1.0]]
    return [
        ("softmax-ce", {"name": "cross_entropy"}, "softmax", gaps, hard),
        ("softmax-ce-classes", {"name": "cross_entropy"}, "softmax", gaps, [1, 1, 2, 0]),
        (
            "softmax-ce-smooth",
            {"name": "cross_entropy", "label_smoothing": 0.1},
            "softmax",
            gaps,
            soft,
        ),
        ("logits-ce", {"name": "cross_entropy", "from_logits": True}, "linear", gaps, soft),
        ("sigmoid-ce", {"name": "cross_entropy"}, "sigmoid", gaps, soft),
        ("sigmoid-bce", {"name": "binary_cross_entropy"}, "sigmoid", big, binary),
        (
            "logits-bce",
            {"name": "binary_cross_entropy", "from_logits": True},
            "linear",
            big,
            binary,
        ),
        ("softmax-bce", {"name": "binary_cross_entropy"}, "softmax", gaps, soft),
        ("softmax-bce-hard", {"name": "binary_cross_entropy"}, "softmax", gaps, hard),
        ("softplus-mse", {"name": "mse"}, "softplus", big, binary),
    ]


SATURATED = _saturated_cases()


@pytest.mark.parametrize(
    ("loss", "activation", "logits", "targets"),
    [c[1:] for c in SATURATED],
    ids=[c[0] for c in SATURATED],
)
@pytest.mark.parametrize("preset", ["textbook", "pytorch"])
async def test_saturated_losses_match_pytorch(
    client: httpx.AsyncClient,
    *,
    loss: dict[str, Any],
    activation: str,
    logits: np.ndarray,
    targets: Any,
    preset: str,
) -> None:
    """Logits 17 to 120 apart, probabilities and targets within 1e-12 of 0 and 1: where the
    fused forms matter, BCELoss clamps (log at -100, o (1 - o) at 1e-12) and p - y cancels."""
    request = _probe_request(activation, logits, loss=loss, targets=targets, preset=preset)
    assert_matches_pytorch(await _post(client, request), request)


# A real server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """``backprop-service serve`` (uvicorn, uvloop, httptools) in a subprocess."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30.0
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not become ready (exit code {process.poll()})")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def server_client(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30.0) as c:
        yield c


@pytest.mark.server
@pytest.mark.parametrize("loss", LOSS_VARIANTS, ids=_loss_id)
async def test_a_real_server_answers_like_pytorch(
    server_client: httpx.AsyncClient, loss: dict[str, Any]
) -> None:
    """Over real HTTP, JSON written and read as a client does: a few networks per loss."""
    for request in itertools.islice(random_cases(loss, seed=SEED + 1), 0, None, 15):
        assert_matches_pytorch(await _post(server_client, request), request)


# Negative controls: the comparison fails when it should -----------------------------------------


async def test_the_comparison_fails_on_a_gradient_off_by_2e_9(client: httpx.AsyncClient) -> None:
    request = next(random_cases(LOSS_VARIANTS[0], seed=SEED + 2))
    answer = await _post(client, request)
    assert not ref.compare(answer, request).mismatches
    gradients = answer["layers"][-1]["weight_gradients"]
    row, col = np.unravel_index(np.argmax(np.abs(gradients)), np.shape(gradients))
    exact = gradients[row][col]

    gradients[row][col] = exact * (1.0 + 2e-9)
    mismatches = ref.compare(answer, request).mismatches
    layer = len(answer["layers"]) - 1
    assert [(m.field, m.index) for m in mismatches] == [
        (f"layers[{layer}].weight_gradients", (int(row), int(col)))
    ]

    gradients[row][col] = exact * (1.0 + 5e-10)
    assert not ref.compare(answer, request).mismatches


async def test_the_comparison_catches_a_derivative_off_by_1e_8(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sigmoid whose derivative is 1e-8 too large: the forward fields still match, every
    gradient downstream of it does not."""
    right = engine_activations.Sigmoid.derivative

    def wrong(self: engine_activations.Sigmoid, z: Any, a: Any) -> Any:
        return right(self, z, a) * (1.0 + 1e-8)

    monkeypatch.setattr(engine_activations.Sigmoid, "derivative", wrong)
    request = kink_request("sigmoid", "textbook", None)
    comparison = ref.compare(await _post(client, request), request)
    wrong_fields = {m.field.rsplit(".", 1)[-1] for m in comparison.mismatches}
    assert wrong_fields >= {"deltas", "weight_gradients", "bias_gradients", "input_gradients"}
    assert wrong_fields.isdisjoint({"loss", "outputs", "pre_activations", "activations"})


@pytest.mark.parametrize(("preset", "sent", "setting"), KINK_SETTINGS)
async def test_the_comparison_catches_the_wrong_kink_convention(
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    *,
    preset: str,
    sent: int | None,
    setting: int,
) -> None:
    """ReLU'(0) taken from the convention that does not apply: only the kinks differ."""

    def flipped(self: engine_activations.ReLU, z: Any, a: Any) -> Any:
        positive = z > 0.0 if self.positive_at_zero else z >= 0.0
        return positive.astype(np.float64)

    monkeypatch.setattr(engine_activations.ReLU, "derivative", flipped)
    request = kink_request("relu", preset, sent)
    comparison = ref.compare(await _post(client, request), request)
    deltas = {m.index for m in comparison.mismatches if m.field == "layers[0].deltas"}
    assert deltas == {(0, 0), (1, 0), (0, 1)}


# What the oracle deliberately does not do --------------------------------------------------------


@pytest.mark.parametrize("z", [20.0, 28.0, 40.0])
async def test_sigmoid_bce_is_the_fused_form_not_bceloss_of_the_sigmoid(
    client: httpx.AsyncClient, z: float
) -> None:
    """docs/api.md prescribes the fused form for a sigmoid last layer under binary_cross_entropy;
    a reference that chains F.binary_cross_entropy(torch.sigmoid(z), y) instead parts from it
    once 1 - sigmoid(z) has lost its digits: the loss by 1.8e-9 at z = 20, dL/dz by 31% at
    z = 28 (o (1 - o) under BCELoss's clamp), and at z = 40 the loss is 100 (log clamped at
    -100) for 40 and dL/dz is 0 for 1."""
    torch = pytest.importorskip("torch")
    request = {
        "network": {"layers": [{"weights": [[z]], "biases": [0.0], "activation": "sigmoid"}]},
        "inputs": [[1.0]],
        "targets": [[0.0]],
        "loss": "binary_cross_entropy",
        "learning_rate": 0.5,
    }
    answer = await _post(client, request)
    assert_matches_pytorch(answer, request)
    assert answer["loss"] == pytest.approx(z + math.log1p(math.exp(-z)), rel=1e-15)
    assert answer["layers"][0]["deltas"][0][0] == pytest.approx(1.0 / (1.0 + math.exp(-z)))

    logit = torch.tensor([[z]], dtype=torch.float64, requires_grad=True)
    chained = torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(logit), torch.zeros(1, 1, dtype=torch.float64), reduction="sum"
    )
    chained.backward()
    assert abs(chained.item() - answer["loss"]) > 1e-9 * answer["loss"]
    if z >= 28.0:
        assert logit.grad is not None
        assert abs(logit.grad.item() - answer["layers"][0]["deltas"][0][0]) > 0.3
