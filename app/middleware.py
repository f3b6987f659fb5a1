"""The service's own ASGI middleware, plain ASGI so that it is cheap on every request.

AdmissionLimit  past max_in_flight requests in one worker, answer 503 with Retry-After at once
                instead of queueing without end (health checks are always answered).
RequestBodyGuard  a body over max_body_bytes is refused: at once when its Content-Length says
                so (without reading a byte of it), as soon as it passes the limit when streamed.
                (How long a request may take to arrive is bounded by the HTTP protocol itself,
                app/server.py: one timer per request rather than one per read.)
DirectRoutes    the network endpoints, straight past FastAPI's router (see its docstring).

FastAPI's own max_body_size would answer an oversized Content-Length in plain text that no
exception handler can reshape; these answer in the service's one error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import EXPECTED_ERRORS, error_response, handle_error, problem

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]

ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz"})


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body is larger than the limit max_body_bytes = "
                         f"{max_bytes:,} bytes")  # fmt: skip


class Busy(HTTPException):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(503, f"the server is busy ({what}): retry in {retry_after} s",
                         headers={"retry-after": str(retry_after)})  # fmt: skip


class AdmissionLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = Busy(f"{self.max_in_flight} requests in flight", self.retry_after)
            response = error_response(503, [problem([], busy.detail, "busy")])
            response.headers.update(busy.headers or {})
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class RequestBodyGuard:
    """max_bytes for every body, or the smaller limit of the first prefix of ``smaller`` that
    the request's path starts with."""

    def __init__(self, app: ASGIApp, max_bytes: int, smaller: Mapping[str, int]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.smaller = dict(smaller)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        max_bytes = next(
            (limit for prefix, limit in self.smaller.items() if path.startswith(prefix)),
            self.max_bytes,
        )
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            refusal = BodyTooLarge(max_bytes)
            response = error_response(413, [problem([], refusal.detail, "body_too_large")])
            await response(scope, receive, send)  # the server drops the body it did not read
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class DirectRoutes:
    """POST requests to the given paths go straight to their endpoint, past FastAPI's router.

    The router, its request_response wrappers and the exception middleware cost about 35
    microseconds of CPU per request: a fifth of what a tiny /v1/backprop costs in all
    (docs/performance.md). The network endpoints need none of it: they read and validate their
    own body (pipeline.answer), and their errors go to the one handler here, as the exception
    middleware would send them; a bug still propagates to the server-error middleware. Every
    other request goes the usual way, and so do these paths under a root_path: the routes stay
    registered with FastAPI, which documents them and would answer them just the same.

    Installed as the innermost middleware, so that every other middleware sees these requests.
    """

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.endpoints.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path")
            else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except EXPECTED_ERRORS as exc:
            response = await handle_error(request, exc)
        await response(scope, receive, send)
