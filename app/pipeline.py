"""How a JSON request becomes a JSON answer, for every endpoint that takes a body.

The body is validated by Pydantic straight from the bytes (no json.loads pass first), its
arrays come out as NumPy arrays, the engine works on them, and orjson writes the answer from
the arrays. Small requests run right here, on the event loop, where a thread hop would cost more
than the work; large ones run in a worker thread so that the event loop keeps serving others.

Routes that answer this way are ``BodyRoute``s: FastAPI hands them the Request and nothing else
(docs/performance.md has the figures behind each choice made here).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from schemas import Limits

RequestModel = TypeVar("RequestModel", bound=BaseModel)

INLINE_BODY_BYTES = 16 * 1024
"""Bodies up to this size are answered on the event loop (well under a millisecond of work)."""


class JSONBytesResponse(Response):
    media_type = "application/json"


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
    limits: Limits,
) -> Response:
    """Validate the body as ``model``, ``compute`` the answer and write it as JSON."""
    _require_json(request)
    body = await request.body()

    def work() -> bytes:
        parsed = model.model_validate_json(body, context={"limits": limits})
        return dumps(compute(parsed))

    content = work() if len(body) <= INLINE_BODY_BYTES else await run_in_threadpool(work)
    return JSONBytesResponse(content)


def _require_json(request: Request) -> None:
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
