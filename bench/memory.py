"""Peak resident memory of the server while it answers a large request, above its idle level.

The kernel keeps each process's peak RSS (VmHWM in /proc/PID/status); writing 5 to
/proc/PID/clear_refs resets it to the current RSS. So: warm the server up with a tiny request,
read its idle RSS, reset the peak, send the large request, read the peak. "first" is the first
large request a fresh server sees (the allocator has nothing to reuse yet); "steady" is a later
one, after the allocator has settled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.client import Client
from bench.servers import running, status_kib
from bench.workloads import Workload, tiny


def _peak_above_idle(pid: int, client: Client, body: bytes) -> tuple[int, int]:
    """(idle RSS, peak RSS - idle RSS) in bytes, around one request."""
    idle = status_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    client.post("/v1/backprop", body)
    peak = status_kib(pid, "VmHWM")
    return idle * 1024, (peak - idle) * 1024


def measure(work: Workload, *, repeats: int = 5) -> dict[str, Any]:
    with running("service") as server:
        client = Client(server.port)
        for _ in range(3):
            client.post("/v1/backprop", tiny().body)
        idle, first = _peak_above_idle(server.pid, client, work.body)
        later = [_peak_above_idle(server.pid, client, work.body)[1] for _ in range(repeats)]
        client.close()
    return {
        "workload": work.label,
        "body_bytes": len(work.body),
        "idle_rss_bytes": idle,
        "first_peak_above_idle_bytes": first,
        "steady_peak_above_idle_bytes": max(later),
        "ratio_first": first / len(work.body),
        "ratio_steady": max(later) / len(work.body),
    }
