"""Errors the engine raises when a request is well formed but its maths cannot be carried out.

    EngineError                 anything the engine refuses to compute
     ├── NonFiniteError         a computed quantity overflowed float64 (inf or nan)
     └── DomainError            an input lies outside a function's domain
                                (binary cross-entropy of an output that is not in [0, 1])

Shapes are not checked here: the engine trusts its caller for them (schemas/ checks every shape
before a request reaches the engine).
"""

from __future__ import annotations


class EngineError(ValueError):
    """Base class: the engine could not produce a finite, meaningful answer."""

    kind = "engine_error"
    """A stable, machine-readable name for the kind of problem."""


class NonFiniteError(EngineError):
    """A computed quantity is not finite.

    Parameters
    ----------
    quantity : str
        The quantity's name in the answer, e.g. "updated_weights" or "loss".
    layer : int or None
        Zero-based index of the layer the quantity belongs to, None for network-wide ones.
    reason : str
        A sentence saying why it overflowed, in words a student understands.
    """

    def __init__(self, quantity: str, layer: int | None, reason: str) -> None:
        self.quantity = quantity
        self.layer = layer
        self.reason = reason
        where = quantity if layer is None else f"layers[{layer}].{quantity}"
        super().__init__(f"{where} is not finite: {reason}")


class DomainError(EngineError):
    """An input is outside the domain of the function applied to it.

    Parameters
    ----------
    argument : str
        The request argument at fault, e.g. "loss".
    message : str
        What is wrong and how to fix it.
    """

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(message)
