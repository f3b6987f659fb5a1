"""uvicorn's httptools protocol with the bounds httptools itself lacks, and a lingering close.

httptools (the fast HTTP parser uvicorn uses here) takes a request at any size and at any pace: a
client can send an endless header, or one byte a minute, and hold memory or a connection for as
long as it likes. This protocol bounds each request by two clocks and one size:

- the request line and headers must arrive within head_timeout_seconds (counted from the
  connection, or from the first byte of a kept-alive connection's next request) and hold at most
  max_head_bytes: 408 or 431 otherwise;
- the body must then arrive within body_timeout_seconds: 408 otherwise. (Its size is bounded by
  the application, app/middleware.py, which knows the limit and answers 413.)

The clocks are one timer per request phase, not per read, so that they cost nothing measurable.

When an answer goes out before the request has fully arrived (a 413 for a 200 MB body, a 415),
closing at once would reset the connection while the client is still sending, and a client that
reads only after sending would see the reset instead of the answer. So the rest of the body is
read and dropped, never kept (the parser drops a body whose answer is out), for LINGER_SECONDS
at most: if it ends in time the connection stays open for the next request, otherwise it is
closed. A refused request (431, 408) cannot be followed by another: what still arrives is dropped
for LINGER_SECONDS, and then the connection is closed (as nginx's lingering_close does).

uvicorn loads it by name: ``uvicorn.run(..., http="app.server:GuardedHttpToolsProtocol")``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}

LINGER_SECONDS = 3.0

Phase = Literal["head", "body"]


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_head_bytes = settings.max_head_bytes
        self.timeouts: dict[Phase, float] = {
            "head": settings.head_timeout_seconds,
            "body": settings.body_timeout_seconds,
        }
        self._phase: Phase | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._lingering = False
        self._drain_timer: asyncio.TimerHandle | None = None

    # The request's phases -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter("head")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._phase is None:  # the next request on a kept-alive connection
            self._enter("head")

    def on_headers_complete(self) -> None:
        self._enter("body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._leave()
        super().on_message_complete()
        if self._drain_timer is not None:  # the refused body has been dropped: carry on
            self._stop_draining()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave()
        self._stop_draining()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is out: drop the rest of the request
        super().data_received(data)
        if self._phase == "head" and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                limit = f"max_head_bytes = {self.max_head_bytes:,} bytes"
                what = "the request line and headers are larger than the limit"
                self._refuse(431, "head_too_large", f"{what} {limit}")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            # answered before the body had arrived (a refusal): give the rest of it a moment
            self._drain_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    # Timers -------------------------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self._leave()
        self._phase = phase
        self._timer = self.loop.call_later(self.timeouts[phase], self._timed_out)

    def _leave(self) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        phase, self._timer = self._phase, None
        if phase is None or self.transport.is_closing():
            return
        if phase == "head" and self._head_bytes == 0:  # a connection that never sent a byte
            self.transport.close()
            return
        if self.cycle is not None and phase == "body":
            if self.cycle.response_started:  # answered already; the body never came: give up
                self.transport.close()
                return
            # the application, still waiting for the body, is told the client is gone
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        what = "request line and headers" if phase == "head" else "body"
        self._refuse(408, f"{phase}_timeout", f"the {what} did not arrive within "
                     f"{phase}_timeout_seconds = {self.timeouts[phase]:g} s")  # fmt: skip

    def _stop_draining(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    # Refusals -----------------------------------------------------------------------------------

    def _refuse(self, status: int, type_: str, msg: str) -> None:
        """Answer in the service's error shape, then drop what comes and close."""
        body = orjson.dumps({"detail": [{"loc": ["request"], "msg": msg, "type": type_}]})
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))
        )
        self._leave()
        self.transport.write(head + body)
        self._lingering = True
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
