"""How a JSON request becomes a JSON answer, for every endpoint that takes a body.

The body is validated by Pydantic straight from the bytes (no json.loads pass first), its
arrays come out as NumPy arrays, the engine works on them, and orjson writes the answer from
the arrays. Small requests run right here, on the event loop, where a thread hop would cost more
than the work; large ones run in a worker thread (a bounded pool of them) so that the event loop
keeps serving others.

An endpoint that answers this way is an ``Operation``: a request model and the function that
computes the answer's payload from it. ``@answers(Model, example=...)`` makes one of such a
function, and registering it on a router whose route class is ``BodyRoute`` documents it as
usual. The gate (app/middleware.py) runs operations straight from the raw ASGI request, past
FastAPI's routing; FastAPI's route answers them the same way under a root_path.
docs/performance.md has the figures behind each choice made here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.to_thread
import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.openapi import json_body
from schemas.limits import Limits

RequestModel = TypeVar("RequestModel", bound=BaseModel)
T = TypeVar("T")

Payload = dict[str, Any]

INLINE_BODY_BYTES = 16 * 1024
"""Bodies up to this size are answered on the event loop (well under a millisecond of work)."""


class JSONBytesResponse(Response):
    media_type = "application/json"


class Busy(HTTPException):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(503, f"the server is busy ({what}): retry in {retry_after} s",
                         headers={"retry-after": str(retry_after)})  # fmt: skip


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


@dataclass(frozen=True)
class Operation:
    """What an endpoint does with its body: validate it as ``model``, ``compute`` the payload.

    example: the request body the API docs show.
    heavy: the work is not bounded by the body's size (grading recomputes the answer under
        every mistake, gradcheck runs two forward passes per parameter), so it always runs in
        a compute thread.
    """

    model: type[BaseModel]
    compute: Callable[[Any], Payload]
    example: dict[str, Any]
    heavy: bool = False


@dataclass(frozen=True)
class Pipeline:
    """What answering a body takes besides the body: the limits and the compute threads."""

    limits: Limits
    max_body_values: int
    compute: ComputePool

    async def answer(self, operation: Operation, body: bytes, content_type: str | None) -> bytes:
        """The JSON answer of ``operation`` to a body sent with this Content-Type."""
        require_json(content_type)
        max_values = self.max_body_values
        # JSON with n commas is at least 2n + 1 bytes long ("0,0,0"): count only in a body that long
        if len(body) >= 2 * max_values - 1 and body.count(b",") >= max_values:
            raise TooManyValues(max_values)

        def work() -> bytes:
            parsed = operation.model.model_validate_json(body, context={"limits": self.limits})
            return dumps(operation.compute(parsed))

        if not operation.heavy and len(body) <= INLINE_BODY_BYTES:
            return work()
        return await self.compute.run(work)


Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class OperationEndpoint(Protocol):
    """A FastAPI endpoint that answers by an Operation, which it carries."""

    operation: Operation

    def __call__(self, request: Request) -> Coroutine[Any, Any, Response]: ...


def answers(
    model: type[RequestModel], *, example: dict[str, Any], heavy: bool = False
) -> Callable[[Callable[[RequestModel], Payload]], OperationEndpoint]:
    """Make an endpoint of a function from the validated request to the answer's payload.

    The endpoint keeps the function's name and docstring, which the API docs show.
    """

    def decorate(compute: Callable[[RequestModel], Payload]) -> OperationEndpoint:
        operation = Operation(model, compute, example, heavy)

        async def endpoint(request: Request) -> Response:
            pipeline: Pipeline = request.app.pipeline  # the Service (app/main.py)
            body = await request.body()
            content_type = request.headers.get("content-type")
            return JSONBytesResponse(await pipeline.answer(operation, body, content_type))

        for name in ("__name__", "__qualname__", "__module__", "__doc__"):
            setattr(endpoint, name, getattr(compute, name))
        typed = cast(OperationEndpoint, endpoint)
        typed.operation = operation
        return typed

    return decorate


class BodyRoute(APIRoute):
    """A route whose endpoint is an OperationEndpoint: it reads its own body.

    FastAPI's request handler would look for a body to parse, solve (no) dependencies and
    validate (no) return value: work such an endpoint does not need. Its OpenAPI entry is the
    usual one (response_model, responses), with the operation's model as the request body.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.operation: Operation = cast(OperationEndpoint, endpoint).operation
        options["openapi_extra"] = json_body(self.operation.model, self.operation.example)
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload whose arrays are NumPy arrays."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def require_json(content_type: str | None) -> None:
    """Refuse with 415 a body not sent as application/json (or another +json type)."""
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
