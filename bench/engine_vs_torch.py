"""The engine alone against PyTorch float64 autograd, on the same networks and thread count.

Both compute the same things from the same arrays: every layer's z and a, the loss, every
delta (PyTorch: retained z.grad), the weight and bias gradients, dL/dx and the updated
parameters. Timed in alternation, one call each per round; the ratio is engine / torch.
Skipped when torch is not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

import engine
from bench.servers import THREADS
from bench.stats import interleaved

SIZES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((2, 3, 2), 1),
    ((16, 16, 4), 16),
    ((64, 64, 10), 64),
    ((256, 256, 10), 64),
    ((784, 256, 128, 10), 64),
    ((1024, 1024, 10), 64),
    ((1024, 1024, 1024, 10), 64),
)
"""(widths, batch): relu hidden layers, softmax output, cross-entropy summed over samples."""


def _problem(widths: tuple[int, ...], batch: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "weights": [
            rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)) for n_in, n_out in pairwise(widths)
        ],
        "biases": [rng.normal(0.0, 0.01, n_out) for n_out in widths[1:]],
        "x": rng.random((batch, widths[0])),
        "y": np.eye(widths[-1])[rng.integers(0, widths[-1], batch)],
    }


def engine_step(problem: dict[str, Any]) -> Callable[[], object]:
    conventions = engine.PRESETS[engine.Preset.TEXTBOOK]
    n_layers = len(problem["weights"])
    activations = [
        engine.make_activation("softmax" if i == n_layers - 1 else "relu", {}, conventions)
        for i in range(n_layers)
    ]
    network = engine.Network(
        tuple(
            engine.DenseLayer(W, b, f)
            for W, b, f in zip(problem["weights"], problem["biases"], activations, strict=True)
        )
    )
    loss = engine.make_loss("cross_entropy", {}, conventions)
    x, y = problem["x"], problem["y"]
    return lambda: engine.backprop(network, x, y, loss, learning_rate=0.1)


def torch_step(problem: dict[str, Any]) -> Callable[[], object]:
    import torch

    weights = [torch.tensor(W, requires_grad=True) for W in problem["weights"]]
    biases = [torch.tensor(b, requires_grad=True) for b in problem["biases"]]
    x0 = torch.tensor(problem["x"])
    y = torch.tensor(problem["y"])

    def step() -> object:
        x = x0.clone().requires_grad_(True)
        a, zs, activations = x, [], []
        for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
            z = a @ W + b
            z.retain_grad()
            a = torch.relu(z) if i < len(weights) - 1 else torch.softmax(z, dim=1)
            zs.append(z)
            activations.append(a)
        loss = -(y * torch.log_softmax(zs[-1], dim=1)).sum()  # the fused, stable form
        for p in (*weights, *biases):
            p.grad = None
        loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
        with torch.no_grad():
            updated = [p - 0.1 * p.grad for p in (*weights, *biases)]  # type: ignore[operator, unused-ignore]
        return loss.item(), [z.grad for z in zs], x.grad, updated

    return step


def measure(*, rounds: int) -> list[dict[str, Any]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    results = []
    for widths, batch in SIZES:
        problem = _problem(widths, batch)
        times = interleaved(
            {"engine": engine_step(problem), "torch": torch_step(problem)}, rounds=rounds, warmup=3
        )
        results.append(
            {
                "network": "-".join(map(str, widths)),
                "batch": batch,
                "engine": times["engine"].as_dict(),
                "torch": times["torch"].as_dict(),
                "ratio": times["engine"].median / times["torch"].median,
            }
        )
    return results
