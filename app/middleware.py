"""A request body size limit that answers in the service's one error shape.

FastAPI's own max_body_size answers a Content-Length over the limit with a plain-text 413 that no
exception handler can reshape; this does the same job, with the same two checks: a declared
Content-Length over the limit is refused before a byte of the body is read, and a streamed
(chunked) body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response, problem


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
