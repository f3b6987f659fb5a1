"""Client and AsyncClient: the service's endpoints as methods, on httpx.

    with Client("http://127.0.0.1:8000") as client:
        result = client.backprop(problem)

Both send what endpoints.py builds, with the same policy: a 503 (the server is busy) is retried
up to ``max_retries`` times, each after the Retry-After the service sends (or a short backoff
when it sends none); a Retry-After longer than ``max_retry_wait`` is not waited for. Every other
error answer raises at once (errors.py).
"""

from __future__ import annotations

import email.utils
import functools
import json
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import anyio
import httpx
from typing_extensions import Self  # typing.Self from Python 3.11 on

from backprop_client import endpoints
from backprop_client.endpoints import Call
from backprop_client.errors import ServiceBusyError, TransportError, details_of, error_for

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json",
    "user-agent": "backprop-client/1.0",
}

try:  # orjson (a dependency of the server) reads and writes JSON lists of numbers 3-5x faster
    import orjson

    def dumps(payload: Any) -> bytes:
        return orjson.dumps(payload)

    def loads(content: bytes) -> Any:
        return orjson.loads(content)

except ImportError:  # pragma: no cover - the standard library does the same, more slowly

    def dumps(payload: Any) -> bytes:
        return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()

    def loads(content: bytes) -> Any:
        return json.loads(content)


@dataclass(frozen=True)
class _Wait:
    seconds: float


@dataclass(frozen=True)
class _Answer(Generic[T]):
    value: T


@dataclass(frozen=True)
class RetryPolicy:
    """How a 503 is retried: at most ``max_retries`` more times, waiting at most
    ``max_retry_wait`` seconds each time; ``backoff`` * 2^n seconds when there is no Retry-After."""

    max_retries: int = 3
    max_retry_wait: float = 30.0
    backoff: float = 0.5

    def conclude(self, call: Call[T], response: httpx.Response, attempt: int) -> _Answer[T] | _Wait:
        """The answer of a call, or how long to wait before sending it again; or raise."""
        status = response.status_code
        if status == 503 and call.if_unavailable is not None:
            return _Answer(call.if_unavailable())
        body = _json(response)
        if status == 200:
            return _Answer(call.read(body))
        if status != 503:
            raise error_for(status, body)
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        wait = self.backoff * 2 ** (attempt - 1) if retry_after is None else retry_after
        if attempt > self.max_retries or wait > self.max_retry_wait:
            raise ServiceBusyError(
                status, details_of(body), retry_after=retry_after, attempts=attempt
            )
        return _Wait(wait)


def _json(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return {"detail": response.text[:300] or response.reason_phrase}


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds: "120", or an HTTP date; None when absent or unreadable."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


_COMPRESSED = {**HEADERS, "accept-encoding": "gzip"}
_PLAIN = {**HEADERS, "accept-encoding": "identity"}


def _request(call: Call[Any], compress: bool) -> dict[str, Any]:
    headers = _COMPRESSED if compress else _PLAIN
    if call.body is None:
        return {"headers": headers}
    return {"headers": headers, "content": dumps(call.body)}


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(build)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))

    return method


def _async(
    build: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(build)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))

    return method


class Client:
    """The service's endpoints as methods, over one keep-alive connection pool (httpx.Client).

    base_url: where the service answers; timeout: seconds for each request (a large grading
    batch can take several); retry: how a 503 is retried. http: an httpx.Client of your own
    (its base_url is then used, and it is not closed by this client). compress: ask for gzip
    answers; off by default, since compressing and inflating a large answer costs more time
    than it saves on a local network or loopback (the service compresses answers of 4 KiB and
    more for clients that accept gzip, as httpx does unless told otherwise); turn it on over a
    slow link.
    Each method takes the arguments of its function in backprop_client.endpoints and returns
    what its answer holds; errors raise BackpropClientError (see backprop_client.errors).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        compress: bool = False,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.compress = compress
        self._own = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)

    def send(self, call: Call[T]) -> T:
        """Send a call, retrying on 503 as the retry policy says, and read its answer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.request(
                    call.method, call.path, **_request(call, self.compress)
                )
            except httpx.TransportError as error:
                raise TransportError(f"{call.method} {call.path}: {error}") from error
            outcome = self.retry.conclude(call, response, attempt)
            if isinstance(outcome, _Answer):
                return outcome.value
            time.sleep(outcome.seconds)

    backprop = _sync(endpoints.backprop)
    forward = _sync(endpoints.forward)
    grade = _sync(endpoints.grade)
    grade_results = _sync(endpoints.grade_results)
    grade_batch = _sync(endpoints.grade_batch)
    gradcheck = _sync(endpoints.gradcheck)
    problems = _sync(endpoints.problems)
    derivatives = _sync(endpoints.derivatives)
    derivatives_grade = _sync(endpoints.derivatives_grade)
    derivatives_descent = _sync(endpoints.derivatives_descent)
    activations = _sync(endpoints.activations)
    losses = _sync(endpoints.losses)
    limits = _sync(endpoints.limits)
    conventions = _sync(endpoints.conventions)
    version = _sync(endpoints.version)
    healthz = _sync(endpoints.healthz)
    readyz = _sync(endpoints.readyz)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """Client's methods as coroutines, on httpx.AsyncClient (asyncio or trio); the same
    arguments as Client."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        compress: bool = False,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.compress = compress
        self._own = http is None
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def send(self, call: Call[T]) -> T:
        """Send a call, retrying on 503 as the retry policy says, and read its answer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.http.request(
                    call.method, call.path, **_request(call, self.compress)
                )
            except httpx.TransportError as error:
                raise TransportError(f"{call.method} {call.path}: {error}") from error
            outcome = self.retry.conclude(call, response, attempt)
            if isinstance(outcome, _Answer):
                return outcome.value
            await anyio.sleep(outcome.seconds)

    backprop = _async(endpoints.backprop)
    forward = _async(endpoints.forward)
    grade = _async(endpoints.grade)
    grade_results = _async(endpoints.grade_results)
    grade_batch = _async(endpoints.grade_batch)
    gradcheck = _async(endpoints.gradcheck)
    problems = _async(endpoints.problems)
    derivatives = _async(endpoints.derivatives)
    derivatives_grade = _async(endpoints.derivatives_grade)
    derivatives_descent = _async(endpoints.derivatives_descent)
    activations = _async(endpoints.activations)
    losses = _async(endpoints.losses)
    limits = _async(endpoints.limits)
    conventions = _async(endpoints.conventions)
    version = _async(endpoints.version)
    healthz = _async(endpoints.healthz)
    readyz = _async(endpoints.readyz)

    async def aclose(self) -> None:
        if self._own:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
