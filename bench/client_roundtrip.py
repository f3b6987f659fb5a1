"""The large request through backprop_client: its own choice of arrays against JSON lists.

    .venv/bin/python -m bench.client_roundtrip [--rounds 20] [--url http://127.0.0.1:8000]

The 784-256-128-10 network with a batch of 64 (workloads.large_softmax), from NumPy arrays in
to a BackpropResult of NumPy arrays out, both ways through the same client and connection:

  client      Client.backprop(problem): array_encoding "auto", which sends this request as
              Base64Arrays and asks for the answer the same way
  JSON lists  Client.backprop(problem, array_encoding="lists"): the same call with plain JSON
              lists of numbers both ways

Both must give the same arrays, bit for bit, before anything is timed. For reference it also
times the call as one writes it by hand with httpx (json=request.tolist(), response.json(),
np.asarray). Without --url a service is started here, on a free port of 127.0.0.1.
"""

from __future__ import annotations

from bench.servers import pin_threads

pin_threads()  # before NumPy is imported, as in bench.run

import argparse  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402

from backprop_client import BackpropResult, Client, Layer, Problem  # noqa: E402
from bench.servers import Server, running  # noqa: E402
from bench.stats import interleaved, ms  # noqa: E402
from bench.table import Row  # noqa: E402
from bench.workloads import large_softmax  # noqa: E402

TARGET = 0.5


def large_problem() -> tuple[Problem, dict[str, Any]]:
    """The large workload as a Problem of NumPy arrays, and as its JSON request."""
    request: dict[str, Any] = orjson.loads(large_softmax().body)
    problem = Problem(
        layers=[
            Layer(np.array(layer["weights"]), np.array(layer["biases"]), layer["activation"])
            for layer in request["network"]["layers"]
        ],
        inputs=np.array(request["inputs"]),
        targets=np.array(request["targets"]),
        loss=request["loss"],
        learning_rate=request["learning_rate"],
    )
    return problem, request


def _same(a: BackpropResult, b: BackpropResult) -> bool:
    arrays = [(a.outputs, b.outputs), (a.input_gradients, b.input_gradients)]
    for x, y in zip(a.layers, b.layers, strict=True):
        arrays += [(getattr(x, name), getattr(y, name)) for name in vars(x)]
    return a.loss == b.loss and all(np.array_equal(x, y) for x, y in arrays)


def measure(url: str, *, rounds: int) -> dict[str, Any]:
    """Median and p90 of each way, interleaved round by round, and the ratio of the medians."""
    problem, _ = large_problem()
    with Client(url) as client, httpx.Client(base_url=url, timeout=120) as http:

        def by_hand() -> list[np.ndarray[Any, Any]]:
            body = problem.body("lists")  # the arrays' .tolist(), as one writes it by hand
            answer = http.post("/v1/backprop", json=body).raise_for_status().json()
            return [np.asarray(layer["weight_gradients"]) for layer in answer["layers"]]

        auto = client.backprop(problem)
        lists = client.backprop(problem, array_encoding="lists")
        if not _same(auto, lists):
            raise AssertionError("the client's two encodings gave different answers")
        times = interleaved(
            {
                "client": lambda: client.backprop(problem),
                "json_lists": lambda: client.backprop(problem, array_encoding="lists"),
                "by_hand": by_hand,
            },
            rounds=rounds,
        )
    client_time, lists_time = times["client"], times["json_lists"]
    return {
        "workload": large_softmax().label,
        "client": client_time.as_dict(),
        "json_lists": lists_time.as_dict(),
        "by_hand_httpx_json": times["by_hand"].as_dict(),
        "ratio_median": client_time.median / lists_time.median,
    }


def row(result: dict[str, Any]) -> Row:
    """The ratio as a row of `make bench`'s table."""
    ratio = result["ratio_median"]
    return Row(
        f"client round trip {result['workload']}, NumPy in and out (auto: Base64Array), median",
        ms(result["client"]["median"]),
        f"same call, JSON lists {ms(result['json_lists']['median'])}",
        ratio,
        f"<= {TARGET}x",
        ratio <= TARGET,
    )


def rows(server: Server, *, quick: bool) -> list[Row]:
    """The row, measured on `make bench`'s running service."""
    return [row(measure(f"http://127.0.0.1:{server.port}", rounds=10 if quick else 30))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--url", help="a running service (default: one started here)")
    args = parser.parse_args()
    if args.url:
        result = measure(args.url, rounds=args.rounds)
    else:
        with running("service") as server:
            result = measure(f"http://127.0.0.1:{server.port}", rounds=args.rounds)
    for name in ("client", "json_lists", "by_hand_httpx_json"):
        figures = result[name]
        print(f"{name:20} median {ms(figures['median']):>9}  p90 {ms(figures['p90']):>9}")
    print(f"ratio client / JSON lists (median): {result['ratio_median']:.2f}x, target <= {TARGET}x")


if __name__ == "__main__":
    main()
