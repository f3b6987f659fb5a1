"""Work that may not finish in time: done in a worker process that is killed at the deadline.

A Python thread cannot be stopped, and SymPy's simplify can run for minutes on a small input, so
SymPy never runs in the server's own process. ``Workers("package.module:function")`` keeps up to
``processes`` worker processes, each running that function on one argument at a time (it is
named rather than passed, so that the server never imports what only the workers need).
``run(argument, timeout)`` hands the argument to an idle worker and waits at most ``timeout``
seconds, waiting for a free worker included; a worker still busy at the deadline is killed
(SIGKILL) and replaced at once. The answer is a ``WorkResult``: done with a value, or timed_out,
busy or failed, each of which the caller must be ready for.

A worker is ready once it has imported its module and, when ``warm`` is given, run the function
on it once (SymPy's first simplify in a process is slow); it says so, and a call never waits for
that within its deadline: a worker's start is bounded by ``start_timeout`` instead. So a call's
answer never depends on whether its worker had just started, and ``warm_up`` starts every worker
ahead of time and proves each answers, so that no call waits for a start either.

Workers start from a fork server that has imported the ``preload`` modules once, so a new worker
is ready in milliseconds (multiprocessing imports the main module in it, so that module must be
safe to import, as multiprocessing always requires). The fork server listens on a Unix socket
that multiprocessing makes in a temporary directory; where none can be made (a container run
``--read-only`` as a non-root user, with no writable /tmp), workers are spawned instead: a fresh
interpreter each, which needs no file at all and is ready once it has imported the target's
module (about a second for SymPy). A worker killed at its deadline is replaced at once, so that
its successor is ready before the next call whichever way workers start.

Each worker caps its own address space (``memory_bytes``) so that a runaway computation fails
with MemoryError instead of starving the server, and exits when the server goes away (its end
of the pipe closes). Nothing here raises to the caller: a worker that cannot be started is a
"failed" WorkResult like any other failure.

``on_worker_replaced(listener)`` has ``listener(reason)`` called each time a worker is replaced:
"timed_out" (killed at its deadline), "died" (it exited, or its pipe broke) or "not_ready" (it did
not start). A server counts them in its metrics that way, and the engine imports nothing of them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, Generic, Literal, TypeVar

logger = logging.getLogger("backprop_service")

Argument = TypeVar("Argument")
Value = TypeVar("Value")

Status = Literal["done", "timed_out", "busy", "failed"]

DEFAULT_MEMORY_BYTES = 1 << 30
DEFAULT_START_TIMEOUT = 60.0
"""Seconds a new worker may take to import its module and run its warm argument."""
_READY = ("ready", None)

StartMethod = Literal["forkserver", "spawn"]

Replacement = Literal["timed_out", "died", "not_ready"]

_replacement_listeners: list[Callable[[Replacement], None]] = []


def on_worker_replaced(listener: Callable[[Replacement], None]) -> None:
    """Call ``listener(reason)`` whenever a worker of any Workers is replaced (see above)."""
    _replacement_listeners.append(listener)


def start_method() -> StartMethod:
    """forkserver when a temporary directory can be made for its socket, spawn otherwise."""
    try:
        with tempfile.TemporaryDirectory(prefix="backprop-probe-"):
            return "forkserver"
    except OSError as exc:  # no usable temporary directory (read-only file system, ...)
        logger.warning("no temporary directory (%s): symbolic workers are spawned", exc)
        return "spawn"


@dataclass(frozen=True)
class WorkResult(Generic[Value]):
    """What came of one call: the value when status is "done", None otherwise."""

    status: Status
    value: Value | None = None
    seconds: float = 0.0


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    ready: bool = False
    """whether it has said it is ready (see _serve)"""


def _serve(connection: Connection, target: str, memory_bytes: int, warm: Any) -> None:
    """A worker's life: get ready, say so, then answer one argument after another until the
    server hangs up."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    module, _, name = target.partition(":")
    function: Callable[[Any], Any] = getattr(importlib.import_module(module), name)
    if warm is not None:
        with contextlib.suppress(Exception):  # only a warm-up: the real calls report failures
            function(warm)
    connection.send(_READY)
    while True:
        try:
            argument = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("done", function(argument))
        except Exception as exc:  # any failure of the work is reported, not fatal
            answer = ("failed", f"{type(exc).__name__}: {exc}")
        connection.send(answer)


