"""``make bench``: every performance measurement in one run, printed as one table of ratios.

    python -m bench.run [--quick]
                        [--only large,tiny,engine,memory,scaling,grade_batch,client,offline]

Writes the table and the raw figures to bench/results/ (table.txt, results.json) and the
scaling plot to docs/scaling.png. Every compared pair is measured side by side in this run,
under the same thread counts (one BLAS thread, one torch thread: the service's defaults). Every
server runs one worker, whose CPU time and memory are the server's; the tiny requests are
compared by the server's CPU per request (bench/tiny.py), which holds still when the machine's
load moves.
"""

from __future__ import annotations

from bench.servers import THREADS, pin_threads

pin_threads()  # before NumPy is imported, here and in every server started

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
from typing import Any  # noqa: E402

from bench import (  # noqa: E402
    client_roundtrip,
    engine_vs_torch,
    grade_batch,
    large,
    memory,
    offline,
    scaling,
    tiny,
    workloads,
)
from bench.servers import ROOT, Server, running  # noqa: E402
from bench.stats import ms  # noqa: E402
from bench.table import Row, render  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PLOT = ROOT / "docs" / "scaling.png"
MEASURES = ("large", "tiny", "engine", "memory", "scaling", "grade_batch", "client", "offline")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a first look")
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated measures")
    args = parser.parse_args()
    only = set(args.only.split(","))
    quick = args.quick
    results: dict[str, Any] = {"machine": machine()}
    rows: list[Row] = []

    if only & {"large", "scaling", "grade_batch", "client"}:
        with running("service") as server:
            if "large" in only:
                with running("bare") as bare:
                    results["large"] = [
                        large.measure(server, bare, work, rounds=10 if quick else 40)
                        for work in (workloads.large_softmax(), workloads.large_sigmoid())
                    ]
                rows += large_rows(results["large"])
                results["large_base64"] = large.measure_base64(
                    server, workloads.large_softmax(), rounds=10 if quick else 30
                )
                rows.append(base64_row(results["large_base64"]))
            if "scaling" in only:
                results["scaling"] = scaling.measure(server, rounds=3 if quick else 9)
                scaling.plot(results["scaling"], PLOT)
                rows.append(scaling_row(results["scaling"]))
            if "grade_batch" in only:
                rows += grade_batch_rows(server, quick=quick)
            if "client" in only:  # the typed Python client (backprop_client/)
                rows += client_roundtrip.rows(server, quick=quick)
    if "tiny" in only:
        results["tiny"] = tiny.measure(
            workloads.tiny(),
            rounds=3 if quick else 7,
            seconds=3 if quick else 5,
            connections=16,
        )
        rows += tiny_rows(results["tiny"])
    if "engine" in only:
        results["engine"] = engine_vs_torch.measure(rounds=10 if quick else 40)
        rows += engine_rows(results["engine"])
    if "memory" in only:
        results["memory"] = memory.measure(workloads.large_softmax())
        rows.append(memory_row(results["memory"]))
    if "offline" in only:
        rows += offline.rows(quick)

    m = results["machine"]
    m["load_average_at_end"] = os.getloadavg()
    load = f"load average {m['load_average_at_start'][0]:.1f} -> {m['load_average_at_end'][0]:.1f}"
    title = (
        f"backprop-service benchmark: {m['cpus']} CPUs ({load}), {m['python']}, "
        f"{THREADS} BLAS/torch thread per process, uvloop and httptools, 1 uvicorn worker "
        f"unless a row says otherwise"
    )
    table = render(rows, title)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "table.txt").write_text(table + "\n")
    print(table)
    plot = f"; plot: {PLOT}" if "scaling" in results else ""
    print(f"raw figures: {RESULTS / 'results.json'}{plot}")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": f"Python {platform.python_version()}",
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def large_rows(results: list[dict[str, Any]]) -> list[Row]:
    """End to end against the floor (issue 11's: in-process work + bare transfer), and, without
    a target, against the in-process work alone, the stricter floor earlier issues used."""
    rows = []
    for work, result in zip(("softmax+CE", "sigmoid+MSE"), results, strict=True):
        label = f"large {result['workload']} {work} ({result['body_bytes'] / 1e6:.1f} MB)"
        e2e = result["end_to_end"]
        for stat in ("median", "p90"):
            ratio = e2e[stat] / result["floor"][stat]
            rows.append(
                Row(
                    f"{label}, {stat}",
                    ms(e2e[stat]),
                    f"floor {ms(result['floor'][stat])}",
                    ratio,
                    "<= 1.25x",
                    ratio <= 1.25,
                )
            )
        in_process = result["floor_in_process"]["median"]
        rows.append(
            Row(
                f"{label}, median, against the in-process work alone",
                ms(e2e["median"]),
                f"in-process {ms(in_process)}",
                e2e["median"] / in_process,
                "(no target)",
                None,
            )
        )
    return rows


