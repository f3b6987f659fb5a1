"""The bare ASGI app: reads the body and sends a fixed answer, doing nothing else.

    python -m bench.bare_app [serve options]

serves it with exactly the uvicorn settings of ``backprop-service serve`` (app.cli), so that the
only difference between the servers the benchmark compares is the application. It has two uses:

- the ceiling for tiny requests (bench/tiny.py): POST / answers a 27-byte JSON object;
- the HTTP part of the large request's floor (bench/large.py): POST /transfer with an
  ``X-Answer-Bytes: N`` header answers N bytes, so that the same bytes as the service's request
  and answer cross the same uvicorn, and nothing else happens to them.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.types import Receive, Scope, Send

from app import cli

BODY = b'{"loss":0.4322205622951505}'
ANSWER_BYTES = b"x-answer-bytes"


def _headers(length: int) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % length)]


HEADERS = _headers(len(BODY))
_transfers: dict[int, bytes] = {}
"""The answer of each size asked for, made once."""


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start
        return
    more_body = True
    while more_body:
        more_body = (await receive()).get("more_body", False)
    if scope["path"] == "/transfer":
        size = int(dict(scope["headers"])[ANSWER_BYTES])
        answer = _transfers.get(size) or _transfers.setdefault(size, b"0" * size)
        await send({"type": "http.response.start", "status": 200, "headers": _headers(size)})
        await send({"type": "http.response.body", "body": answer})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    args = cli.build_parser().parse_args(["serve", *sys.argv[1:]])
    uvicorn.run("bench.bare_app:app", **cli.uvicorn_options(args))


if __name__ == "__main__":
    main()
