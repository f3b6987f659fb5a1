"""Where a tiny request's CPU goes, in-process: each part timed alone, then the whole ASGI app.

    .venv/bin/python -m bench.tiny_parts

The rows of docs/performance.md's "Tiny requests" table: the contract's 2-3-2 example (docs/api.md)
validated, its engine objects built, the engine's backprop, the answer's dict and its JSON, and the
whole app (its middleware, FastAPI's routing and dependencies and all) on a fresh request each
time, with no server around it. The minimum of five repeats of 20,000 calls each, in microseconds.
"""

from __future__ import annotations

from bench.servers import pin_threads

pin_threads()  # before NumPy is imported

import timeit  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import uvloop  # noqa: E402

from app import services  # noqa: E402
from app.compression import GzipAnswerMiddleware, GzipRequestMiddleware  # noqa: E402
from app.dependencies import make_pipeline  # noqa: E402
from app.main import create_app  # noqa: E402
from app.metrics import MetricsMiddleware  # noqa: E402
from app.request_ids import RequestIdMiddleware  # noqa: E402
from bench.workloads import tiny  # noqa: E402
from schemas import BackpropRequest, backprop_payload, conventions_payload, convert  # noqa: E402

CALLS = 20_000
REPEATS = 5


def microseconds(call: Callable[[], object]) -> float:
    call()
    return min(timeit.repeat(call, number=CALLS, repeat=REPEATS)) / CALLS * 1e6


def main() -> None:
    body = tiny().body
    app = create_app()
    context = make_pipeline(app.state.settings).context
    request = BackpropRequest.model_validate_json(body, context=context)
    problem = convert.problem(request)
    result = problem.solve()

    def payload() -> dict[str, Any]:
        return backprop_payload(
            result,
            single_sample=request.single_sample,
            conventions=conventions_payload(convert.conventions(request), problem.loss),
        )

    answer = services.backprop(request)
    parts = {
        "Pydantic validation, shape checks included": lambda: BackpropRequest.model_validate_json(
            body, context=context
        ),
        "building the engine's objects (activations, loss, targets)": lambda: convert.problem(
            request
        ),
        "the engine's backprop": problem.solve,
        "the answer's dict": payload,
        "orjson writing it": lambda: services.dumps(answer),
    }
    for name, call in parts.items():
        print(f"{microseconds(call):7.1f} us  {name}")
    print(f"{whole_app(app, body):7.1f} us  all of it through the whole ASGI app")
    with_them, without = operations_middleware(body)
    print(
        f"{with_them - without:7.1f} us  of which the operations middleware (request ids, "
        f"metrics, gzip both ways): {with_them:.1f} us with it, {without:.1f} us without "
        f"({without / with_them:.2f}x)"
    )


OPERATIONS_MIDDLEWARE = (
    GzipAnswerMiddleware,
    GzipRequestMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
)


def operations_middleware(body: bytes) -> tuple[float, float]:
    """The whole app as served, and the same app with the middleware of operations left out,
    timed in alternating rounds: microseconds per tiny request for each, the best round."""
    served = create_app()
    bare = create_app()
    operations: tuple[object, ...] = OPERATIONS_MIDDLEWARE
    bare.user_middleware = [m for m in bare.user_middleware if m.cls not in operations]
    rounds = [(whole_app(served, body), whole_app(bare, body)) for _ in range(3)]
    return min(r[0] for r in rounds), min(r[1] for r in rounds)


def whole_app(app: Any, body: bytes) -> float:
    """The app called as uvicorn calls it, a fresh scope each time; sends go nowhere."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {"type": "http", "method": "POST", "path": "/v1/backprop", "root_path": "",
             "headers": headers, "query_string": b"", "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def requests(n: int) -> float:
        start = loop.time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (loop.time() - start) / n * 1e6

    loop = uvloop.new_event_loop()
    loop.run_until_complete(requests(CALLS // 10))  # warm up
    best = min(loop.run_until_complete(requests(CALLS)) for _ in range(REPEATS))
    loop.close()
    return best


if __name__ == "__main__":
    main()
