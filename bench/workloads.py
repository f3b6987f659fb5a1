"""The requests the benchmark sends: dense networks with seeded random parameters.

Every workload is a JSON body as a client would send it (bytes, built once) plus the pieces an
in-process floor needs. Widths and batch sizes are the issue's: the 784-256-128-10 network with
a batch of 64 for "large", the contract's 2-3-2 example (docs/api.md) for "tiny".
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import orjson

from schemas import SPEC_EXAMPLE
from schemas.arrays import encode_base64

LARGE_WIDTHS = (784, 256, 128, 10)
LARGE_BATCH = 64


@dataclass(frozen=True)
class Workload:
    name: str
    widths: tuple[int, ...]
    batch: int
    body: bytes

    @property
    def parameters(self) -> int:
        """Weights and biases of the network."""
        return sum((n_in + 1) * n_out for n_in, n_out in pairwise(self.widths))

    @property
    def label(self) -> str:
        return "-".join(map(str, self.widths)) + f" x{self.batch}"


def network_request(
    widths: tuple[int, ...],
    batch: int,
    *,
    hidden: str = "relu",
    last: str = "softmax",
    loss: str = "cross_entropy",
    seed: int = 0,
) -> dict[str, Any]:
    """A /v1/backprop request: He-scaled random weights, uniform inputs, one-hot targets."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(pairwise(widths)):
        layers.append(
            {
                "weights": rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).tolist(),
                "biases": rng.normal(0.0, 0.01, n_out).tolist(),
                "activation": last if i == len(widths) - 2 else hidden,
            }
        )
    targets = np.eye(widths[-1])[rng.integers(0, widths[-1], batch)]
    return {
        "network": {"layers": layers},
        "inputs": rng.random((batch, widths[0])).tolist(),
        "targets": targets.tolist(),
        "loss": loss,
        "learning_rate": 0.1,
    }


def workload(name: str, widths: tuple[int, ...], batch: int, **kwargs: Any) -> Workload:
    return Workload(name, widths, batch, orjson.dumps(network_request(widths, batch, **kwargs)))


def large_softmax() -> Workload:
    """The issue's large request: relu hidden layers, softmax + cross-entropy."""
    return workload("large softmax+CE", LARGE_WIDTHS, LARGE_BATCH)


def large_sigmoid() -> Workload:
    """The issue's sigmoid + MSE variant of the large request."""
    return workload(
        "large sigmoid+MSE", LARGE_WIDTHS, LARGE_BATCH, hidden="sigmoid", last="sigmoid", loss="mse"
    )


def with_base64_arrays(work: Workload) -> Workload:
    """The same request with every array a Base64Array, asking for its answer the same way."""
    request = orjson.loads(work.body)
    for layer in request["network"]["layers"]:
        layer["weights"] = encode_base64(np.array(layer["weights"]))
        layer["biases"] = encode_base64(np.array(layer["biases"]))
    request["inputs"] = encode_base64(np.array(request["inputs"]))
    request["targets"] = encode_base64(np.array(request["targets"]))
    request["array_encoding"] = "base64"
    return Workload(f"{work.name}, base64 arrays", work.widths, work.batch, orjson.dumps(request))


def tiny() -> Workload:
    """The contract's worked example (docs/api.md): 2-3-2 sigmoid, one sample, MSE."""
    return Workload("tiny 2-3-2", (2, 3, 2), 1, orjson.dumps(SPEC_EXAMPLE))
