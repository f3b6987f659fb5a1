"""The in-process floor of a /v1/backprop request, as issue 4 defines it.

orjson.loads of the request bytes, conversion of its arrays to NumPy, the engine, and
orjson.dumps of the same answer the service sends: no validation, no HTTP, no event loop.
Nothing a real service can skip, so "end to end / floor" is the price of everything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

import engine
from schemas import backprop_payload, conventions_payload

TEXTBOOK = engine.PRESETS[engine.Preset.TEXTBOOK]


def floor(body: bytes) -> bytes:
    """The answer to a textbook-convention request with named activations and loss."""
    request: dict[str, Any] = orjson.loads(body)
    network = engine.Network(
        tuple(
            engine.DenseLayer(
                np.array(layer["weights"], dtype=np.float64),
                np.array(layer["biases"], dtype=np.float64),
                engine.make_activation(layer["activation"], {}, TEXTBOOK),
            )
            for layer in request["network"]["layers"]
        )
    )
    loss = engine.make_loss(request["loss"], {}, TEXTBOOK)
    result = engine.backprop(
        network,
        np.array(request["inputs"], dtype=np.float64),
        np.array(request["targets"], dtype=np.float64),
        loss,
        learning_rate=request["learning_rate"],
    )
    payload = backprop_payload(
        result, single_sample=False, conventions=conventions_payload(TEXTBOOK, loss)
    )
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
