"""Tiny requests per second under concurrent keep-alive clients (wrk), against a bare ASGI app.

Both servers run with the same uvicorn settings (bench/bare_app.py), one after the other in
alternating rounds, each round a fixed-length wrk run posting the contract's 2-3-2 example.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.servers import running
from bench.workloads import Workload

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""


def wrk(port: int, path: str, script: Path, *, seconds: int, connections: int) -> float:
    """Requests per second of one wrk run; any non-2xx answer is an error."""
    url = f"http://127.0.0.1:{port}{path}"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return float(match.group(1))


def measure(
    work: Workload, *, rounds: int, seconds: int, connections: int, workers: int = 1
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_bytes(work.body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=body))
        rates: dict[str, list[float]] = {"service": [], "bare": []}
        with (
            running("service", workers=workers) as service,
            running("bare", workers=workers) as bare,
        ):
            targets = {"service": (service.port, "/v1/backprop"), "bare": (bare.port, "/")}
            for port, path in targets.values():  # warm up both
                wrk(port, path, script, seconds=1, connections=connections)
            for _ in range(rounds):
                for name, (port, path) in targets.items():
                    rate = wrk(port, path, script, seconds=seconds, connections=connections)
                    rates[name].append(rate)
    service_rps, bare_rps = (statistics.median(rates[k]) for k in ("service", "bare"))
    return {
        "workload": work.label,
        "connections": connections,
        "workers": workers,
        "service_rps": rates["service"],
        "bare_rps": rates["bare"],
        "ratio": service_rps / bare_rps,
    }
