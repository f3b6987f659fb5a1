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
from pathlib import Path
from typing import Any

from bench.servers import Server, running
from bench.workloads import Workload

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""

KINDS = {"service": "/v1/backprop", "plain": "/v1/backprop", "bare": "/"}

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


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


def cpu_per_request(
    server: Server, path: str, script: Path, *, seconds: int, connections: int
) -> float:
    """Microseconds of the server's CPU per request over one wrk run."""
    before = cpu_seconds(server.pid)
    requests = wrk(server.port, path, script, seconds=seconds, connections=connections)
    return (cpu_seconds(server.pid) - before) / requests * 1e6


def measure(work: Workload, *, rounds: int, seconds: int, connections: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_bytes(work.body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=body))
        cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}
        with running("service") as service, running("plain") as plain, running("bare") as bare:
            servers = {"service": service, "plain": plain, "bare": bare}
            for kind, server in servers.items():  # warm up each
                wrk(server.port, KINDS[kind], script, seconds=1, connections=connections)
            for _ in range(rounds):
                for kind, server in servers.items():
                    cpu[kind].append(
                        cpu_per_request(
                            server, KINDS[kind], script, seconds=seconds, connections=connections
                        )
                    )
    medians = {kind: statistics.median(values) for kind, values in cpu.items()}
    return {
        "workload": work.label,
        "connections": connections,
        "cpu_us_per_request": cpu,
        "median_us": medians,
        "plain_over_service": medians["plain"] / medians["service"],
        "bare_over_service": medians["bare"] / medians["service"],
    }
