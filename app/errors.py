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

from app import context
from engine import DomainError, EngineError, NonFiniteError
from schemas import MAX_PROBLEMS, UNION_TAGS
from schemas.arrays import errors_of_intended_choice

logger = logging.getLogger("backprop_service")

Loc = list[str | int]

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client went away: logged, never received."""

_MAX_QUOTED = 40
"""The longest piece of a client's input an error message may quote."""

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


def excerpt(text: str) -> str:
    """At most _MAX_QUOTED characters of a client's input, to quote in a message."""
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def problem(loc: Loc, msg: str, type_: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type_}


def error_response(status: int, problems: Sequence[dict[str, Any]]) -> JSONResponse:
    body: dict[str, Any] = {"detail": list(problems)}
    if status >= 500 and (request_id := context.request_id()) is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status)


def describe(exc: Exception) -> tuple[int, list[dict[str, Any]]] | None:
    """The status and problems of an error in what the client sent; None for anything else.

    The HTTP handler and the command line (app/cli.py) report errors through it alike.
    """
    if isinstance(exc, ValidationError | RequestValidationError):
        return _validation_failed(exc)
    if isinstance(exc, NonFiniteError):
        loc: Loc = (
            ["result", exc.quantity]
            if exc.layer is None
            else ["result", "layers", exc.layer, exc.quantity]
        )
        return 422, [problem(loc, str(exc), "non_finite_result")]
    if isinstance(exc, DomainError):
        return 422, [problem(["body", exc.argument], str(exc), "domain_error")]
    if isinstance(exc, EngineError):
        return 422, [problem(["body"], str(exc), exc.kind)]
    return None


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


def _validation_failed(
    exc: ValidationError | RequestValidationError,
) -> tuple[int, list[dict[str, Any]]]:
    if isinstance(exc, RequestValidationError):
        errors = [dict(e) for e in exc.errors()]
        prefix: Loc = []
    else:
        errors = [dict(e) for e in exc.errors(include_url=False, include_input=False)]
        errors = errors_of_intended_choice(errors)
        prefix = ["body"]
    if errors and errors[0]["type"] == "json_invalid":
        msg = f"the body is not valid JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}"
        return 400, [problem(["body"], msg, "json_invalid")]
    problems = [_public(prefix, e) for e in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        more = len(errors) - MAX_PROBLEMS
        problems.append(problem(prefix, f"... and {more} more problems", "too_many_problems"))
    return 422, problems


def _public(prefix: Loc, error: dict[str, Any]) -> dict[str, Any]:
    """A Pydantic error as clients see it: tags dropped, the place named in the message."""
    path: Loc = [part for part in error["loc"] if part not in UNION_TAGS]
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":  # Pydantic's message quotes the input, at any length
        ctx = error.get("ctx", {})
        given = str(ctx.get("tag", ""))
        name = f" '{given}'" if len(given) <= _MAX_QUOTED else ""
        msg = f"unknown name{name}: expected one of {ctx.get('expected_tags', '')}"
    inside_body = path[1:] if path[:1] == ["body"] else path
    if inside_body:
        msg = f"{_dotted(inside_body)}: {msg}"
    return problem([*prefix, *path], msg, str(error["type"]))


def _dotted(path: Loc) -> str:
    """["network", "layers", 0, "weights"] -> "network.layers[0].weights"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
