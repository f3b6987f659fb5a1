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
import statistics

from bench.servers import pin_threads

pin_threads()  # before NumPy is imported, here and in every server started

from bench.tiny import cpu_rounds  # noqa: E402
from bench.workloads import tiny  # noqa: E402

PATHS = {
    "service": "/v1/backprop",
    "service-floor": "/v1/backprop",
    "plain": "/v1/backprop",
    "plain-floor": "/v1/backprop",
    "bare": "/",
}
CONNECTIONS = 16


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tiny_split", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4, help="of each wrk run")
    args = parser.parse_args()
    cpu = cpu_rounds(
        PATHS, tiny().body, rounds=args.rounds, seconds=args.seconds, connections=CONNECTIONS
    )
    print(f"server CPU per tiny 2-3-2 request, us (median of {args.rounds} rounds of "
          f"{args.seconds} s, wrk {CONNECTIONS} connections):")  # fmt: skip
    for kind, values in cpu.total.items():
        rounds = ", ".join(f"{v:.0f}" for v in values)
        system = f"(system time {statistics.median(cpu.system[kind]):.0f})"
        print(f"  {kind:14} {cpu.median(kind):6.0f}   {system}   rounds: {rounds}")
    for app in ("service", "plain"):
        work = cpu.median(app) - cpu.median(f"{app}-floor")
        print(f"  {app} route's work (the server less its floor): {work:.0f}")


if __name__ == "__main__":
    main()
