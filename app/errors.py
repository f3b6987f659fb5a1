"""From exceptions to error answers, in one handler.

Every error answer has the shape of schemas.errors.ErrorResponse. What raises what:

    pydantic.ValidationError        body failed validation        422, or 400 if not JSON at all
    fastapi RequestValidationError  a query or path parameter     422
    engine.NonFiniteError           a result overflowed float64   422
    engine.DomainError              an input outside a domain     422
    any other engine.EngineError    the maths refused the input   422  (an expression over
                                    a limit, say; its ``kind`` is the problem's type)
    HTTPException                   404, 405, 413, 415 ...        its status; among them
      Busy                          no slot or compute thread     503, with Retry-After
      BodyTooLarge                  over max_body_bytes           413
      TooManyValues                 over max_body_values          413
    starlette ClientDisconnect      the client went away          nothing to answer; not logged
    anything else                   a bug                         500, logged, no details

A 5xx answer carries the request's id (app/context.py) in its body, ``"request_id"``, and a 500
in its X-Request-ID header too (FastAPI answers it outside the middleware that adds the header
to every other answer). A refusal by a limit (the exception's ``limit``, or the limit a 422
names) is noted for the metrics.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from app import context, described
from app.described import problem, validation_failed
from engine import EngineError

logger = logging.getLogger("backprop_service")

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client went away: logged, never received."""

_HTTP_TYPES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
    503: "busy",
}


class Busy(HTTPException):
    def __init__(self, what: str, retry_after: int, limit: str | None = None) -> None:
        super().__init__(503, f"the server is busy ({what}): retry in {retry_after} s",
                         headers={"retry-after": str(retry_after)})  # fmt: skip
        self.limit = limit


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int, limit: str = "max_body_bytes") -> None:
        super().__init__(413, f"the body is larger than the limit {limit} = {max_bytes:,} bytes")
        self.limit = limit


class TooManyValues(HTTPException):
    def __init__(self, max_values: int) -> None:
        super().__init__(413, f"the body holds more than max_body_values = {max_values:,} values")
        self.limit = "max_body_values"


def error_response(status: int, problems: Sequence[dict[str, Any]]) -> JSONResponse:
    body: dict[str, Any] = {"detail": list(problems)}
    if status >= 500 and (request_id := context.request_id()) is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status)


def describe(exc: Exception) -> tuple[int, list[dict[str, Any]]] | None:
    """The status and problems of an error in what the client sent; None for anything else.

    app/described.py describes the errors the command line meets too; a query or path
    parameter's RequestValidationError is FastAPI's own.
    """
    if isinstance(exc, RequestValidationError):
        return validation_failed([dict(e) for e in exc.errors()], prefix=[])
    return described.describe(exc)


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one exception handler: says what is wrong and where, never echoes the input."""
    described = describe(exc)
    if described is not None:
        _note_limit(described[1])
        return error_response(*described)
    if isinstance(exc, ClientDisconnect):  # gone, or timed out by the server (app/server.py)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if isinstance(exc, HTTPException):
        return http_error_response(exc)
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    request_id = context.request_id()
    msg = "internal error: it has been logged" + (f" as {request_id}" if request_id else "")
    response = error_response(500, [problem([], msg, "internal")])
    if request_id is not None:
        response.headers["x-request-id"] = request_id
    return response


def http_error_response(exc: HTTPException) -> Response:
    """An HTTPException in the one error shape, with its headers (Retry-After, say); its
    ``type`` attribute, when it has one, is the problem's type."""
    type_: str = getattr(exc, "type", None) or _HTTP_TYPES.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    limit: str | None = getattr(exc, "limit", None)
    if limit is not None:
        context.note_refusal(limit)
    response = error_response(exc.status_code, [problem([], str(exc.detail), type_)])
    response.headers.update(exc.headers or {})
    return response


async def refuse(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a request with an HTTPException straight from ASGI (for middlewares)."""
    await http_error_response(exc)(scope, receive, send)


EXPECTED_ERRORS = (
    ValidationError,
    RequestValidationError,
    EngineError,
    HTTPException,
    ClientDisconnect,
)
"""What a request may raise short of a bug; the handler answers each with its 4xx (or 503)."""


_LIMIT_NAME = re.compile(r"\b(max_\w+)")


def _note_limit(problems: Sequence[dict[str, Any]]) -> None:
    """A 422 for a size over a limit: note the limit its message names (max_width, ...)."""
    for p in problems:
        if p["type"] == "limit_exceeded":
            named = _LIMIT_NAME.search(p["msg"])
            context.note_refusal(named.group(1) if named else "limit_exceeded")
            return


def install_error_handler(app: FastAPI) -> None:
    for exc_type in (*EXPECTED_ERRORS, Exception):
        app.add_exception_handler(exc_type, handle_error)
