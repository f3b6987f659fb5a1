"""The HTTP layer of backprop-service: FastAPI routes over the schemas and the engine.

One way in. Every request goes through FastAPI's own machinery: its middleware stack (where
``create_app`` adds admission, the body limit and CORS with ``app.add_middleware``, and where a
deployer's middleware goes), its router and the routers' dependencies, ordinary routes, and the
exception handlers ``app/errors.py`` registers. Nothing here dispatches around the router or
overrides FastAPI or Starlette internals, so a middleware, an auth dependency or an exception
handler added the way FastAPI's guides show applies to every endpoint (tests/test_one_way_in.py).

The layers, one direction: app (HTTP) -> app/services.py (a validated request in, a payload out)
-> schemas/convert.py (request to engine objects) -> engine (the maths) -> schemas (the answer's
shape) -> back out through the route. The speed is in what a route does, not in skipping the
framework: the body validated straight from its bytes, arrays written by orjson, tiny work done
on the event loop and the rest in a bounded compute pool (app/pipeline.py).
"""
