"""POST /v1/forward and POST /v1/backprop."""

from __future__ import annotations

from fastapi import APIRouter

import engine
from app.openapi import ERROR_RESPONSES
from app.pipeline import BodyRoute, Payload, answers
from schemas import (
    SPEC_EXAMPLE,
    SPEC_FORWARD_EXAMPLE,
    BackpropRequest,
    BackpropResponse,
    ForwardRequest,
    ForwardResponse,
    backprop_payload,
    conventions_payload,
    forward_payload,
)
from schemas.explanations import explanation_payload
from schemas.grading import backprop_problem

router = APIRouter(prefix="/v1", tags=["network"], route_class=BodyRoute)


@router.post(
    "/backprop",
    summary="Forward pass, loss, backpropagation and one gradient step",
    response_model=BackpropResponse,
    responses=ERROR_RESPONSES,
)
@answers(BackpropRequest, example=SPEC_EXAMPLE)
def backprop(req: BackpropRequest) -> Payload:
    """Every layer's z, a and delta, the weight and bias gradients and the updated parameters."""
    return compute_backprop(req)


@router.post(
    "/forward",
    summary="Forward pass, and the loss when targets are given",
    response_model=ForwardResponse,
    responses=ERROR_RESPONSES,
)
@answers(ForwardRequest, example=SPEC_FORWARD_EXAMPLE)
def forward(req: ForwardRequest) -> Payload:
    """Every layer's z and a, the outputs, and the loss when targets are given."""
    return compute_forward(req)


def compute_backprop(req: BackpropRequest) -> Payload:
    problem = backprop_problem(req)
    result = problem.solve()
    explanation = (
        explanation_payload(
            problem, result, sample=req.explain_sample, single_sample=req.single_sample
        )
        if req.explain
        else None
    )
    return backprop_payload(
        result,
        single_sample=req.single_sample,
        conventions=conventions_payload(req.resolved_conventions, problem.loss),
        arrays=req.array_encoding,
        explanation=explanation,
    )


def compute_forward(req: ForwardRequest) -> Payload:
    conventions = req.resolved_conventions
    loss = req.build_loss(conventions)
    network = req.build_network(conventions)
    fwd = engine.forward(network, req.samples)
    loss_value = (
        None if req.targets is None else engine.evaluate_loss(network, fwd, req.target_rows(), loss)
    )
    return forward_payload(
        fwd,
        loss_value,
        single_sample=req.single_sample,
        conventions=conventions_payload(conventions, loss),
        arrays=req.array_encoding,
    )
