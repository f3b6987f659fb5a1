"""Size limits of one request, checked against its shapes before the engine allocates anything.

The HTTP layer passes the limits in force as validation context: ``{"limits": Limits(...)}``;
without one, the defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple


def _limit(default: int, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Limits:
    max_layers: int = _limit(100, "layers in the network")
    max_width: int = _limit(4096, "units in any one layer, the inputs included")
    max_batch: int = _limit(10_000, "samples in one request")
    max_parameters: int = _limit(2_000_000, "weights and biases in the whole network")
    max_activation_elements: int = _limit(
        4_000_000, "samples x widest layer: the size of the largest array computed"
    )
    max_work: int = _limit(2_000_000_000, "multiply-adds of one forward pass: samples x weights")
    max_answer_values: int = _limit(
        8_000_000,
        "numbers in the /v1/backprop answer: samples x (inputs + 3 x units + outputs) "
        "+ 2 x parameters",
    )

    @property
    def size_bounds(self) -> tuple[int, ...]:
        """The limits on a network's sizes, in the order schemas/requests.py checks them."""
        return (
            self.max_width,
            self.max_batch,
            self.max_parameters,
            self.max_activation_elements,
            self.max_work,
            self.max_answer_values,
        )

    def describe(self) -> list[dict[str, Any]]:
        """Every limit with its value and what it bounds."""
        return [
            {"name": f.name, "value": getattr(self, f.name), "description": f.metadata["doc"]}
            for f in fields(self)
        ]


DEFAULT_LIMITS = Limits()


class Cost(NamedTuple):
    """What a request will take, estimated from its shapes before any work is done.

    work : multiply-adds of one forward pass (what max_work bounds)
    answer_values : numbers in the answer (what max_answer_values bounds)
    """

    work: int
    answer_values: int
