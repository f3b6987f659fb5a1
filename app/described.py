"""What is wrong with what a client sent, as the problems of a 422: for HTTP and the command line.

    describe(exc) -> (status, [{"loc": [...], "msg": "...", "type": "..."}, ...]) or None

    pydantic.ValidationError        body failed validation        422, or 400 if not JSON at all
    engine.NonFiniteError           a result overflowed float64   422
    engine.DomainError              an input outside a domain     422
    any other engine.EngineError    the maths refused the input   422  (its ``kind`` is the type)

It imports nothing of the web stack (FastAPI, Starlette, uvicorn): the offline commands report
a bad PROBLEM.json through it without loading the server. app/errors.py adds what only HTTP
raises (a query parameter's RequestValidationError, HTTPException, a client gone away).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from engine import DomainError, EngineError, NonFiniteError
from schemas import MAX_PROBLEMS, UNION_TAGS
from schemas.arrays import errors_of_intended_choice
from schemas.errors import MAX_QUOTED, excerpt

Loc = list[str | int]

MAX_MESSAGE = 1_000
"""The longest message of a problem: a last guard, should one ever quote more of the input than
its excerpt."""


def problem(loc: Loc, msg: str, type_: str) -> dict[str, Any]:
    """One problem of an error answer, its message cut at MAX_MESSAGE characters."""
    if len(msg) > MAX_MESSAGE:
        msg = msg[: MAX_MESSAGE - 3] + "..."
    return {"loc": loc, "msg": msg, "type": type_}


def describe(exc: Exception) -> tuple[int, list[dict[str, Any]]] | None:
    """The status and problems of an error in what the client sent; None for anything else."""
    if isinstance(exc, ValidationError):
        errors = [dict(e) for e in exc.errors(include_url=False, include_input=False)]
        return validation_failed(errors_of_intended_choice(errors), prefix=["body"])
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


def validation_failed(
    errors: Sequence[dict[str, Any]], prefix: Loc
) -> tuple[int, list[dict[str, Any]]]:
    """Pydantic's errors as the problems of a 422 (400 for a body that is not JSON at all)."""
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
    # a key the client made up is part of the place: quoted as an excerpt, like any input
    path: Loc = [_quoted(part) for part in error["loc"] if part not in UNION_TAGS]
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":  # Pydantic's message quotes the input, at any length
        ctx = error.get("ctx", {})
        given = str(ctx.get("tag", ""))
        name = f" '{given}'" if len(given) <= MAX_QUOTED else ""
        msg = f"unknown name{name}: expected one of {ctx.get('expected_tags', '')}"
    inside_body = path[1:] if path[:1] == ["body"] else path
    if inside_body:
        msg = f"{_dotted(inside_body)}: {msg}"
    return problem([*prefix, *path], msg, str(error["type"]))


def _quoted(part: str | int) -> str | int:
    return excerpt(part) if isinstance(part, str) else part


def _dotted(path: Loc) -> str:
    """["network", "layers", 0, "weights"] -> "network.layers[0].weights"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
