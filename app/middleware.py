"""The gate every HTTP request passes first, in front of FastAPI's middleware and router.

It does three things, in this order, in plain ASGI so that they are cheap on every request:

admission   past max_in_flight requests in one worker, answer 503 with Retry-After at once
            instead of queueing without end (health checks are always admitted).
body limit  a body over max_body_bytes is refused: at once when its Content-Length says so
            (without reading a byte of it), as soon as it passes the limit when streamed.
            (How long a request may take to arrive is bounded by the HTTP protocol itself,
            app/server.py: one timer per request rather than one per read.)
operations  POST requests to an Operation's path (app/pipeline.py) are answered right here: the
            body read, handed to the pipeline, the answer sent. FastAPI's middleware, router,
            Request and Response objects cost some 30 microseconds per request, a fifth of a
            tiny /v1/backprop (docs/performance.md), and these endpoints need none of them.
            Their errors go to the one error handler, as FastAPI would send them. Everything
            else, and these paths under a root_path, goes on to FastAPI, which answers an
            operation's route the same way.

FastAPI's own max_body_size would answer an oversized Content-Length in plain text that no
exception handler can reshape; the gate answers in the service's one error shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response, handle_error, problem
from app.pipeline import Busy, Operation, Pipeline

ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz"})

JSON = (b"content-type", b"application/json")


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body is larger than the limit max_body_bytes = "
                         f"{max_bytes:,} bytes")  # fmt: skip


class Gate:
    """Admission, the body limit and the operations, in front of ``app`` (see the module).

    smaller: a smaller body limit for paths under a prefix (the first that matches counts).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        retry_after: int,
        max_body_bytes: int,
        smaller: Mapping[str, int],
        pipeline: Pipeline,
        operations: Mapping[str, Operation],
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.max_body_bytes = max_body_bytes
        self.smaller = dict(smaller)
        self.pipeline = pipeline
        self.operations = dict(operations)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = Busy(f"{self.max_in_flight} requests in flight", self.retry_after)
            await _refuse(busy, "busy", scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        max_bytes = next(
            (limit for prefix, limit in self.smaller.items() if path.startswith(prefix)),
            self.max_body_bytes,
        )
        content_type, length = _body_headers(scope)
        if length is not None and length > max_bytes:
            # the server drops the body it did not read (app/server.py)
            await _refuse(BodyTooLarge(max_bytes), "body_too_large", scope, receive, send)
            return
        if length is None:  # streamed: counted as it comes (a stated length is the parser's)
            receive = _limited(receive, max_bytes)
        operation = (
            self.operations.get(path)
            if scope["method"] == "POST" and not scope.get("root_path")
            else None
        )
        if operation is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
            content = await self.pipeline.answer(operation, body, content_type)
        except Exception as exc:  # the handler answers each; a bug is logged and answered 500
            response = await handle_error(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        length_header = (b"content-length", b"%d" % len(content))
        await send({"type": "http.response.start", "status": 200, "headers": [JSON, length_header]})
        await send({"type": "http.response.body", "body": content})


async def _refuse(
    exc: HTTPException, type_: str, scope: Scope, receive: Receive, send: Send
) -> None:
    response = error_response(exc.status_code, [problem([], exc.detail, type_)])
    response.headers.update(exc.headers or {})
    await response(scope, receive, send)


def _body_headers(scope: Scope) -> tuple[str | None, int | None]:
    """The Content-Type, and the Content-Length unless the body is sent chunked."""
    content_type = length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return content_type, None if chunked else length


def _limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive``, raising BodyTooLarge once the body passes max_bytes."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    return limited_receive


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