def base64_row(result: dict[str, Any]) -> Row:
    return Row(
        f"large softmax+CE, arrays as Base64Array both ways ({result['body_bytes'] / 1e6:.1f} MB)",
        ms(result["base64"]["median"]),
        f"JSON lists {ms(result['json']['median'])}",
        result["ratio_median"],
        "(optional)",
        None,
    )


def tiny_rows(result: dict[str, Any]) -> list[Row]:
    """The server's CPU per tiny request against the plain FastAPI app and the bare ASGI app."""
    us = result["median_us"]
    how = f"CPU per request, 1 worker each, wrk {result['connections']} connections"
    return [
        Row(
            f"tiny 2-3-2: plain FastAPI route / service, {how}",
            f"{us['service']:.0f} us",
            f"plain FastAPI {us['plain']:.0f} us",
            result["plain_over_service"],
            ">= 1.1x",
            result["plain_over_service"] >= 1.1,
        ),
        Row(
            f"tiny 2-3-2: bare ASGI app / service, {how}",
            f"{us['service']:.0f} us",
            f"bare ASGI {us['bare']:.0f} us",
            result["bare_over_service"],
            ">= 0.16x (0.2x goal)",
            result["bare_over_service"] >= 0.16,
        ),
    ]


def engine_rows(results: list[dict[str, Any]] | None) -> list[Row]:
    if results is None:
        return [Row("engine vs PyTorch float64", "torch not installed", "", None, "<= 1.0x", None)]
    return [
        Row(
            f"engine {r['network']} x{r['batch']}",
            ms(r["engine"]["median"]),
            f"torch {ms(r['torch']['median'])}",
            r["ratio"],
            "<= 1.0x",
            r["ratio"] <= 1.0,
        )
        for r in results
    ]


def memory_row(result: dict[str, Any]) -> Row:
    first = result["first_peak_above_idle_bytes"] / 1e6
    steady = result["steady_peak_above_idle_bytes"] / 1e6
    return Row(
        f"peak RSS above idle, first large request (later ones: {steady:.0f} MB)",
        f"{first:.1f} MB",
        f"body {result['body_bytes'] / 1e6:.1f} MB",
        result["ratio_first"],
        "<= 10x",
        result["ratio_first"] <= 10,
    )


def scaling_row(result: dict[str, Any]) -> Row:
    points = result["points"]
    first, last = points[0], points[-1]
    step = result["largest_step_in_time_per_unit"]
    return Row(
        f"scaling: log-log slope, {len(points)} sizes up to {last['work']:.1e} params x batch "
        f"(worst step {step:.2f}x)",
        f"{ms(first['time']['median'])}..{ms(last['time']['median'])}",
        "linear = 1",
        result["slope"],
        "<= 1, no cliff",
        result["slope"] <= 1.05 and step <= 1.5,
    )


def grade_batch_rows(server: Server, *, quick: bool) -> list[Row]:
    """/v1/grade/batch (the grading issue) against one /v1/grade per answer."""
    rows: list[Row] = grade_batch.rows(server, quick=quick)
    return rows


if __name__ == "__main__":
    main()
