"""gzip both ways: request bodies sent gzip-compressed read inflated; large answers compressed.

GzipRequestMiddleware sits outside BodyLimitMiddleware (create_app adds it after), so that every
body limit counts the decompressed bytes, the bytes that are parsed and held: it takes the
request's Content-Encoding and Content-Length away (the length was the compressed one) and hands
on a ``receive`` that inflates the body as it is read, at most CHUNK bytes at a time. So a
decompression bomb (1 GB of zeros is 1 MB of gzip) is refused with BodyLimitMiddleware's 413,
which names the limit, as soon as its inflated bytes pass the limit, and nothing is allocated
beyond the limit and one chunk.

    Content-Encoding          what happens
    (none), identity          the body as sent
    gzip, x-gzip              inflated as read; a body that is not gzip, or ends before its
                              gzip stream does, is a 400 (type content_encoding_invalid)
    anything else (br, ...)   415 (unsupported_content_encoding), with Accept-Encoding: gzip
                              in the answer, as RFC 9110 suggests

Several gzip members one after another (as ``cat a.gz b.gz`` makes) are one body, as gzip -d
reads them.

Answers are compressed by Starlette's GZipMiddleware, for clients whose Accept-Encoding names
gzip, when they are at least ``minimum_size`` bytes; GzipAnswerMiddleware is that middleware
handing a request whose client does not accept gzip straight to the app, where Starlette would
make a responder and parse the answer's headers for each (7 to 10 us of a tiny request's 170 us
here). Such an answer is sent as Starlette would send it, but for the ``Vary: Accept-Encoding``
Starlette adds to a large uncompressed answer (needed by no cache: the compressed answers carry
it).
"""

from __future__ import annotations

import zlib

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import refuse

CHUNK = 64 * 1024
"""The most bytes inflated at once: what one read of the body can add to memory."""

_GZIP = zlib.MAX_WBITS | 16
"""zlib's window bits for the gzip format (header and CRC-32 trailer)."""

_ENCODINGS = {b"gzip": True, b"x-gzip": True, b"identity": False}
"""Content-Encoding values taken, and whether the body is to be inflated."""


class InvalidEncoding(HTTPException):
    """The body is not the gzip stream its Content-Encoding says: a 400."""

    def __init__(self, why: str) -> None:
        super().__init__(400, f"the body is sent with Content-Encoding: gzip, but {why}")
        self.type = "content_encoding_invalid"


class UnsupportedEncoding(HTTPException):
    def __init__(self, encoding: str) -> None:
        shown = encoding if len(encoding) <= 40 else encoding[:37] + "..."
        super().__init__(
            415,
            f"the body's Content-Encoding {shown!r} is not one the service reads: send it as "
            "it is, or gzip-compressed (Content-Encoding: gzip)",
            headers={"accept-encoding": "gzip"},
        )
        self.type = "unsupported_content_encoding"


class GzipRequestMiddleware:
    """Inflate gzip-compressed request bodies as they are read (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = None
        for name, value in scope["headers"]:
            if name == b"content-encoding":
                encoding = value
                break
        if encoding is None:
            await self.app(scope, receive, send)
            return
        inflate = _ENCODINGS.get(encoding.strip().lower())
        if inflate is None:
            await refuse(UnsupportedEncoding(encoding.decode("latin-1")), scope, receive, send)
            return
        if not inflate:
            await self.app(scope, receive, send)
            return
        # the length was the compressed one: the body limits count the inflated bytes as read
        scope["headers"] = [(n, v) for n, v in scope["headers"]
                            if n not in (b"content-encoding", b"content-length")]  # fmt: skip
        await self.app(scope, _Inflated(receive), send)


class _Inflated:
    """A ``receive`` that gives the request's body inflated, at most CHUNK bytes a message."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.inflater = zlib.decompressobj(_GZIP)
        self.pending = b""  # compressed bytes not yet inflated
        self.more = True  # more of the body is to come
        self.done = False

    async def __call__(self) -> Message:
        if self.done:  # after the body: the client's disconnect, say
            return await self.receive()
        while True:
            if self.pending:
                inflated = self._inflate()
                if inflated:
                    return {"type": "http.request", "body": inflated, "more_body": True}
                continue
            if not self.more:
                if not self.inflater.eof:
                    raise InvalidEncoding("its gzip stream ends before its end (truncated)")
                self.done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await self.receive()
            if message["type"] != "http.request":
                return message
            self.pending = message.get("body", b"")
            self.more = message.get("more_body", False)

    def _inflate(self) -> bytes:
        try:
            if self.inflater.eof:  # the end of one member: another follows
                self.inflater = zlib.decompressobj(_GZIP)
            inflated = self.inflater.decompress(self.pending, CHUNK)
        except zlib.error:
            raise InvalidEncoding("it is not gzip-compressed data") from None
        self.pending = self.inflater.unconsumed_tail or self.inflater.unused_data
        return inflated


class GzipAnswerMiddleware(GZipMiddleware):
    """Starlette's GZipMiddleware, for the requests whose client accepts gzip only."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _accepts_gzip(scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _accepts_gzip(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether Accept-Encoding names gzip, as Starlette's GZipMiddleware reads it."""
    for name, value in headers:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False
