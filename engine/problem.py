"""One backprop problem as the engine sees it: a network, its data, a loss and one step.

/v1/backprop solves one; the grader solves it again under each classic mistake; gradcheck
checks its gradient. Built from a request by schemas/convert.py, the one place that does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.losses import Loss
from engine.network import Backprop, CarryBack, Network, backprop, carry_back
from engine.types import FloatArray


@dataclass(frozen=True)
class BackpropProblem:
    """Everything one /v1/backprop request asks for, ready for the engine.

    x : ndarray of shape (n_samples, n_0)
    y : ndarray of shape (n_samples, n_L), targets as rows (class indices made one-hot)
    """

    network: Network
    x: FloatArray
    y: FloatArray
    loss: Loss
    learning_rate: float
    ascent: bool = False

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    def solve(self, carry: CarryBack = carry_back) -> Backprop:
        """One step of backpropagation, with the textbook recursion unless told otherwise."""
        return backprop(
            self.network,
            self.x,
            self.y,
            self.loss,
            learning_rate=self.learning_rate,
            ascent=self.ascent,
            carry=carry,
        )

    def but(self, **changes: object) -> BackpropProblem:
        """The same problem with some fields changed: ``problem.but(loss=other_loss)``."""
        return replace(self, **changes)  # type: ignore[arg-type]
