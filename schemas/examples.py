"""The contract's worked example (docs/api.md): a 2-3-2 sigmoid network, one sample, MSE, eta 0.5.

It is the request example in the OpenAPI docs (so "Try it out" works) and the README's, and the
tests check the service's answer to it against the figures docs/api.md gives.
"""

from __future__ import annotations

from typing import Any

SPEC_EXAMPLE: dict[str, Any] = {
    "network": {
        "layers": [
            {
                "weights": [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]],
                "biases": [0.1, 0.1, 0.1],
                "activation": "sigmoid",
            },
            {
                "weights": [[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]],
                "biases": [0.2, 0.2],
                "activation": "sigmoid",
            },
        ]
    },
    "inputs": [[1.0, 2.0]],
    "targets": [[1.0, 0.0]],
    "loss": "mse",
    "learning_rate": 0.5,
}

SPEC_FORWARD_EXAMPLE: dict[str, Any] = {
    key: value for key, value in SPEC_EXAMPLE.items() if key != "learning_rate"
}

SPEC_EXAMPLE_LOSS = 0.4322205622951505
"""The loss docs/api.md gives for SPEC_EXAMPLE."""
