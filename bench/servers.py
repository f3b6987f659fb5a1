"""Servers under test, each a real uvicorn process on a free loopback port.

``running(kind)`` starts ``backprop-service serve`` (the command users and the Docker image run)
or the bare ASGI app with the same settings, waits until it answers, and stops it afterwards.
BLAS and torch thread counts are pinned by the environment the runner sets (see THREADS).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

THREADS = 1
"""BLAS threads for the server, the floor and torch alike (what the service defaults to)."""

PINNED_THREADS = dict.fromkeys(
    ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), str(THREADS)
)


def pin_threads() -> None:
    """Pin this process's BLAS threads; must run before NumPy is imported."""
    os.environ.update(PINNED_THREADS)


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port)


def status_kib(pid: int, field: str) -> int:
    """A size from /proc/PID/status, in KiB: "VmRSS" (resident now), "VmHWM" (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(kind: str, port: int, workers: int) -> list[str]:
    options = ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if kind == "service":
        return [str(BIN / "backprop-service"), "serve", *options]
    if kind in ("bare", "plain"):
        return [sys.executable, "-m", f"bench.{kind}_app", *options]
    if kind in ("service-floor", "plain-floor"):
        return [sys.executable, "-m", "bench.floor_apps", kind.removesuffix("-floor"), *options]
    raise ValueError(kind)


READY_PATHS = {"service": "/readyz", "service-floor": "/readyz", "plain": "/docs",
               "plain-floor": "/docs"}  # fmt: skip
"""A GET that answers 200 once each kind of server is ready (the bare app answers any)."""


@contextmanager
def running(
    kind: str, *, workers: int = 1, settings: dict[str, str] | None = None
) -> Iterator[Server]:
    """A server of this kind ("service", "plain", "bare", or the floor of the service or of the
    plain app: bench/floor_apps.py), ready to answer, stopped on exit.

    settings: more environment for it, BACKPROP_* variables say.
    """
    port = free_port()
    env = {**os.environ, **PINNED_THREADS, **(settings or {})}
    process = subprocess.Popen(command(kind, port, workers), cwd=ROOT, env=env)
    server = Server(process, port)
    try:
        _wait_ready(server, READY_PATHS.get(kind, "/"))
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.process.returncode}")
        try:
            conn = server.connection()
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready in 30 s")
