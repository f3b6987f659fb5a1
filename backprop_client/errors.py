"""The errors the client raises: one tree, rooted at BackpropClientError.

    BackpropClientError         anything the client raises
    ├── TransportError          no answer: the connection failed or timed out (httpx's error
    │                           is the __cause__)
    └── ServiceError            the service answered with an error: status_code, and details,
        │                       its located messages {"loc", "msg", "type"}
        ├── InvalidRequestError      400 (not JSON) or 422 (not valid: the message says what, where)
        ├── PayloadTooLargeError     413: over a size limit of the service (GET /v1/limits)
        └── ServiceBusyError         503 after the retries: retry_after, attempts

A 503 is retried (a bounded number of times, after the Retry-After the service sends) before
ServiceBusyError is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One located message of an error answer, as FastAPI writes it.

    loc: where, e.g. ("body", "network", "layers", 1, "weights"); msg: what, in words;
    type: its kind, e.g. "shape_mismatch".
    """

    loc: tuple[str | int, ...]
    msg: str
    type: str

    @property
    def where(self) -> str:
        """loc as a path in the request: "network.layers[1].weights" ("" for the whole body)."""
        path = ""
        for part in self.loc[1:] if self.loc[:1] == ("body",) else self.loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
        return path

    def __str__(self) -> str:
        return f"{self.where}: {self.msg}" if self.where else self.msg


class BackpropClientError(Exception):
    """Anything the client raises."""


class TransportError(BackpropClientError):
    """No answer from the service: the connection failed or timed out."""


class ServiceError(BackpropClientError):
    """The service answered with an error status.

    status_code: the HTTP status; details: its located messages, in the service's order.
    """

    def __init__(self, status_code: int, details: Sequence[ErrorDetail]) -> None:
        self.status_code = status_code
        self.details = tuple(details)
        lines = "; ".join(str(d) for d in self.details) or "no details"
        super().__init__(f"HTTP {status_code}: {lines}")

    @property
    def messages(self) -> list[str]:
        """Each located message as one line: "network.layers[1].weights: has 2 rows but ..."."""
        return [str(d) for d in self.details]


class InvalidRequestError(ServiceError):
    """400: the body is not JSON; 422: the request is not valid (the details say where)."""


class PayloadTooLargeError(ServiceError):
    """413: the request is over one of the service's size limits."""


class ServiceBusyError(ServiceError):
    """503, still, after the client's retries (or with a Retry-After longer than it may wait).

    retry_after: the seconds the service asked to wait, when it said; attempts: requests sent.
    """

    def __init__(
        self,
        status_code: int,
        details: Sequence[ErrorDetail],
        *,
        retry_after: float | None,
        attempts: int,
    ) -> None:
        super().__init__(status_code, details)
        self.retry_after = retry_after
        self.attempts = attempts


def details_of(body: Any) -> list[ErrorDetail]:
    """The located messages of an error answer's JSON (any other JSON becomes one message)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return [
            ErrorDetail(tuple(d.get("loc", ())), str(d.get("msg", "")), str(d.get("type", "error")))
            for d in detail
            if isinstance(d, dict)
        ]
    return [ErrorDetail((), str(detail if detail is not None else body), "error")]


def error_for(status_code: int, body: Any) -> ServiceError:
    """The exception for an error answer (503 is raised by the retry loop, not here)."""
    details = details_of(body)
    if status_code in (400, 422):
        return InvalidRequestError(status_code, details)
    if status_code == 413:
        return PayloadTooLargeError(status_code, details)
    return ServiceError(status_code, details)
