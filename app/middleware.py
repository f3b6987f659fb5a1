"""The service's own ASGI middleware: a body size limit, and a direct way to the network routes.

BodySizeLimit: FastAPI's own max_body_size answers a Content-Length over the limit with a
plain-text 413 that no exception handler can reshape; this does the same job, with the same two
checks: a declared Content-Length over the limit is refused before a byte of the body is read,
and a streamed (chunked) body is cut off as soon as it passes the limit.

DirectRoutes: see its docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import EXPECTED_ERRORS, error_response, handle_error, problem

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body is larger than the limit of {max_bytes:,} bytes "
                         "(setting BACKPROP_MAX_BODY_BYTES)")  # fmt: skip


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            refusal = BodyTooLarge(self.max_bytes)
            response = error_response(413, [problem([], refusal.detail, "body_too_large")])
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


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
