"""Requests as the engine's objects: the one conversion from the contract to the maths.

Every validated request that reaches the engine goes through here and nowhere else: its
conventions resolved, its layers built as ``engine.DenseLayer``s with their activations, its
loss, its samples as rows, its targets as rows (class indices made one-hot). The service layer
(app/services.py) calls these functions; the request models themselves build nothing.
"""

from __future__ import annotations

from functools import cache

import numpy as np

import engine
from engine.grading import Grader, Points, Tolerance, all_items
from engine.problems import ProblemParameters
from engine.types import FloatArray
from schemas.grading import GradingOptions
from schemas.problems import ProblemRequest
from schemas.requests import BackpropRequest, Layout, NetworkRequest, Preset


def conventions(req: NetworkRequest) -> engine.Conventions:
    """The preset with the request's overrides applied."""
    return _conventions(req.conventions, req.weight_layout, req.relu_grad_at_zero)


@cache  # 3 presets x 3 layouts x 3 kink conventions at most
def _conventions(
    preset: Preset, weight_layout: Layout | None, relu_grad_at_zero: int | None
) -> engine.Conventions:
    return engine.PRESETS[engine.Preset(preset)].with_overrides(
        weight_layout=None if weight_layout is None else engine.WeightLayout(weight_layout),
        relu_grad_at_zero=None if relu_grad_at_zero is None else (1 if relu_grad_at_zero else 0),
    )


def network(req: NetworkRequest, used: engine.Conventions) -> engine.Network:
    """The request's layers, each activation built under the conventions in force."""
    layers = tuple(
        engine.DenseLayer(
            layer.weights,
            layer.biases,
            engine.make_activation(layer.activation.name, layer.activation.params(), used),
        )
        for layer in req.network.layers
    )
    return engine.Network(layers, used.weight_layout)


def loss(req: NetworkRequest, used: engine.Conventions) -> engine.Loss:
    """The request's loss; parameters it leaves out take the conventions' defaults."""
    return engine.make_loss(req.loss.name, req.loss.params(), used)


def samples(req: NetworkRequest) -> FloatArray:
    """The inputs as rows, shape (n_samples, n_0)."""
    return req.inputs.reshape(1, -1) if req.single_sample else req.inputs


def target_rows(req: NetworkRequest) -> FloatArray:
    """The targets as rows, shape (n_samples, n_L); class indices become one-hot rows."""
    targets = req.targets
    assert targets is not None, "target_rows needs targets"
    if isinstance(targets, np.ndarray):
        return targets.reshape(1, -1) if targets.ndim == 1 else targets
    if isinstance(targets, list) and req.single_sample:
        return np.array([targets], dtype=np.float64)
    classes = [targets] if isinstance(targets, int) else targets
    return engine.one_hot(np.array(classes), req.widths()[-1])


def problem(req: NetworkRequest, learning_rate: float = 0.0) -> engine.BackpropProblem:
    """The request as the engine's problem: network, samples, target rows, loss and step.

    A /v1/backprop request gives its own learning rate and direction; a /v1/gradcheck request,
    which takes no step, the default of 0.
    """
    used = conventions(req)
    if isinstance(req, BackpropRequest):
        learning_rate = req.learning_rate
    return engine.BackpropProblem(
        network(req, used),
        samples(req),
        target_rows(req),
        loss(req, used),
        learning_rate,
        isinstance(req, BackpropRequest) and req.ascent,
    )


def grader(options: GradingOptions) -> Grader:
    """The grader of a grading request's problem under its options (solves the problem)."""
    points = options.points
    return Grader(
        problem(options.problem),
        all_items(len(options.problem.network.layers), tuple(options.quantities)),
        tolerance=Tolerance(options.tolerance.rtol, options.tolerance.atol),
        points=Points(
            default=points.default,
            quantities=points.quantities,
            layers=None if points.layers is None else tuple(points.layers),
            items=points.items,
        ),
        partial_credit=options.partial_credit,
        significant_figures=options.significant_figures,
        follow_through=options.follow_through,
        worked_formulas=options.worked_formulas,
        single_sample=options.problem.single_sample,
    )


def problem_parameters(req: ProblemRequest) -> ProblemParameters:
    """What the seeded generator needs of a /v1/problems request."""
    return ProblemParameters(
        seed=req.seed,
        layer_sizes=tuple(req.layer_sizes),
        batch_size=req.batch_size,
        decimals=req.decimals,
        weight_range=req.weight_range,
        targets=engine.LOSSES[req.loss.name].targets,
    )
