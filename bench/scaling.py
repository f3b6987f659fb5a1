"""Time per request against parameters x batch, end to end through the server, and its slope.

The networks double in width and batch from one size to the next (relu hidden layers, softmax
+ cross-entropy), so parameters x batch grows about eightfold per step over five orders of
magnitude. The slope is the least-squares fit of log(time) on log(parameters x batch): 1 is
linear, below 1 means fixed costs still weigh at the small end. A cliff would show as a step in
time per unit of work between neighbouring sizes; the largest such step is reported.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.client import Client
from bench.servers import Server
from bench.stats import Summary, timed
from bench.workloads import Workload, workload

SIZES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((16, 16, 10), 4),
    ((32, 32, 10), 8),
    ((64, 64, 10), 16),
    ((128, 128, 10), 32),
    ((256, 256, 10), 64),
    ((512, 512, 10), 128),
    ((1024, 1024, 10), 128),
)


def workloads() -> list[Workload]:
    return [workload(f"scaling {i}", widths, batch) for i, (widths, batch) in enumerate(SIZES)]


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    covariance = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    return covariance / sum((a - mx) ** 2 for a in lx)


def measure(server: Server, *, rounds: int) -> dict[str, Any]:
    client = Client(server.port)
    points: list[dict[str, Any]] = []
    for work in workloads():
        client.post("/v1/backprop", work.body)
        post = partial(client.post, "/v1/backprop", work.body)
        summary = Summary(tuple(timed(post) for _ in range(rounds)))
        points.append(
            {
                "network": "-".join(map(str, work.widths)),
                "batch": work.batch,
                "parameters": work.parameters,
                "work": work.parameters * work.batch,
                "body_bytes": len(work.body),
                "time": summary.as_dict(),
            }
        )
    client.close()
    xs = [p["work"] for p in points]
    ys = [p["time"]["median"] for p in points]
    per_unit = [y / x for x, y in zip(xs, ys, strict=True)]
    return {
        "points": points,
        "slope": slope(xs, ys),
        "slope_upper_half": slope(xs[len(xs) // 2 :], ys[len(ys) // 2 :]),
        "largest_step_in_time_per_unit": max(b / a for a, b in pairwise(per_unit)),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = result["points"]
    xs = [p["work"] for p in points]
    ys = [p["time"]["median"] * 1e3 for p in points]
    lows = [p["time"]["q1"] * 1e3 for p in points]
    highs = [p["time"]["q3"] * 1e3 for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.fill_between(xs, lows, highs, alpha=0.25, label="quartiles")
    ax.plot(xs, ys, "o-", label=f"median (fitted slope {result['slope']:.2f})")
    ax.plot(xs, [ys[-1] * x / xs[-1] for x in xs], "--", color="grey", label="linear (slope 1)")
    for p, x, y in zip(points, xs, ys, strict=True):
        label = f"{p['network']} x{p['batch']}"
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, -10), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters x batch")
    ax.set_ylabel("time per request, end to end (ms)")
    ax.set_title("POST /v1/backprop over loopback: time against work")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
