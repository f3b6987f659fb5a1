"""Soak test: concurrent clients send a mix of good and bad requests to a real server for a while.

    python scripts/soak.py [--clients 16] [--seconds 60] [--warmup 10]

Starts `backprop-service serve` on a free port, then runs the clients. Every good request's answer
is checked against the one computed in process; every bad one must get the 4xx its kind calls
for. Prints the counts by kind and status, the p50/p99 latency of the good requests, and the
server's resident memory after the warm-up and at the end. Exits 1 on any 5xx, any unexpected
status, any wrong answer, or memory that grew more than 10% (+ 16 MB) after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import backprop, dumps  # noqa: E402
from bench.servers import running, status_kib  # noqa: E402
from schemas import SPEC_EXAMPLE, BackpropRequest  # noqa: E402


def medium_request(seed: int) -> dict[str, Any]:
    """A 32-64-64-10 relu network with softmax + cross-entropy, batch 32 (about 70 kB)."""
    rng = random.Random(seed)
    sizes = [32, 64, 64, 10]
    layers = [
        {
            "weights": [[rng.gauss(0, 0.3) for _ in range(b)] for _ in range(a)],
            "biases": [rng.gauss(0, 0.1) for _ in range(b)],
            "activation": "relu" if i < 2 else "softmax",
        }
        for i, (a, b) in enumerate(itertools.pairwise(sizes))
    ]
    return {
        "network": {"layers": layers},
        "inputs": [[rng.gauss(0, 1) for _ in range(32)] for _ in range(32)],
        "targets": [rng.randrange(10) for _ in range(32)],
        "loss": "cross_entropy",
        "learning_rate": 0.1,
    }


def expected_answer(request: dict[str, Any]) -> Any:
    return orjson.loads(dumps(backprop(BackpropRequest.model_validate(request))))


GOOD = [SPEC_EXAMPLE, medium_request(1), medium_request(2)]
EXPECTED = [expected_answer(r) for r in GOOD]
JSON = {"content-type": "application/json"}

# kind -> (body, headers, expected status)
BAD: dict[str, tuple[bytes, dict[str, str], int]] = {
    "not json": (b"{not json", JSON, 400),
    "wrong content type": (json.dumps(SPEC_EXAMPLE).encode(), {"content-type": "text/plain"}, 415),
    "shape mismatch": (json.dumps({**SPEC_EXAMPLE, "inputs": [[1.0, 2.0, 3.0]]}).encode(),
                       JSON, 422),
    "NaN": (json.dumps(SPEC_EXAMPLE).replace("0.5}", "NaN}").encode(), JSON, 422),
    "blowup": (json.dumps({"network": {"layers": [{"weights": [[0.5] * 4096],
                                                   "biases": [0.0] * 4096,
                                                   "activation": "relu"}]},
                           "inputs": [[1.0]] * 10_000, "targets": [0] * 10_000,
                           "loss": "cross_entropy", "learning_rate": 0.1}).encode(), JSON, 422),
    "overflow": (json.dumps({**SPEC_EXAMPLE, "learning_rate": 1e308,
                             "targets": [[1e10, -1e10]]}).encode(), JSON, 422),
    "too large": (b" " * (33 * 1024 * 1024), JSON, 413),
}  # fmt: skip


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []
        self.latencies: list[float] = []


async def client_loop(url: str, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.monotonic() < deadline:
            if rng.random() < 0.7:
                i = rng.randrange(len(GOOD))
                start = time.perf_counter()
                response = await client.post("/v1/backprop", json=GOOD[i])
                tally.latencies.append(time.perf_counter() - start)
                tally.statuses[("good", response.status_code)] += 1
                if response.status_code != 200 or response.json() != EXPECTED[i]:
                    tally.failures.append(f"good request {i}: {response.status_code}")
            else:
                kind = rng.choice(list(BAD))
                body, headers, status = BAD[kind]
                try:
                    response = await client.post("/v1/backprop", content=body, headers=headers)
                    got = response.status_code
                except httpx.TransportError:
                    # The server answers 413 and closes as soon as it reads a Content-Length over
                    # the limit; a client still sending the body may see the reset instead.
                    got = 413 if kind == "too large" else 0
                tally.statuses[(kind, got)] += 1
                if got != status:
                    tally.failures.append(f"{kind}: {got}, not {status}")


async def soak(url: str, pid: int, clients: int, seconds: float, warmup: float) -> int:
    tally = Tally()
    start = time.monotonic()
    tasks = [asyncio.create_task(client_loop(url, start + warmup + seconds, tally, seed))
             for seed in range(clients)]  # fmt: skip
    await asyncio.sleep(warmup)
    rss_after_warmup = status_kib(pid, "VmRSS")
    good_before = sum(n for (kind, _), n in tally.statuses.items() if kind == "good")
    await asyncio.gather(*tasks)
    rss_end = status_kib(pid, "VmRSS")

    print(f"{clients} clients, {warmup:g} s warm-up + {seconds:g} s")
    for (kind, status), count in sorted(tally.statuses.items()):
        print(f"  {kind:<20} {status}  x {count}")
    good = sorted(tally.latencies)
    p50, p99 = statistics.median(good), good[int(0.99 * (len(good) - 1))]
    good_total = sum(n for (kind, _), n in tally.statuses.items() if kind == "good")
    print(f"good requests: {good_total} ({(good_total - good_before) / seconds:.0f}/s after "
          f"warm-up), latency p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")  # fmt: skip
    drift = rss_end - rss_after_warmup
    print(f"server RSS after warm-up {rss_after_warmup / 1024:.1f} MiB, at the end "
          f"{rss_end / 1024:.1f} MiB, drift {drift / 1024:+.1f} MiB")  # fmt: skip
    server_errors = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
    print(f"5xx: {server_errors}, unexpected answers: {len(tally.failures)}")
    for failure in tally.failures[:10]:
        print(f"  {failure}")
    grew = drift > 0.10 * rss_after_warmup + 16 * 1024
    return 1 if server_errors or tally.failures or grew else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    args = parser.parse_args()

    in_flight = {"BACKPROP_MAX_IN_FLIGHT": str(4 * args.clients)}
    with running("service", settings=in_flight) as server:
        url = f"http://127.0.0.1:{server.port}"
        return asyncio.run(soak(url, server.pid, args.clients, args.seconds, args.warmup))


if __name__ == "__main__":
    raise SystemExit(main())
