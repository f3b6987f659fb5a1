"""What a user would write instead: a plain FastAPI route doing the same NumPy work.

    python -m bench.plain_app [serve options]

An ``async def`` route that takes the body as Pydantic models of JSON lists, runs the forward
pass and backpropagation of a sigmoid network with the textbook's MSE in NumPy, and returns
the answer as lists for FastAPI to write. It checks nothing beyond the models' types and
answers only that one kind of network. The benchmark compares the service's CPU per tiny
request with this app's (bench/tiny.py), both under the same uvicorn settings.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from scipy import special

from app import cli


class Layer(BaseModel):
    weights: list[list[float]]
    biases: list[float]
    activation: str


class Network(BaseModel):
    layers: list[Layer]


class Request(BaseModel):
    network: Network
    inputs: list[list[float]]
    targets: list[list[float]]
    loss: str = "mse"
    learning_rate: float


app = FastAPI()


@app.post("/v1/backprop")
async def backprop(req: Request) -> dict[str, Any]:
    x, y = np.array(req.inputs), np.array(req.targets)
    weights = [np.array(layer.weights) for layer in req.network.layers]
    biases = [np.array(layer.biases) for layer in req.network.layers]
    zs, activations = [], [x]
    for W, b in zip(weights, biases, strict=True):
        zs.append(activations[-1] @ W + b)
        activations.append(special.expit(zs[-1]))
    a = activations[-1]
    loss = 0.5 * float(np.sum((a - y) ** 2))
    deltas = [(a - y) * a * (1 - a)]
    for i in range(len(weights) - 1, 0, -1):
        deltas.insert(0, (deltas[0] @ weights[i].T) * activations[i] * (1 - activations[i]))
    layers = []
    for i, (W, b, delta) in enumerate(zip(weights, biases, deltas, strict=True)):
        grad_W, grad_b = activations[i].T @ delta, delta.sum(axis=0)
        layers.append(
            {
                "pre_activations": zs[i].tolist(),
                "activations": activations[i + 1].tolist(),
                "deltas": delta.tolist(),
                "weight_gradients": grad_W.tolist(),
                "bias_gradients": grad_b.tolist(),
                "updated_weights": (W - req.learning_rate * grad_W).tolist(),
                "updated_biases": (b - req.learning_rate * grad_b).tolist(),
            }
        )
    return {
        "loss": loss,
        "outputs": a.tolist(),
        "layers": layers,
        "input_gradients": (deltas[0] @ weights[0].T).tolist(),
    }


def main() -> None:
    args = cli.build_parser().parse_args(["serve", *sys.argv[1:]])
    uvicorn.run("bench.plain_app:app", **cli.uvicorn_options(args))


if __name__ == "__main__":
    main()
