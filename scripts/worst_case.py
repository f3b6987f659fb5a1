"""The most expensive request the default limits let through, timed against a real server.

    python scripts/worst_case.py

Builds a request at the edge of several default limits at once (1,000 x 1,990 weights, nearly
max_parameters; samples chosen to stay under max_answer_values; one-character numbers so that
max_body_values, not max_body_bytes, is the bound on parsing), posts it to `backprop-service
serve` on a free port, and prints the answer's time and size and the server's peak resident memory
above idle. docs/deployment.md quotes what it printed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import running, status_kib

N_IN, N_OUT, N_SAMPLES = 1000, 1990, 440


def body() -> bytes:
    row = b"[" + b",".join([b"1"] * N_OUT) + b"]"
    weights = b"[" + b",".join([row] * N_IN) + b"]"
    biases = b"[" + b",".join([b"0"] * N_OUT) + b"]"
    sample = b"[" + b",".join([b"1"] * N_IN) + b"]"
    inputs = b"[" + b",".join([sample] * N_SAMPLES) + b"]"
    targets = b"[" + b",".join([b"0"] * N_SAMPLES) + b"]"
    return (b'{"network":{"layers":[{"weights":' + weights + b',"biases":' + biases
            + b',"activation":"softmax"}]},"inputs":' + inputs + b',"targets":' + targets
            + b',"loss":"cross_entropy","learning_rate":1e-9}')  # fmt: skip


def main() -> int:
    with running("service") as server:
        idle = status_kib(server.pid, "VmHWM")
        payload = body()
        start = time.perf_counter()
        url = f"http://127.0.0.1:{server.port}/v1/backprop"
        json_body = {"content-type": "application/json"}
        response = httpx.post(url, content=payload, timeout=120, headers=json_body)
        seconds = time.perf_counter() - start
        peak = status_kib(server.pid, "VmHWM")
    print(f"request: {len(payload) / 2**20:.1f} MiB, {payload.count(b',') + 1:,} values, "
          f"{N_IN} x {N_OUT} weights, {N_SAMPLES} samples")  # fmt: skip
    print(f"answer: {response.status_code}, {len(response.content) / 2**20:.1f} MiB "
          f"in {seconds:.2f} s")  # fmt: skip
    print(f"server peak RSS: {peak / 1024:.0f} MiB, {(peak - idle) / 1024:.0f} MiB above idle")
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
