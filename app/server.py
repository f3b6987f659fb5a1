"""uvicorn's httptools protocol with the bounds httptools itself lacks, and a lingering close.

httptools (the fast HTTP parser uvicorn uses here) takes a request's head (the request line and
the headers) at any size and at any pace: a client can send an endless header, or one byte a
minute, and hold memory or a connection for as long as it likes. This protocol answers a head
over max_head_bytes with 431 and one that has not fully arrived within head_timeout_seconds
(counted from the connection, or from the first byte of a kept-alive connection's next request)
with 408, both in the service's error shape.

When an answer goes out before the request has fully arrived (a 413 for a 200 MB body, a 415),
closing at once would reset the connection while the client is still sending, and a client that
reads only after sending would see the reset instead of the answer. So the rest of the body is
read and dropped, never kept (the parser drops a body whose answer is out), for LINGER_SECONDS
at most: if it ends in time the connection stays open for the next request, otherwise it is
closed. A refused head (431, 408) cannot be followed by another request: what still arrives is
dropped for LINGER_SECONDS, and then the connection is closed (as nginx's lingering_close does).

uvicorn loads it by name: ``uvicorn.run(..., http="app.server:GuardedHttpToolsProtocol")``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}

LINGER_SECONDS = 3.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_head_bytes = settings.max_head_bytes
        self.head_timeout_seconds = settings.head_timeout_seconds
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        self._drain_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._stop_draining()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is out: drop the rest of the request
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, f"the request line and headers are larger than the limit "
                             f"max_head_bytes = {self.max_head_bytes:,} bytes")  # fmt: skip

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            # answered before the body had arrived (a refusal): give the rest of it a moment
            self._drain_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._drain_timer is not None:  # the refused body has been dropped: carry on
            self._stop_draining()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def _stop_draining(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _linger(self) -> None:
        self._lingering = True
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self._head_bytes == 0:  # a connection that never sent a byte: just close it
                self.transport.close()
                return
            self._refuse(408, f"the request line and headers did not arrive within "
                         f"head_timeout_seconds = {self.head_timeout_seconds:g} s")  # fmt: skip

    def _refuse(self, status: int, msg: str) -> None:
        type_ = "head_too_large" if status == 431 else "head_timeout"
        body = orjson.dumps({"detail": [{"loc": ["header"], "msg": msg, "type": type_}]})
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))
        )
        self._stop_head_timer()
        self.transport.write(head + body)
        self._linger()
