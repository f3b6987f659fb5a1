"""Request ids: every answer says which request it was, and so does every log line about it.

RequestIdMiddleware takes the client's (or its proxy's) X-Request-ID when it is a usable one, at
most 128 characters of letters, digits and ``-._~:;/+=@`` (a UUID, a trace id), and makes one
otherwise (32 hex digits): an id that is too long or holds a newline or a space is replaced, so
that no client writes into the logs. It keeps the id in the request's context (app/context.py),
for the logs (app/logs.py) and the body of a 5xx answer (app/errors.py), and adds it to the
answer's headers. create_app adds it outside every other middleware of the service, so that the
refusals of the others (503 busy, 413) carry it too. A 500 is answered by FastAPI outside every
middleware, so the error handler adds the header to it; for it the context is left in place
when the request fails.
"""

from __future__ import annotations

import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import context

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID = 128

_USABLE_ID = re.compile(rb"[A-Za-z0-9\-._~:;/+=@]{1,%d}" % MAX_REQUEST_ID)


def new_request_id() -> str:
    """32 random hex digits.

    An id names a request in the logs; it is no secret (a client may choose its own), so it
    comes from Python's ``random`` (reseeded in every forked worker), not from the system's
    CSPRNG: os.urandom made a getrandom system call for every request, one in four of the
    service's system calls under load (strace -c: a read, two writes and it).
    """
    return f"{random.getrandbits(128):032x}"


def given_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The request's X-Request-ID when it is usable as it is; None otherwise."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _USABLE_ID.fullmatch(value) else None
    return None


class RequestIdMiddleware:
    """Give every HTTP request an id: kept in its context, sent back as X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = given_request_id(scope["headers"]) or new_request_id()
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":  # a new list: never the app's own
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = context.begin(context.RequestRecord(request_id))
        await self.app(scope, receive, send_with_id)
        context.end(token)  # not on an exception: FastAPI's 500 handler still needs the id
