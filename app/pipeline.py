"""How a JSON body becomes a JSON answer, for the endpoints that take a network.

A route hands its ``Request`` to ``Pipeline.answer`` with the request model and the service
function (app/services.py) that computes the answer. The body is validated by Pydantic straight
from the bytes (no json.loads pass first), its arrays come out as NumPy arrays, the service
works on them, and orjson writes the answer from the arrays, into an ordinary Response that goes
back through FastAPI's middleware like any other.

Where the work runs is decided by the work itself, never by the body's size: a request whose
estimated multiply-adds and answer (``cost()``, the same estimates the size limits check) are
both tiny, as the contract's 2-3-2 example is, is answered right on the event loop, where a
thread hop would cost more than the work. Every other request is computed in a compute thread,
at most ``compute_threads`` at a time, waiting at most ``compute_wait_seconds`` for one, so
that the event loop keeps serving others. (A large body is also validated in the compute
thread: its validation alone takes milliseconds.) docs/performance.md has the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache, partial
from typing import TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.errors import Busy, TooManyValues
from app.services import Payload, dumps, dumps_in_pieces
from schemas.errors import excerpt
from schemas.intake import parse_json
from schemas.limits import Cost, Limits

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)

INLINE_BODY_BYTES = 16 * 1024
"""Bodies up to this size are validated on the event loop (validation is linear in the bytes:
well under a millisecond for 16 KiB); larger ones in the compute thread with their work."""

INLINE_WORK = 65_536
"""Multiply-adds of a forward pass small enough to answer on the event loop (tens of us)."""

INLINE_ANSWER_VALUES = 4_096
"""Numbers in an answer small enough to write on the event loop (a few tens of KB of JSON)."""


_BOM = b"\xef\xbb\xbf"
"""UTF-8's byte-order mark, which a JSON reader may ignore: Windows editors write one."""


def tiny(cost: Cost) -> bool:
    """Whether a request of this cost is answered on the event loop."""
    return cost.work <= INLINE_WORK and cost.answer_values <= INLINE_ANSWER_VALUES


class JSONBytesResponse(Response):
    media_type = "application/json"


@dataclass
class ComputePool:
    """At most ``threads`` requests computed at once; the others wait up to ``wait_seconds``.

    The waiting is bounded so that a burst of large requests is answered 503 (retry later)
    rather than queued without end, each holding its body in memory. ``on_wait`` is told how
    many seconds each request waited (the metrics' compute waits).
    """

    threads: int
    wait_seconds: float
    retry_after: int
    on_wait: Callable[[float], None] | None = None
    _limiter: anyio.CapacityLimiter | None = field(default=None, init=False)

    async def run(self, work: Callable[[], T]) -> T:
        if self._limiter is None:  # made on first use: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.threads)
        waiting_since = time.perf_counter()
        with anyio.move_on_after(self.wait_seconds) as timer:
            await self._limiter.acquire()
        if self.on_wait is not None:
            self.on_wait(time.perf_counter() - waiting_since)
        if timer.cancelled_caught:
            raise Busy(
                f"{self.threads} requests computing", self.retry_after, "compute_wait_seconds"
            )
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            self._limiter.release()


@dataclass(frozen=True)
class Pipeline:
    """What answering a body takes besides the body: the limits and the compute threads."""

    limits: Limits
    max_body_values: int
    compute: ComputePool
    context: dict[str, Limits] = field(init=False)
    """The validation context of every request: the limits in force."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", {"limits": self.limits})

    async def answer(
        self,
        request: Request,
        model: type[Model],
        compute: Callable[[Model], Payload],
        *,
        cost: Callable[[Model], Cost] | None = None,
        students_json: bool = False,
    ) -> Response:
        """The JSON answer of ``compute`` to the request's body, validated as ``model``.

        cost: the request's estimated cost; without one the work always runs in a compute
            thread (grading recomputes the answer under every mistake, gradcheck runs two
            forward passes per parameter: work the shapes alone do not bound tightly).
        students_json: the body holds students' answers, read forgivingly: JSON that Pydantic's
            parser refuses only for a number too long for it (over 4,300 digits) or nesting
            deeper than it goes (about 255 levels) is read by Python's, so that one student's
            oddity is that student's unreadable answer, not a 400 for the whole class.
        """
        require_json(request.headers.get("content-type"))
        body = (await request.body()).removeprefix(_BOM)  # JSON may start with one (RFC 8259)
        max_values = self.max_body_values
        # JSON with n commas is at least 2n + 1 bytes long ("0,0,0"): count only in a body that long
        if len(body) >= 2 * max_values - 1 and body.count(b",") >= max_values:
            raise TooManyValues(max_values)
        if len(body) > INLINE_BODY_BYTES:
            return JSONBytesResponse(
                await self.compute.run(
                    partial(self._answer, model, compute, body, students_json=students_json)
                )
            )
        parsed = self._validated(model, body, students_json=students_json)
        if cost is not None and tiny(cost(parsed)):
            return JSONBytesResponse(dumps(compute(parsed)))
        return JSONBytesResponse(await self.compute.run(partial(_dumped, compute, parsed)))

    def _answer(
        self,
        model: type[Model],
        compute: Callable[[Model], Payload],
        body: bytes,
        *,
        students_json: bool,
    ) -> bytes:
        return dumps_in_pieces(compute(self._validated(model, body, students_json=students_json)))

    def _validated(self, model: type[Model], body: bytes, *, students_json: bool) -> Model:
        try:
            return model.model_validate_json(body, context=self.context)
        except ValidationError as error:
            if not (students_json and _beyond_pydantics_parser(error)):
                raise
            try:
                value = parse_json(body)
            except ValueError:
                raise error from None
            return model.model_validate(value, context=self.context)


def _beyond_pydantics_parser(error: ValidationError) -> bool:
    """Whether Pydantic refused the JSON only for a number or a depth beyond its parser, or a
    lone surrogate ("\\ud800": valid JSON, and a student's to answer for)."""
    first = error.errors(include_url=False)[0]
    return first["type"] == "json_invalid" and any(
        reason in first["msg"] for reason in _BEYOND_PYDANTIC
    )


_BEYOND_PYDANTIC = ("number out of range", "recursion limit", "surrogate", "hex escape")


def _dumped(compute: Callable[[Model], Payload], parsed: Model) -> bytes:
    return dumps_in_pieces(compute(parsed))


def require_json(content_type: str | None) -> None:
    """Refuse with 415 a body not sent as application/json (or another +json type)."""
    if content_type is not None and _is_json(content_type):
        return
    raise HTTPException(
        415,
        f"the body must be JSON, sent with Content-Type: application/json "
        f"(this request says {excerpt(content_type) if content_type else 'nothing'})",
    )


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """application/json or application/*+json, parameters allowed (parsed once per value)."""
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )
