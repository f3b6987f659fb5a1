"""The ``backprop-service`` command.

    backprop-service [serve] [--host H] [--port P] [--workers N] [--access-log]

``serve`` is the default command. HOST, PORT and WEB_CONCURRENCY in the environment set the
defaults of --host, --port and --workers; the service's own settings are BACKPROP_* variables
(see app/config.py). Each command is a subparser, so more can be added beside ``serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

Command = Callable[[argparse.Namespace], int]

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Each worker runs NumPy's BLAS on one thread unless these say otherwise (see serve)."""


def serve(args: argparse.Namespace) -> int:
    # One BLAS thread per worker process. Requests are the unit of parallelism (workers, and the
    # event loop beside the worker thread); a BLAS pool on top oversubscribes the cores, and its
    # spinning threads made a 784-256-128-10 backprop 2.5 ms on one thread and 96 ms on two on
    # a busy 2-core machine (docs/performance.md). Set before uvicorn imports NumPy.
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    uvicorn.run("app.main:app", **uvicorn_options(args))
    return 0


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's settings for ``serve``; the benchmark serves its bare ASGI app with the same."""
    return {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": args.access_log,
        "server_header": False,
        "log_level": args.log_level,
    }


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="serve the HTTP API (the default command)")
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="interface to bind (env HOST; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port to listen on (env PORT; default 8000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (env WEB_CONCURRENCY; default 1)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-service",
        description="Backpropagation as a service: forward pass, loss, deltas and gradients.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")
    args = parser.parse_args(args_list)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
