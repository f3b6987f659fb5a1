"""Every request goes through FastAPI's own machinery, so what its guides show applies to every
endpoint: a middleware added with app.add_middleware, a dependency given to include_router or
to the app, an exception handler added with app.add_exception_handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.main import ROUTERS, create_app
from app.routes import grading, network
from engine import NonFiniteError
from schemas import SPEC_EXAMPLE, SPEC_FORWARD_EXAMPLE

pytestmark = pytest.mark.anyio

ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/backprop", SPEC_EXAMPLE),
    ("POST", "/v1/forward", SPEC_FORWARD_EXAMPLE),
    ("POST", "/v1/grade", grading.GRADE_EXAMPLE),
    ("POST", "/v1/grade/batch", grading.BATCH_EXAMPLE),
    ("POST", "/v1/gradcheck", grading.GRADCHECK_EXAMPLE),
    ("POST", "/v1/problems", grading.PROBLEM_EXAMPLE),
    ("POST", "/v1/derivatives", {"expression": "x^2", "point": {"x": 3}}),
    ("POST", "/v1/derivatives/grade", {"function": "x^2", "answer": "2*x"}),
    ("POST", "/v1/derivatives/descent", {"expression": "x^2", "start": {"x": 1},
                                         "learning_rate": 0.1}),
    ("GET", "/v1/activations", None),
    ("GET", "/v1/losses", None),
    ("GET", "/v1/conventions", None),
    ("GET", "/v1/limits", None),
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
]  # fmt: skip
IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


class Stamp:
    """A pure-ASGI middleware, as a deployer would add one: it stamps every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-stamped", b"yes")]
            await send(message)

        await self.app(scope, receive, stamped)


async def ask(app: FastAPI, method: str, path: str, body: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, json=body)


@pytest.fixture
async def started() -> AsyncIterator[FastAPI]:
    """An app of create_app, its start-up (self-check, SymPy workers) done."""
    app = create_app(Settings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
async def test_a_middleware_added_the_usual_way_runs_on_every_endpoint(
    started: FastAPI, method: str, path: str, body: Any
) -> None:
    started.add_middleware(Stamp)
    response = await ask(started, method, path, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-stamped"] == "yes"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
async def test_dependencies_given_to_include_router_run_on_every_endpoint(
    method: str, path: str, body: Any
) -> None:
    """Each router included into an app of one's own, once with a dependency that records the
    request and once with one that refuses it, as an authentication check would."""
    seen: list[str] = []

    async def record(request: Request) -> None:
        seen.append(request.url.path)

    async def deny() -> None:
        raise HTTPException(403, "not allowed")

    recording, denying = FastAPI(), FastAPI()
    for router in ROUTERS:
        recording.include_router(router, dependencies=[Depends(record)])
        denying.include_router(router, dependencies=[Depends(deny)])
    answered = await ask(recording, method, path, body)
    refused = await ask(denying, method, path, body)
    assert answered.status_code == 200, answered.text
    assert seen == [path]
    assert refused.status_code == 403


async def test_the_router_of_the_main_endpoint_can_be_included_again_guarded() -> None:
    """create_app's app, with a middleware, and the router that serves /v1/backprop included a
    second time under a prefix with a denying dependency: the middleware runs on both, the
    dependency guards only the second."""

    async def deny() -> None:
        raise HTTPException(403, "not allowed")

    app = create_app(Settings())
    app.add_middleware(Stamp)
    app.include_router(network.router, prefix="/guarded", dependencies=[Depends(deny)])
    open_ = await ask(app, "POST", "/v1/backprop", SPEC_EXAMPLE)
    guarded = await ask(app, "POST", "/guarded/v1/backprop", SPEC_EXAMPLE)
    assert (open_.status_code, guarded.status_code) == (200, 403)
    assert open_.headers["x-stamped"] == guarded.headers["x-stamped"] == "yes"
    assert guarded.json() == {"detail": [{"loc": [], "msg": "not allowed", "type": "http_403"}]}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
async def test_create_apps_dependencies_guard_every_endpoint(
    method: str, path: str, body: Any
) -> None:
    async def check_token(request: Request) -> None:
        if request.headers.get("authorization") != "Bearer letmein":
            raise HTTPException(401, "a token is needed")

    app = create_app(Settings(), dependencies=[Depends(check_token)])
    refused = await ask(app, method, path, body)
    assert refused.status_code == 401
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        answered = await client.request(
            method, path, json=body, headers={"authorization": "Bearer letmein"}
        )
    assert answered.status_code == 200, answered.text


async def test_an_exception_handler_added_the_usual_way_answers_the_main_endpoint() -> None:
    """A learning rate that overflows the step raises NonFiniteError in the engine; a handler
    added with add_exception_handler, not the service's own, answers it."""

    async def teapot(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NonFiniteError)
        return JSONResponse({"quantity": exc.quantity}, status_code=418)

    app = create_app(Settings())
    app.add_exception_handler(NonFiniteError, teapot)
    overflowing = {**SPEC_EXAMPLE, "learning_rate": 1e308, "targets": [[1e10, -1e10]]}
    response = await ask(app, "POST", "/v1/backprop", overflowing)
    assert response.status_code == 418
    assert response.json() == {"quantity": "updated_weights"}
