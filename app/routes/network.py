"""POST /v1/forward and POST /v1/backprop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import services
from app.dependencies import pipeline_of
from app.openapi import ERROR_RESPONSES, openapi_body
from schemas import (
    SPEC_EXAMPLE,
    SPEC_FORWARD_EXAMPLE,
    BackpropRequest,
    BackpropResponse,
    ForwardRequest,
    ForwardResponse,
)

router = APIRouter(prefix="/v1", tags=["network"])


@router.post(
    "/backprop",
    summary="Forward pass, loss, backpropagation and one gradient step",
    response_model=BackpropResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=openapi_body(BackpropRequest, SPEC_EXAMPLE),
)
async def backprop(request: Request) -> Response:
    """Every layer's z, a and delta, the weight and bias gradients and the updated parameters."""
    return await pipeline_of(request).answer(
        request, BackpropRequest, services.backprop, cost=BackpropRequest.cost
    )


@router.post(
    "/forward",
    summary="Forward pass, and the loss when targets are given",
    response_model=ForwardResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=openapi_body(ForwardRequest, SPEC_FORWARD_EXAMPLE),
)
async def forward(request: Request) -> Response:
    """Every layer's z and a, the outputs, and the loss when targets are given."""
    return await pipeline_of(request).answer(
        request, ForwardRequest, services.forward, cost=ForwardRequest.cost
    )
