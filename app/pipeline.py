"""How a JSON request becomes a JSON answer, for every endpoint that takes a body.

The body is validated by Pydantic straight from the bytes (no json.loads pass first), its
arrays come out as NumPy arrays, the engine works on them, and orjson writes the answer from
the arrays. Small requests run right here, on the event loop, where a thread hop would cost more
than the work; large ones run in a worker thread so that the event loop keeps serving others.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from typing import Any, TypeVar

import orjson
from fastapi import Request
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


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload whose arrays are NumPy arrays."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


async def answer(
    request: Request,
    model: type[RequestModel],
    compute: Callable[[RequestModel], dict[str, Any]],
    limits: Limits,
    *,
    heavy: bool = False,
) -> Response:
    """Validate the body as ``model``, ``compute`` the answer and write it as JSON.

    heavy: the work is not bounded by the body's size (grading recomputes the answer under
    every mistake, gradcheck runs two forward passes per parameter), so it always runs in a
    worker thread.
    """
    _require_json(request)
    body = await request.body()

    def work() -> bytes:
        parsed = model.model_validate_json(body, context={"limits": limits})
        return dumps(compute(parsed))

    inline = not heavy and len(body) <= INLINE_BODY_BYTES
    content = work() if inline else await run_in_threadpool(work)
    return JSONBytesResponse(content)


def _require_json(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is not None:
        message = Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() == "application" and (
            subtype == "json" or subtype.endswith("+json")
        ):
            return
    raise HTTPException(
        415,
        f"the body must be JSON, sent with Content-Type: application/json "
        f"(this request says {content_type or 'nothing'})",
    )
