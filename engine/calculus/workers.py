"""Work that may not finish in time: done in a worker process that is killed at the deadline.

A Python thread cannot be stopped, and SymPy's simplify can run for minutes on a small input, so
SymPy never runs in the server's own process. ``Workers("package.module:function")`` keeps up to
``processes`` worker processes, each running that function on one argument at a time (it is
named rather than passed, so that the server never imports what only the workers need).
``run(argument, timeout)`` hands the argument to an idle worker and waits at most ``timeout``
seconds, waiting for a free worker included; a worker still busy at the deadline is killed
(SIGKILL) and replaced by a fresh one on the next call. The answer is a ``WorkResult``: done with
a value, or timed_out, busy or failed, each of which the caller must be ready for.

Workers start from a fork server that has imported the ``preload`` modules once, so a new worker
is ready in milliseconds (multiprocessing imports the main module in it, so that module must be
safe to import, as multiprocessing always requires). Each worker caps its own address space
(``memory_bytes``) so that a runaway computation fails with MemoryError instead of starving the
server, and exits when the server goes away (its end of the pipe closes).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, Literal, TypeVar

logger = logging.getLogger("backprop_service")

Argument = TypeVar("Argument")
Value = TypeVar("Value")

Status = Literal["done", "timed_out", "busy", "failed"]

DEFAULT_MEMORY_BYTES = 1 << 30


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


def _serve(connection: Connection, target: str, memory_bytes: int) -> None:
    """A worker's life: answer one argument after another until the server hangs up."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    module, _, name = target.partition(":")
    function: Callable[[Any], Any] = getattr(importlib.import_module(module), name)
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
    ) -> None:
        self.target = target
        self.memory_bytes = memory_bytes
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))
        self._slots = threading.BoundedSemaphore(processes)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, argument: Argument, timeout: float) -> WorkResult[Value]:
        """function(argument) in a worker, or why not within ``timeout`` seconds."""
        start = time.monotonic()
        deadline = start + timeout
        if not self._slots.acquire(timeout=timeout):
            return WorkResult("busy", seconds=time.monotonic() - start)
        try:
            return self._run(argument, deadline, start)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop every idle worker (busy ones are stopped when their call returns)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            _stop(worker)

    def _run(self, argument: Argument, deadline: float, start: float) -> WorkResult[Value]:
        worker = self._take()
        try:
            worker.connection.send(argument)
            if worker.connection.poll(max(0.0, deadline - time.monotonic())):
                status, value = worker.connection.recv()
                self._give_back(worker)
                if status != "done":
                    logger.warning("a symbolic worker failed: %s", value)
                    return WorkResult("failed", seconds=time.monotonic() - start)
                return WorkResult("done", value, time.monotonic() - start)
        except (EOFError, OSError):
            _stop(worker)
            return WorkResult("failed", seconds=time.monotonic() - start)
        _stop(worker)
        return WorkResult("timed_out", seconds=time.monotonic() - start)

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                _stop(worker)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(theirs, self.target, self.memory_bytes),
            daemon=True,
            name="symbolic-worker",
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

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
