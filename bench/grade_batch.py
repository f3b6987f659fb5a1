"""Grading a class: 500 answers to one problem, one by one against one batch, side by side;
and a class of 5,000 answers written to the last digit against the 500 (``make bench`` only).

    .venv/bin/python -m bench.grade_batch [--submissions 500] [--url http://127.0.0.1:8000]

The problem is a seeded 4-8-8-3 sigmoid network (two samples, MSE); a third of the answers
are right, a third have the sign of dL/do flipped, a third have a slip in one entry of each
layer, so that the grader also has to look for the mistakes. Without --url the app runs in
this process (httpx over ASGI, no network), which measures the service and not the loopback.
Both runs must give every student the same score; the script says so, then prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench.servers import Server, status_kib
from bench.table import Row

PROBLEM = {"seed": 2024, "layer_sizes": [4, 8, 8, 3], "batch_size": 2, "decimals": 1}


@asynccontextmanager
async def client_for(url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    if url is not None:
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            yield client
        return
    from app.config import Settings
    from app.main import create_app

    app = create_app(Settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


def answers(solution: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """count answers: right ones, sign errors and slips, in turn."""
    right = {k: solution[k] for k in ("loss", "outputs")}
    right["layers"] = [
        {k: v for k, v in layer.items() if k != "conventions"} for layer in solution["layers"]
    ]
    made: list[dict[str, Any]] = []
    for i in range(count):
        answer = copy.deepcopy(right)
        if i % 3 == 1:  # the sign of dL/do flipped: every delta and gradient negated
            for layer, original in zip(answer["layers"], solution["layers"], strict=True):
                for key in ("deltas", "weight_gradients", "bias_gradients"):
                    layer[key] = _negated(original[key])
        elif i % 3 == 2:  # a slip of the pen in each layer's deltas
            for layer in answer["layers"]:
                layer["deltas"][0][i % len(layer["deltas"][0])] += 0.1
        made.append(answer)
    return made


def _negated(value: Any) -> Any:
    return [_negated(v) for v in value] if isinstance(value, list) else -value


@dataclass(frozen=True)
class Timing:
    count: int
    single_seconds: float
    batch_seconds: float
    same_scores: bool


async def measure(url: str | None, count: int) -> Timing:
    async with client_for(url) as client:
        generated = await client.post("/v1/problems", json={**PROBLEM, "solution": True})
        generated.raise_for_status()
        problem, solution = generated.json()["problem"], generated.json()["solution"]
        class_answers = answers(solution, count)

        start = time.perf_counter()
        single_scores = []
        for answer in class_answers:
            response = await client.post(
                "/v1/grade", json={"problem": problem, "submission": answer}
            )
            response.raise_for_status()
            single_scores.append(response.json()["score"])
        single = time.perf_counter() - start

        body = {
            "problem": problem,
            "submissions": [{"id": f"s{i}", "submission": a} for i, a in enumerate(class_answers)],
        }
        start = time.perf_counter()
        response = await client.post("/v1/grade/batch", json=body)
        batch = time.perf_counter() - start
        response.raise_for_status()
        batch_scores = [r["report"]["score"] for r in response.json()["results"]]
    return Timing(count, single, batch, batch_scores == single_scores)


def rows(server: Server, *, quick: bool) -> list[Row]:
    """The ratios as rows of `make bench`'s table, measured on its running service: the batch
    against one call per answer, and a class of 5,000 against the 500 (per answer)."""
    count = 100 if quick else 500
    timing = asyncio.run(measure(f"http://127.0.0.1:{server.port}", count))
    if not timing.same_scores:
        raise SystemExit("grade_batch: the batch and the separate calls scored differently")
    per_answer = timing.batch_seconds / count
    large = class_of(server, CLASS_SIZE)
    return [
        Row(
            f"grade/batch: {count} answers to a 4-8-8-3 problem, total",
            f"{timing.batch_seconds * 1e3:,.0f} ms",
            f"{count} x /v1/grade {timing.single_seconds * 1e3:,.0f} ms",
            timing.batch_seconds / timing.single_seconds,
            "far less (<= 0.2x)",
            timing.batch_seconds <= 0.2 * timing.single_seconds,
        ),
        Row(
            f"grade/batch: a class of {CLASS_SIZE:,} ({large.body_mib:.0f} MiB in, "
            f"{large.answer_mib:.0f} MiB out, +{large.peak_mib:.0f} MiB peak RSS), per answer",
            f"{large.seconds / CLASS_SIZE * 1e3:.2f} ms",
            f"{count} answers: {per_answer * 1e3:.2f} ms",
            large.seconds / CLASS_SIZE / per_answer,
            "accepted; as cheap (<= 1.25x)",
            large.seconds / CLASS_SIZE <= 1.25 * per_answer,
        ),
    ]


CLASS_SIZE = 5000


@dataclass(frozen=True)
class ClassTiming:
    seconds: float
    body_mib: float
    answer_mib: float
    peak_mib: float


def class_of(server: Server, count: int) -> ClassTiming:
    """A class of ``count`` answers written to the last digit (as a script would write them),
    graded in one /v1/grade/batch; its wall time, and the server's peak RSS above its RSS
    before (a lower bound when an earlier request had set a higher peak)."""
    url = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=url, timeout=600) as client:
        generated = client.post("/v1/problems", json={**PROBLEM, "solution": True})
        generated.raise_for_status()
        problem, solution = generated.json()["problem"], generated.json()["solution"]
        handins = [
            {"id": f"s{i:04d}", "submission": a} for i, a in enumerate(answers(solution, count))
        ]
        body = orjson.dumps({"problem": problem, "submissions": handins})
        before = status_kib(server.pid, "VmRSS")
        start = time.perf_counter()
        response = client.post(
            "/v1/grade/batch", content=body, headers={"content-type": "application/json"}
        )
        seconds = time.perf_counter() - start
    if response.status_code != 200 or response.json()["class_summary"]["submissions"] != count:
        raise SystemExit(f"grade_batch: a class of {count} was not graded: {response.text[:300]}")
    peak = (status_kib(server.pid, "VmHWM") - before) / 1024
    return ClassTiming(seconds, len(body) / 2**20, len(response.content) / 2**20, peak)


def report(timing: Timing) -> None:
    count, single, batch = timing.count, timing.single_seconds, timing.batch_seconds
    same = "the same" if timing.same_scores else "DIFFERENT"
    print(f"grade_batch: {count} answers to a 4-8-8-3 network, {same} scores both ways")
    print(f"  {count} x POST /v1/grade       {single:8.2f} s  {1000 * single / count:7.2f} ms each")
    print(f"  1 x POST /v1/grade/batch    {batch:8.2f} s  {1000 * batch / count:7.2f} ms each")
    print(f"  ratio: the batch costs 1/{single / batch:.1f} of the separate calls")
    if not timing.same_scores:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--url", help="a running service (default: the app, in this process)")
    args = parser.parse_args()
    report(asyncio.run(measure(args.url, args.submissions)))


if __name__ == "__main__":
    main()
