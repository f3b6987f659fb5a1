"""GET /metrics: the service's Prometheus metrics (app/metrics.py), for a Prometheus scraper.

Answered in Prometheus' text format, or in OpenMetrics when the scraper asks for it; left out of
the OpenAPI document (it is not JSON), and always admitted, as the health probes are, so that a
busy server can still be watched. BACKPROP_METRICS_ENABLED=false leaves the route out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.metrics import Metrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Every metric of the app, of every worker process when there are several."""
    found: Metrics = request.app.state.metrics
    body, content_type = found.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
