"""The most expensive request the default limits let through, timed against a real server.

    python scripts/worst_case.py

Builds a request at the edge of several default limits at once (1,000 x 1,990 weights, nearly
max_parameters; samples chosen to stay under max_answer_values; one-character numbers so that
max_body_values, not max_body_bytes, is the bound on parsing), posts it to `backprop-service
serve` on a free port, and prints the answer's time and size and the server's peak resident memory
above idle. docs/deployment.md quotes what it printed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "backprop-service"), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        idle = peak_kib(server.pid)
        payload = body()
        start = time.perf_counter()
        response = httpx.post(f"{url}/v1/backprop", content=payload, timeout=120,
                              headers={"content-type": "application/json"})  # fmt: skip
        seconds = time.perf_counter() - start
        peak = peak_kib(server.pid)
        print(f"request: {len(payload) / 2**20:.1f} MiB, {payload.count(b',') + 1:,} values, "
              f"{N_IN} x {N_OUT} weights, {N_SAMPLES} samples")  # fmt: skip
        print(f"answer: {response.status_code}, {len(response.content) / 2**20:.1f} MiB "
              f"in {seconds:.2f} s")  # fmt: skip
        print(f"server peak RSS: {peak / 1024:.0f} MiB, {(peak - idle) / 1024:.0f} MiB above idle")
        return 0 if response.status_code == 200 else 1
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
