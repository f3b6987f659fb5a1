"""uvicorn's httptools protocol with the bounds httptools itself lacks.

httptools (the fast HTTP parser uvicorn uses here) takes a request at any size and at any pace,
and uvicorn writes an answer into the connection's buffer whether or not the client reads it.
A client could send an endless header, or one byte a minute; or pipeline requests whose large
answers it never reads, each one computed and buffered in turn. This protocol bounds every
connection by clocks and sizes:

- the request line and headers must arrive within head_timeout_seconds (counted from the
  connection, or from the first byte of a kept-alive connection's next request) and hold at most
  max_head_bytes, counted exactly however the bytes arrive: 408 or 431 otherwise;
- the body must then arrive within body_timeout_seconds: 408 otherwise (its size is bounded by
  the application, app/middleware.py, which knows the limit and answers 413);
- an answer the client is not reading (the connection's write buffer over its high-water mark)
  must make progress at least every write_timeout_seconds, or the connection is dropped, its
  buffered answer freed and the request's place given back;
- a pipelined request is not started, nor more read, while an earlier answer has not left;
- past max_connections at once, a new connection displaces the oldest one that has never sent a
  byte, or, when there is none, is answered 503 (with Retry-After) in the service's JSON shape;
- a kept-alive connection idle for keep_alive_seconds is closed.

Every answer made here (400, 408, 431, 503) has the service's one error shape, and a refusal of
a pipelined request waits for the answers of the requests before it, so answers keep their
order. The clocks cost nothing per request: a phase sets a deadline, and one timer per
connection, re-armed only when it fires, looks at the deadlines.

When an answer goes out before the request has fully arrived (a 413 for a 200 MB body, a 415),
closing at once would reset the connection while the client is still sending, and a client that
reads only after sending would see the reset instead of the answer. So the answer says
``Connection: close``, and the rest of the body is read and dropped, never kept, for
LINGER_SECONDS at most, reading on even where uvicorn had paused reading while the body waited
for the app; the connection is closed when the body has ended, or then. (Keeping it open when
the body ended in time raced with the timer on a busy server: a client that had already sent
its next request on it saw the connection closed under it.) A refused request (400, 408, 431,
503) cannot be followed by another: what still arrives is dropped for LINGER_SECONDS, and then
the connection is closed (as nginx's lingering_close does).

uvicorn loads it by name: ``uvicorn.run(..., http="app.server:GuardedHttpToolsProtocol")``. It
overrides some of uvicorn's HttpToolsProtocol methods, so uvicorn is pinned to the range that
tests/test_server_contract.py checks (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Literal

import httptools
import orjson
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from app.config import get_settings

LINGER_SECONDS = 3.0

Phase = Literal["head", "body", "idle"]

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class _HeadTooLargeError(Exception):
    """Raised from a parser callback to stop parsing a request whose head is over the limit."""


class _CloseOnceRead:
    """The connection's transport as one request's cycle sees it: ``close()`` while the
    request's body is still arriving is left to the protocol, which closes once the body has
    been read and dropped (or after LINGER_SECONDS); everything else is the transport's."""

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle

    def close(self) -> None:
        if not self._cycle.more_body:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _answered_in_time(cycle: RequestResponseCycle) -> None:
    """The request's body has all arrived, so no answer can start before it any more: the cycle
    gets uvicorn's own ``send`` and the connection's transport back, which the guards set by
    ``_close_if_answered_early`` would now only pass everything on to. A tiny request's body
    arrives with its head, before its app starts, so it is answered without them (one
    coroutine less per message sent, no proxy per write: bench/tiny_split.py)."""
    guarded = cycle.transport
    if isinstance(guarded, _CloseOnceRead):
        cycle.transport = guarded._transport
        del cycle.send  # the instance's send_closing: the class's send shows through again


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_head_bytes = settings.max_head_bytes
        self.max_connections = settings.max_connections
        self.retry_after = settings.retry_after_seconds
        self.timeouts: dict[Phase, float] = {
            "head": settings.head_timeout_seconds,
            "body": settings.body_timeout_seconds,
            "idle": float(settings.keep_alive_seconds),
        }
        self.write_timeout = settings.write_timeout_seconds
        self._phase: Phase | None = None
        self._deadline = math.inf
        self._watching_writes = False
        self._write_deadline = math.inf
        self._buffered = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._head_bytes = 0
        self._received = False
        self._lingering = False
        self._drain_timer: asyncio.TimerHandle | None = None
        self._waiting_for_drain = False
        self._refusal: bytes | None = None

    # The connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter("head")
        if len(self.connections) > self.max_connections and not self._displace_a_silent_one():
            self._refuse(503, "busy", f"the server has {self.max_connections:,} connections, "
                         f"its limit max_connections: retry in {self.retry_after} s")  # fmt: skip

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase, self._watching_writes = None, False
        for timer in (self._timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._drain_timer = None
        super().connection_lost(exc)

    def _displace_a_silent_one(self) -> bool:
        """Close the oldest other connection that has not sent a byte; whether there was one."""
        silent = [
            c
            for c in self.connections
            if c is not self and isinstance(c, GuardedHttpToolsProtocol) and not c._received
        ]
        if not silent:
            return False
        min(silent, key=lambda c: c._deadline).transport.close()
        return True

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is out: drop the rest of the request
        self._received = True
        if self._phase == "idle":  # the next request of a kept-alive connection begins
            self._enter("head")
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLargeError):
                self._refuse_head_too_large()
                return
            self._refuse(400, "bad_request", "the request is not valid HTTP/1.1")
            return
        except httptools.HttpParserError:
            self._refuse(400, "bad_request", "the request is not valid HTTP/1.1")
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
            return
        if self._phase == "head" and not self.transport.is_closing():
            self._head_bytes += len(data)  # a head still arriving: bounded as it comes
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head_too_large()

    # The request's phases -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._phase != "head":  # a pipelined request, parsed right after the one before
            self._enter("head")

    def on_headers_complete(self) -> None:
        # the head counted exactly, however its bytes arrived (in one read with the body, say):
        # "METHOD url HTTP/1.1\r\n", a "name: value\r\n" line per header, and "\r\n"
        method, version = self.parser.get_method(), self.parser.get_http_version()
        line = len(method) + len(self.url) + len(version) + len(" HTTP/ \r\n")
        size = line + sum(len(n) + len(v) for n, v in self.headers) + 4 * len(self.headers) + 2
        if size > self.max_head_bytes:
            raise _HeadTooLargeError  # stops the parser before it starts the request
        self._head_bytes = 0
        self._enter("body")
        super().on_headers_complete()
        self._close_if_answered_early(self.cycle)

    def on_message_complete(self) -> None:
        self._phase, self._deadline = None, math.inf
        super().on_message_complete()
        if self.cycle is not None:
            _answered_in_time(self.cycle)
        if self._drain_timer is not None:  # the refused body has been dropped: carry on
            self._drain_timer.cancel()
            self._drain_timer = None
            if self.cycle is not None and not self.cycle.keep_alive:
                self.transport.close()  # it said Connection: close; nothing is left to read
                return
            self._next_request()

    def _close_if_answered_early(self, cycle: RequestResponseCycle | None) -> None:
        """An answer that starts before its request's body has arrived (a 413, a 415) says
        ``Connection: close``, so that no client sends its next request on a connection that
        may close under it; the connection is closed once the rest of the body has been read
        and dropped, or after LINGER_SECONDS (on_response_complete), never at once: closing
        with unread bytes resets the connection, and a client still sending would lose the
        answer."""
        if cycle is None:
            return
        send, transport = cycle.send, cycle.transport

        async def send_closing(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and cycle.more_body:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        cycle.send = send_closing  # type: ignore[method-assign]
        cycle.transport = _CloseOnceRead(transport, cycle)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        """The answer is in the connection's buffer: start the next request when it has left."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.more_body:
            # answered before the body had arrived (a refusal): give the rest of it a moment,
            # reading on even if uvicorn paused reading while the body waited for the app
            self._drain_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
            self.flow.resume_reading()
            return
        if self.flow.write_paused:  # an answer the client has not read yet: read no more
            self._waiting_for_drain = True
            self.flow.pause_reading()
            return
        self._next_request()

    def _next_request(self) -> None:
        """After an answer has left: the next pipelined request, a refusal, or waiting."""
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        if self._refusal is not None:
            self._send_refusal(self._refusal)
            return
        self.flow.resume_reading()
        self._enter("idle")

    # Writes ---------------------------------------------------------------------------------

    def pause_writing(self) -> None:
        """The client is not reading as fast as the answer is written: watch its progress."""
        super().pause_writing()
        self._watching_writes = True
        self._buffered = self.transport.get_write_buffer_size()
        self._write_deadline = self.loop.time() + self.write_timeout
        if self._write_deadline < self._timer_at:
            self._arm(self._write_deadline)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._watching_writes, self._write_deadline = False, math.inf
        if self._waiting_for_drain:
            self._waiting_for_drain = False
            self._next_request()

    # The clock --------------------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self._phase = phase
        self._deadline = at = self.loop.time() + self.timeouts[phase]
        if at < self._timer_at:  # the timer fires later than this: bring it forward
            self._arm(at)

    def _arm(self, at: float) -> None:
        """Make the timer fire at ``at`` (earlier than it would)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._watching_writes:
            buffered = self.transport.get_write_buffer_size()
            if buffered < self._buffered:  # progress: the client is reading, slowly
                self._buffered, self._write_deadline = buffered, now + self.write_timeout
            elif now >= self._write_deadline:
                self.transport.abort()  # drops the buffered answer; uvicorn frees the request
                return
        if self._phase is not None and now >= self._deadline:
            self._timed_out(self._phase)
            return
        next_at = min(self._deadline, self._write_deadline)
        if next_at < math.inf:  # a phase still under way: look again at its deadline
            self._arm(next_at)

    def _timed_out(self, phase: Phase) -> None:
        self._phase, self._deadline = None, math.inf
        if phase == "idle" or (phase == "head" and not self._head_bytes and not self.cycle):
            self.transport.close()  # kept alive long enough, or a connection that never spoke
            return
        if phase == "body" and self.cycle is not None:
            if self.cycle.response_started:  # answered already; the body never came: give up
                self.transport.close()
                return
            # the application, still waiting for the body, is told the client is gone, and
            # the refusal is this request's answer
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        what = "request line and headers" if phase == "head" else "body"
        self._refuse(408, f"{phase}_timeout", f"the {what} did not arrive within "
                     f"{phase}_timeout_seconds = {self.timeouts[phase]:g} s",
                     after_earlier_answers=phase == "head")  # fmt: skip

    # Refusals ---------------------------------------------------------------------------------

    def _refuse_head_too_large(self) -> None:
        limit = f"max_head_bytes = {self.max_head_bytes:,} bytes"
        self._refuse(431, "head_too_large", f"the request line and headers are over {limit}")

    def _refuse(
        self, status: int, type_: str, msg: str, *, after_earlier_answers: bool = True
    ) -> None:
        """Answer in the service's error shape, after the answers of earlier requests on this
        connection (pipelined ones), then close."""
        body = orjson.dumps({"detail": [{"loc": ["request"], "msg": msg, "type": type_}]})
        retry = b"retry-after: %d\r\n" % self.retry_after if status == 503 else b""
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body), retry)
        )
        self._phase, self._deadline = None, math.inf
        self._lingering = True  # nothing more is read as a request
        self.flow.resume_reading()
        answering = self.cycle is not None and not self.cycle.response_complete
        if after_earlier_answers and (answering or self.pipeline):
            self._refusal = head + body  # sent when the answers before it have left
            return
        self._send_refusal(head + body)

    def _send_refusal(self, refusal: bytes) -> None:
        self._refusal = None
        self.transport.write(refusal)
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
