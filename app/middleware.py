"""Two small ASGI middlewares that refuse a request or pass it on, and do nothing else.

Like Starlette's CORSMiddleware (which answers a preflight and otherwise calls the next app),
each either answers at once, in the service's one error shape, or hands the request to the app
it wraps, unchanged but for a guard on ``receive``. ``create_app`` adds them with
``app.add_middleware``, so they sit in FastAPI's own middleware stack, in front of the router,
and any middleware a deployer adds goes in the same stack.

AdmissionMiddleware   past max_in_flight requests in one worker, answer 503 with Retry-After
                      at once instead of queueing without end (health probes and /metrics are
                      always admitted).
BodyLimitMiddleware   a body over max_body_bytes (or its path's own limit) is refused: at once
                      when its Content-Length says so (without reading a byte of it), as soon
                      as it passes the limit when streamed (the route reading it gets
                      BodyTooLarge, a 413).

How long a request may take to arrive is bounded by the HTTP protocol itself (app/server.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import BodyTooLarge, Busy, refuse

ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})


class AdmissionMiddleware:
    """At most ``max_in_flight`` requests in the app at once; the others get a 503 at once."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, retry_after: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = Busy(f"{self.max_in_flight} requests in flight", self.retry_after,
                        limit="max_in_flight")  # fmt: skip
            await refuse(busy, scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


@dataclass(frozen=True)
class BodyLimit:
    """A limit on a body's bytes, and its name for the 413's message."""

    max_bytes: int
    name: str


class BodyLimitMiddleware:
    """Bodies of at most ``max_body_bytes``; ``by_prefix``: other limits for paths under a
    prefix (the first prefix that matches)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        by_prefix: Mapping[str, BodyLimit] | None = None,
    ) -> None:
        self.app = app
        self.default = BodyLimit(max_body_bytes, "max_body_bytes")
        self.by_prefix = dict(by_prefix or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = next(
            (limit for prefix, limit in self.by_prefix.items() if path.startswith(prefix)),
            self.default,
        )
        length = _content_length(scope)
        if length is not None and length > limit.max_bytes:
            # the server drops the body that is not read (app/server.py)
            await refuse(BodyTooLarge(limit.max_bytes, limit.name), scope, receive, send)
            return
        if length is None:  # streamed: counted as it comes (a stated length is the parser's)
            receive = _limited(receive, limit)
        await self.app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The Content-Length, unless the body is sent chunked (then None)."""
    length = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            return None
    return length


def _limited(receive: Receive, limit: BodyLimit) -> Receive:
    """``receive``, raising BodyTooLarge once the body passes the limit."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit.max_bytes:
                raise BodyTooLarge(limit.max_bytes, limit.name)
        return message

    return limited_receive