class Workers(Generic[Argument, Value]):
    """Up to ``processes`` worker processes running ``target``, "package.module:function"."""

    def __init__(
        self,
        target: str,
        *,
        processes: int = 2,
        preload: Sequence[str] = (),
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        warm: Argument | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self.target = target
        self.memory_bytes = memory_bytes
        self.processes = processes
        self.warm = warm
        self.start_timeout = start_timeout
        self._preload = list(preload)
        self._context = self._get_context(start_method())
        self._slots = threading.BoundedSemaphore(processes)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def start_method(self) -> str:
        return self._context.get_start_method()

    def run(self, argument: Argument, timeout: float) -> WorkResult[Value]:
        """function(argument) in a worker, or why not within ``timeout`` seconds (a worker's
        start, when one had to be started, not counted)."""
        start = time.monotonic()
        if not self._slots.acquire(timeout=timeout):
            return WorkResult("busy", seconds=time.monotonic() - start)
        try:
            left = timeout - (time.monotonic() - start)
            worker = self._take()
            if worker is None or not self._await_ready(worker, self.start_timeout):
                return WorkResult("failed", seconds=time.monotonic() - start)
            self._send(worker, argument)
            return self._receive(worker, time.monotonic() + max(0.0, left), start)
        finally:
            self._slots.release()

    def warm_up(self, argument: Argument, timeout: float) -> list[WorkResult[Value]]:
        """Start a worker in every slot and run ``argument`` in each (all at once), within
        ``timeout`` seconds; a slot still busy at the deadline is left out. Workers already
        running are reused, so that this also proves ready ones still answer."""
        start = time.monotonic()
        deadline = start + timeout
        held = 0
        try:
            while held < self.processes and self._slots.acquire(
                timeout=max(0.0, deadline - time.monotonic())
            ):
                held += 1
            workers = [self._take() for _ in range(held)]  # started together
            ready = [
                worker is not None
                and self._await_ready(worker, max(0.0, deadline - time.monotonic()))
                for worker in workers
            ]
            results: list[WorkResult[Value]] = []
            for worker, is_ready in zip(workers, ready, strict=True):
                if worker is not None and is_ready:
                    self._send(worker, argument)
            for worker, is_ready in zip(workers, ready, strict=True):
                if worker is None or not is_ready:
                    results.append(WorkResult("failed", seconds=time.monotonic() - start))
                else:
                    results.append(self._receive(worker, deadline, start))
            return results
        finally:
            for _ in range(held):
                self._slots.release()

    def close(self) -> None:
        """Stop every idle worker (busy ones are stopped when their call returns)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            _stop(worker)

    def _await_ready(self, worker: _Worker, timeout: float) -> bool:
        """Wait for a new worker to say it is ready; a worker that does not is stopped."""
        if worker.ready:
            return True
        try:
            if worker.connection.poll(timeout) and worker.connection.recv() == _READY:
                worker.ready = True
                return True
            logger.error("a symbolic worker did not start within %.0f s", timeout)
        except (EOFError, OSError):
            logger.error("a symbolic worker exited before it was ready (%s)", self.target)
        self._replace(worker, "not_ready")
        return False

    def _send(self, worker: _Worker, argument: Argument) -> None:
        with contextlib.suppress(OSError):  # it died since; _receive finds its end closed
            worker.connection.send(argument)

    def _receive(self, worker: _Worker, deadline: float, start: float) -> WorkResult[Value]:
        try:
            if worker.connection.poll(max(0.0, deadline - time.monotonic())):
                status, value = worker.connection.recv()
                self._give_back(worker)
                if status != "done":
                    logger.warning("a symbolic worker failed: %s", value)
                    return WorkResult("failed", seconds=time.monotonic() - start)
                return WorkResult("done", value, time.monotonic() - start)
        except (EOFError, OSError):
            self._replace(worker, "died")
            return WorkResult("failed", seconds=time.monotonic() - start)
        self._replace(worker, "timed_out")
        return WorkResult("timed_out", seconds=time.monotonic() - start)

    def _take(self) -> _Worker | None:
        """An idle worker, or a new one; None when none can be started."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                _stop(worker)
        return self._start()

    def _start(self) -> _Worker | None:
        try:
            return self._start_with(self._context)
        except Exception as exc:  # a worker that cannot start must not fail the request
            if self.start_method == "spawn":
                logger.exception("a symbolic worker could not be started")
                return None
            logger.warning("the fork server failed (%s): symbolic workers are spawned", exc)
            self._context = self._get_context("spawn")
        try:
            return self._start_with(self._context)
        except Exception:
            logger.exception("a symbolic worker could not be started")
            return None

    def _start_with(self, context: BaseContext) -> _Worker:
        ours, theirs = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(theirs, self.target, self.memory_bytes, self.warm),
            daemon=True,
            name="symbolic-worker",
        )
        try:
            process.start()
        finally:
            theirs.close()
        return _Worker(process, ours)

    def _get_context(self, method: StartMethod) -> BaseContext:
        context = multiprocessing.get_context(method)
        if method == "forkserver" and self._preload:
            context.set_forkserver_preload(self._preload)
        return context

    def _replace(self, worker: _Worker, reason: Replacement) -> None:
        """Stop a worker that timed out or died, and start its successor now, so that it is
        ready (a spawned one has imported its module) before the next call."""
        _stop(worker)
        for listener in _replacement_listeners:
            listener(reason)
        with self._lock:
            if self._closed:
                return
        successor = self._start()
        if successor is not None:
            self._give_back(successor)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        _stop(worker)


def _stop(worker: _Worker) -> None:
    worker.process.kill()
    worker.process.join(timeout=5)
    worker.connection.close()
