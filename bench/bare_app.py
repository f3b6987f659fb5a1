"""The ceiling for tiny requests: an ASGI app that reads the body and sends a fixed answer.

    python -m bench.bare_app [serve options]

serves it with exactly the uvicorn settings of ``backprop-service serve`` (app.cli), so that the
only difference between the two servers the benchmark compares is the application.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.types import Receive, Scope, Send

from app import cli

BODY = b'{"loss":0.4322205622951505}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start
        return
    more_body = True
    while more_body:
        more_body = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    args = cli.build_parser().parse_args(["serve", *sys.argv[1:]])
    uvicorn.run("bench.bare_app:app", **cli.uvicorn_options(args))


if __name__ == "__main__":
    main()
