"""The maths of backprop-service: pure NumPy, float64, no web and no JSON.

Build a ``Network`` of ``DenseLayer``s with activations from ``make_activation``, pick a loss
with ``make_loss`` under a set of ``Conventions``, then call ``forward`` or ``backprop`` (or
``BackpropProblem(...).solve()``, which /v1/backprop, the grader and gradcheck share).
"""

from engine.activations import ACTIVATIONS, Activation, make_activation
from engine.conventions import PRESETS, Conventions, Preset, WeightLayout
from engine.errors import DomainError, EngineError, NonFiniteError
from engine.losses import LOSSES, Loss, make_loss, one_hot
from engine.network import (
    Backprop,
    DenseLayer,
    ForwardPass,
    LayerGradients,
    Network,
    backprop,
    evaluate_loss,
    forward,
)
from engine.problem import BackpropProblem

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "PRESETS",
    "Activation",
    "Backprop",
    "BackpropProblem",
    "Conventions",
    "DenseLayer",
    "DomainError",
    "EngineError",
    "ForwardPass",
    "LayerGradients",
    "Loss",
    "Network",
    "NonFiniteError",
    "Preset",
    "WeightLayout",
    "backprop",
    "evaluate_loss",
    "forward",
    "make_activation",
    "make_loss",
    "one_hot",
]
