"""The endpoints, one APIRouter per group, included by ``create_app`` in ROUTERS' order.

A body endpoint is an ordinary route: it takes the ``Request`` and hands it to the pipeline with
its model, its service function and (when its work can be estimated from its shapes) its cost,

    async def backprop(request: Request) -> Response:
        return await pipeline_of(request).answer(
            request, BackpropRequest, services.backprop, cost=BackpropRequest.cost
        )

and documents its body with ``openapi_body`` (app/openapi.py). It holds no logic of its own: what
the endpoint computes is its function in app/services.py, which the CLI calls too.
"""
