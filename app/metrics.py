"""Prometheus metrics (prometheus-client), at GET /metrics (app/routes/metrics.py).

    backprop_http_requests_total{route, method, status}   requests answered
    backprop_http_request_duration_seconds{route}         how long they took (a histogram)
    backprop_http_requests_in_flight                      requests being answered now
    backprop_refusals_total{limit, status}                requests refused by a limit: the
                                                          limit the answer names (max_body_bytes,
                                                          max_width, max_in_flight, ...)
    backprop_compute_wait_seconds                         how long requests waited for a compute
                                                          thread (app/pipeline.py's ComputePool)
    backprop_sympy_worker_restarts_total{reason}          SymPy workers replaced: timed_out, died,
                                                          not_ready (engine/calculus/workers.py)

``route`` is the route's path as the app declares it (``/v1/backprop``, ``/playground/{name}``),
never the URL asked for, so that the number of series stays bounded; a path no route has is
``unmatched``. A request refused before it reached the router (503 busy, 413 by its
Content-Length) is still counted under the route it asked for.

One process (``serve --workers 1``): each app keeps its metrics in a registry of its own, with
the process's CPU, memory and garbage collector. Several worker processes: each process writes
its values to files in PROMETHEUS_MULTIPROC_DIR (``serve`` makes a temporary one when there are
several workers and none is given, and removes it at the end), and a scrape of any worker adds
up every worker's, as prometheus-client's multiprocess mode does; requests in flight count the
live workers only: a worker marks itself dead when it stops, and a starting worker marks dead
the processes that left values behind without doing so (a killed worker).

MetricsMiddleware records every request, and writes its access-log line when that is on
(app/logs.py). It is cheap: it finds each (route, method, status)'s counter once and keeps it.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
import weakref
from typing import Any, Final

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import context
from app.logs import ACCESS_LOGGER
from engine import calculus

MULTIPROC_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"

UNMATCHED = "unmatched"
"""The route label of a path that no route has."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted as themselves; any other is "other" (a client chooses the method)."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, 60.0)  # fmt: skip
"""From a tiny request's fraction of a millisecond to a class's batch of grading."""

WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

SYMPY_RESTARTS = Counter(
    "backprop_sympy_worker_restarts",
    "SymPy worker processes replaced: killed at their deadline (timed_out), exited (died), or "
    "not started in time (not_ready)",
    ["reason"],
    registry=None,  # each app's registry takes it: the workers are the process's
)
calculus.on_worker_replaced(lambda reason: SYMPY_RESTARTS.labels(reason).inc())


def multiprocess() -> bool:
    """Whether the metrics are kept in PROMETHEUS_MULTIPROC_DIR (several worker processes)."""
    return MULTIPROC_DIR in os.environ


class Metrics:
    """An app's metrics (see the module's docstring)."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess()
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "backprop_http_requests",
            "HTTP requests answered, by route (the route's path), method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "backprop_http_request_duration_seconds",
            "Seconds from a request's arrival in the app to the end of its answer, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "backprop_http_requests_in_flight",
            "HTTP requests being answered",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.requests_in_flight = 0
        """One process's count, read at a scrape (several processes write the gauge's file)."""
        if not self.multiprocess:
            self.in_flight.set_function(lambda: self.requests_in_flight)
        self.refusals = Counter(
            "backprop_refusals",
            "Requests refused by a limit, by the limit's name and the status answered",
            ["limit", "status"],
            registry=registry,
        )
        self.compute_wait = Histogram(
            "backprop_compute_wait_seconds",
            "Seconds requests waited for a compute thread (compute_threads); those that waited "
            "compute_wait_seconds were refused with a 503",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        registry.register(SYMPY_RESTARTS)
        if not self.multiprocess:  # prometheus-client gathers these for one process only
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper accepts (Prometheus' text, or OpenMetrics)."""
        encode, content_type = choose_encoder(accept or "")
        if not self.multiprocess:
            return encode(self.registry), content_type
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
        return encode(every_worker), content_type

    def started(self) -> None:
        """A worker starts: mark dead the processes that left live values and are gone."""
        if not self.multiprocess:
            return
        for pid in _pids_with_live_values(os.environ[MULTIPROC_DIR]):
            if pid != os.getpid() and not _alive(pid):
                mark_process_dead(pid)  # type: ignore[no-untyped-call]

    def stopped(self) -> None:
        """A worker stops: its requests in flight count no more."""
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _pids_with_live_values(path: str) -> set[int]:
    names = (os.path.basename(f) for f in glob.glob(os.path.join(path, "gauge_live*_*.db")))
    return {int(m.group(1)) for n in names if (m := re.search(r"_(\d+)\.db$", n))}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class MetricsMiddleware:
    """Record every HTTP request: its route, method, status and duration, whether a limit
    refused it, and the requests in flight; and its access-log line, when that is on."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # failed before answering: FastAPI answers 500 (outside every middleware)

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics = self.metrics
        if metrics.multiprocess:
            metrics.in_flight.inc()
        metrics.requests_in_flight += 1
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            metrics.requests_in_flight -= 1
            if metrics.multiprocess:
                metrics.in_flight.dec()
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_of(scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.metrics.observe(route, method, status, seconds)
        record = context.current()
        if record is not None and record.refused_by is not None:
            self.metrics.refusals.labels(record.refused_by, str(status)).inc()
        if self.access_log.isEnabledFor(logging.INFO):
            path = scope["path"][:200]
            duration_ms = round(seconds * 1000, 3)
            fields = {"route": route, "method": method, "path": path, "status": status}
            self.access_log.info(
                "%s %s %d %.1f ms", method, path, status, duration_ms,
                extra={**fields, "duration_ms": duration_ms},
            )  # fmt: skip


def route_of(scope: Scope) -> str:
    """The path of the route that answered (or would have answered) the request."""
    route = scope.get("route")  # set by the router
    if route is not None:
        path: str = route.path
        return path
    app = scope.get("app")  # refused before routing, or no route has the path: look it up
    if app is None:
        return UNMATCHED
    routes: list[Any] = app.routes
    table = _route_tables.get(app)
    if table is None or table[0] != len(routes):  # new, or routes were added since
        table = _route_tables[app] = (len(routes), _route_table(routes))
    asked = scope["path"]
    return next((path for regex, path in table[1] if regex.match(asked)), UNMATCHED)


_route_tables: weakref.WeakKeyDictionary[Any, tuple[int, list[tuple[re.Pattern[str], str]]]] = (
    weakref.WeakKeyDictionary()
)
"""Each app's routes as (regex, path), with the number of routes it was made from."""


def _route_table(routes: list[Any]) -> list[tuple[re.Pattern[str], str]]:
    """Every route's path and the regex its paths match, included routers' routes one by one
    (FastAPI's iter_route_contexts; a mount matches every path under it)."""
    table = []
    for route in iter_route_contexts(routes):
        regex, path = getattr(route, "path_regex", None), getattr(route, "path", None)
        if regex is not None and path is not None:
            table.append((regex, path))
    return table
