"""Tiny requests: the server's CPU per request under wrk, for the service and two references.

Three servers run side by side, each one uvicorn worker with the same settings (app.cli's):

    service  ``backprop-service serve``, POST /v1/backprop
    plain    bench/plain_app.py: an async def FastAPI route with Pydantic list models doing the
             same NumPy work, what a user would write instead
    bare     bench/bare_app.py: an ASGI app that reads the body and sends a fixed answer

In each round every server gets a fixed-length wrk run posting the contract's 2-3-2 example
(interleaved, so that all see the same machine), and its CPU per request is the user + system
time /proc gives for its process over the run, divided by the requests wrk counted. CPU time
holds still when the machine's load moves; requests per second do not.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import running
from bench.workloads import Workload

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""

KINDS = {"service": "/v1/backprop", "plain": "/v1/backprop", "bare": "/"}

_TICKS = os.sysconf("SC_CLK_TCK")


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """A process's user and system CPU time so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def wrk(port: int, path: str, script: Path, *, seconds: int, connections: int) -> int:
    """The requests of one wrk run; any non-2xx answer or socket error fails the benchmark."""
    url = f"http://127.0.0.1:{port}{path}"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"(\d+) requests in", out)
    if match is None:
        raise RuntimeError(f"no request count in wrk's output:\n{out}")
    return int(match.group(1))


@dataclass(frozen=True)
class CpuRounds:
    """Microseconds of each server's CPU per request, one figure per round."""

    total: dict[str, list[float]]
    """user + system time"""
    system: dict[str, list[float]]

    def median(self, kind: str) -> float:
        return statistics.median(self.total[kind])


def cpu_rounds(
    paths: dict[str, str], body: bytes, *, rounds: int, seconds: int, connections: int
) -> CpuRounds:
    """Each kind of server (bench.servers.running) posted ``body`` at its path by wrk: after a
    1 s warm-up each, ``rounds`` rounds in which every server gets one run in turn, so that all
    see the same machine; its CPU per request over a run is the time /proc gives for its
    process, divided by the requests wrk counted."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    total: dict[str, list[float]] = {kind: [] for kind in paths}
    system: dict[str, list[float]] = {kind: [] for kind in paths}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        (Path(tmp) / "body.json").write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=Path(tmp) / "body.json"))
        servers = {kind: stack.enter_context(running(kind)) for kind in paths}
        for kind, server in servers.items():
            wrk(server.port, paths[kind], script, seconds=1, connections=connections)
        for _ in range(rounds):
            for kind, server in servers.items():
                user, sys = user_and_system_seconds(server.pid)
                requests = wrk(
                    server.port, paths[kind], script, seconds=seconds, connections=connections
                )
                user_after, sys_after = user_and_system_seconds(server.pid)
                total[kind].append((user_after - user + sys_after - sys) / requests * 1e6)
                system[kind].append((sys_after - sys) / requests * 1e6)
    return CpuRounds(total, system)


def measure(work: Workload, *, rounds: int, seconds: int, connections: int) -> dict[str, Any]:
    cpu = cpu_rounds(KINDS, work.body, rounds=rounds, seconds=seconds, connections=connections)
    medians = {kind: cpu.median(kind) for kind in KINDS}
    return {
        "workload": work.label,
        "connections": connections,
        "cpu_us_per_request": cpu.total,
        "median_us": medians,
        "plain_over_service": medians["plain"] / medians["service"],
        "bare_over_service": medians["bare"] / medians["service"],
    }
