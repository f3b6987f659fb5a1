"""Where a tiny request's server CPU goes: the framework's floor, and the route's work.

    .venv/bin/python -m bench.tiny_split [--rounds N] [--seconds S]

Five servers side by side, one uvicorn worker each, with the settings of ``backprop-service
serve``: the service and its floor, the plain FastAPI route (bench/plain_app.py) and its floor
(bench/floor_apps.py: the same app with the work taken out, answering fixed bytes), and the bare
ASGI app. Each gets a wrk run per round posting the contract's 2-3-2 example, interleaved as in
bench/tiny.py, and its CPU per request (user + system time from /proc) is printed as the median
of the rounds, with the system time's median apart. A server's CPU less its floor's is what its
route's work costs: for the service, validation, the engine and the answer; for the plain route,
the same NumPy work with FastAPI's body parameter and response serialization.
docs/performance.md has a run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench.servers import pin_threads

pin_threads()  # before NumPy is imported, here and in every server started

from bench.servers import running  # noqa: E402
from bench.tiny import LUA, wrk  # noqa: E402
from bench.workloads import tiny  # noqa: E402

PATHS = {
    "service": "/v1/backprop",
    "service-floor": "/v1/backprop",
    "plain": "/v1/backprop",
    "plain-floor": "/v1/backprop",
    "bare": "/",
}
CONNECTIONS = 16
_TICKS = os.sysconf("SC_CLK_TCK")


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """A process's user and system CPU time so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tiny_split", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4, help="of each wrk run")
    args = parser.parse_args()
    cpu: dict[str, list[float]] = {kind: [] for kind in PATHS}
    system: dict[str, list[float]] = {kind: [] for kind in PATHS}
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_bytes(tiny().body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=body))
        with (
            running("service") as service,
            running("service-floor") as service_floor,
            running("plain") as plain,
            running("plain-floor") as plain_floor,
            running("bare") as bare,
        ):
            servers = {"service": service, "service-floor": service_floor, "plain": plain,
                       "plain-floor": plain_floor, "bare": bare}  # fmt: skip
            for kind, server in servers.items():  # warm up each
                wrk(server.port, PATHS[kind], script, seconds=1, connections=CONNECTIONS)
            for _ in range(args.rounds):
                for kind, server in servers.items():
                    user, sys = user_and_system_seconds(server.pid)
                    requests = wrk(
                        server.port, PATHS[kind], script, seconds=args.seconds,
                        connections=CONNECTIONS,
                    )  # fmt: skip
                    user_after, sys_after = user_and_system_seconds(server.pid)
                    cpu[kind].append((user_after - user + sys_after - sys) / requests * 1e6)
                    system[kind].append((sys_after - sys) / requests * 1e6)
    median = {kind: statistics.median(values) for kind, values in cpu.items()}
    print(f"server CPU per tiny 2-3-2 request, us (median of {args.rounds} rounds of "
          f"{args.seconds} s, wrk {CONNECTIONS} connections):")  # fmt: skip
    for kind, values in cpu.items():
        rounds = ", ".join(f"{v:.0f}" for v in values)
        in_system = statistics.median(system[kind])
        print(f"  {kind:14} {median[kind]:6.0f}   (system time {in_system:.0f})   rounds: {rounds}")
    for app in ("service", "plain"):
        work = median[app] - median[f"{app}-floor"]
        print(f"  {app} route's work (the server less its floor): {work:.0f}")


if __name__ == "__main__":
    main()
