"""The framework floors of the tiny request: each app's path with the work taken out.

    python -m bench.floor_apps {service,plain} [serve options]

Each answers POST /v1/backprop with the bytes of the service's answer to the contract's 2-3-2
example, made once at start-up, after reading the body, and does nothing else:

    service  create_app()'s app as served (every middleware, the included routers, the error
             handlers), with that route in front of the service's own
    plain    a bare FastAPI() with that route on the app, as bench/plain_app.py has its route

So the server CPU of a floor is what a tiny request costs before any validation or maths, and a
server's CPU less its floor's is the work its route does (bench/tiny_split.py). Served with
exactly the uvicorn settings of ``backprop-service serve``, like every server of the benchmark.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from app import cli, services
from app.main import create_app
from bench.workloads import tiny
from schemas import BackpropRequest

ANSWER = services.dumps(services.backprop(BackpropRequest.model_validate_json(tiny().body)))


async def answer(request: Request) -> Response:
    """The body read, the answer written: what every route does around its work."""
    await request.body()
    return Response(ANSWER, media_type="application/json")


def service_floor() -> FastAPI:
    app = create_app()
    router = APIRouter(prefix="/v1")
    router.post("/backprop")(answer)
    app.include_router(router)
    app.router.routes.insert(0, app.router.routes.pop())  # tried before the service's own
    return app


def plain_floor() -> FastAPI:
    app = FastAPI()
    app.post("/v1/backprop")(answer)
    return app


FLOORS = {"service": service_floor, "plain": plain_floor}


def main() -> None:
    kind, *options = sys.argv[1:]
    args = cli.build_parser().parse_args(["serve", *options])
    uvicorn.run(FLOORS[kind](), **cli.uvicorn_options(args))


if __name__ == "__main__":
    main()
