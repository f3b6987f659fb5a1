"""How a JSON request becomes a JSON answer, for every endpoint that takes a body.

The body is validated by Pydantic straight from the bytes (no json.loads pass first), its
arrays come out as NumPy arrays, the engine works on them, and orjson writes the answer from
the arrays. Small requests run right here, on the event loop, where a thread hop would cost more
than the work; large ones run in a worker thread (a bounded pool of them) so that the event loop
keeps serving others.

Routes that answer this way are ``BodyRoute``s: FastAPI hands them the Request and nothing else
(docs/performance.md has the figures behind each choice made here).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.middleware import Busy

RequestModel = TypeVar("RequestModel", bound=BaseModel)
T = TypeVar("T")

INLINE_BODY_BYTES = 16 * 1024
"""Bodies up to this size are answered on the event loop (well under a millisecond of work)."""


class JSONBytesResponse(Response):
    media_type = "application/json"


class TooManyValues(HTTPException):
    def __init__(self, max_values: int) -> None:
        super().__init__(413, f"the body holds more than max_body_values = {max_values:,} values")


@dataclass
class ComputePool:
    """At most ``threads`` large requests computed at once; the others wait up to ``wait_seconds``.

    The waiting is bounded so that a burst of large requests is answered 503 (retry later)
    rather than queued without end, each holding its body in memory.
    """

    threads: int
    wait_seconds: float
    retry_after: int
    _limiter: anyio.CapacityLimiter | None = field(default=None, init=False)

    async def run(self, work: Callable[[], T]) -> T:
        if self._limiter is None:  # made on first use: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.threads)
        with anyio.move_on_after(self.wait_seconds) as timer:
            await self._limiter.acquire()
        if timer.cancelled_caught:
            raise Busy(f"{self.threads} large requests computing", self.retry_after)
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            self._limiter.release()


class BodyRoute(APIRoute):
    """A route whose endpoint takes the Request, reads its own body and returns a Response.

    FastAPI's request handler would look for a body to parse, solve (no) dependencies and
    validate (no) return value: about 10 microseconds per request that such an endpoint does
    not need, a twentieth of a tiny request's whole cost. Its OpenAPI entry is the usual one
    (response_model, responses, openapi_extra), since that is built from the route, not here.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload whose arrays are NumPy arrays."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


async def answer(
    request: Request,
    model: type[RequestModel],
    compute: Callable[[RequestModel], dict[str, Any]],
    *,
    heavy: bool = False,
) -> Response:
    """Validate the body as ``model``, ``compute`` the answer and write it as JSON.

    heavy: the work is not bounded by the body's size (grading recomputes the answer under
    every mistake, gradcheck runs two forward passes per parameter), so it always runs in a
    compute thread.
    """
    require_json(request)
    body = await request.body()
    state = request.app.state
    max_values = state.settings.max_body_values
    # JSON with n commas is at least 2n + 1 bytes long ("0,0,0"): count only in a body that long
    if len(body) >= 2 * max_values - 1 and body.count(b",") >= max_values:
        raise TooManyValues(max_values)

    def work() -> bytes:
        parsed = model.model_validate_json(body, context={"limits": state.limits})
        return dumps(compute(parsed))

    pool: ComputePool = state.compute
    inline = not heavy and len(body) <= INLINE_BODY_BYTES
    content = work() if inline else await pool.run(work)
    return JSONBytesResponse(content)


def require_json(request: Request) -> None:
    """Refuse with 415 a body not sent as application/json (or another +json type)."""
    content_type = request.headers.get("content-type")
    if content_type is not None and _is_json(content_type):
        return
    raise HTTPException(
        415,
        f"the body must be JSON, sent with Content-Type: application/json "
        f"(this request says {content_type or 'nothing'})",
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
