"""The request being answered, as any layer may need to know it: its id, and the limit it hit.

RequestIdMiddleware (app/request_ids.py) starts a ``RequestRecord`` for every HTTP request in
a context variable, so that it follows the request into its routes, its dependencies, its
exception handlers and its compute threads (anyio copies the context into a worker thread):

    request_id()        the request's id, for an error answer's body and for every log line
                        (app/logs.py); None outside a request
    note_refusal(name)  an error handler says which limit refused the request (max_body_bytes,
                        max_in_flight, ...), for the metrics (MetricsMiddleware)

Standard library only: app/errors.py imports it, and the offline commands import app/errors.py.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    refused_by: str | None = None
    """the limit that refused the request, when one did"""


_current: ContextVar[RequestRecord | None] = ContextVar("backprop_request", default=None)


def begin(record: RequestRecord) -> Token[RequestRecord | None]:
    return _current.set(record)


def end(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)


def current() -> RequestRecord | None:
    return _current.get()


def request_id() -> str | None:
    """The id of the request being answered, None outside one."""
    record = _current.get()
    return None if record is None else record.request_id


def note_refusal(limit: str) -> None:
    """Record that the request was refused by this limit (nothing outside a request)."""
    record = _current.get()
    if record is not None:
        record.refused_by = limit
