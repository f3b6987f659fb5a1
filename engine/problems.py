"""Seeded problems: the same seed and parameters give the same problem everywhere, for good.

The numbers come from SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
generators", 2014), written out below in a dozen lines of integer arithmetic, so that no
library's random stream, which may change between versions, decides a student's problem.
Every value is an integer drawn by rejection sampling, divided by 10^decimals: a correctly
rounded division, the same on every machine.

The order of the draws is part of the contract and must never change: for each layer its
weights row by row ((n_in, n_out), the in_out layout) then its biases; then the inputs sample
by sample; then the targets. A golden test guards it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np

from engine.types import FloatArray

_MASK = (1 << 64) - 1

TargetKind = Literal["values", "classes", "binary"]
"""values in [0, 1] (regression losses), one-hot rows (cross_entropy), 0 or 1 (binary); each
loss says which it takes (Loss.targets)."""


class SplitMix64:
    """The SplitMix64 generator: 64-bit state, one addition and two multiplications a draw."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> int:
        """The next 64-bit output."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), without modulo bias (rejection sampling)."""
        limit = (1 << 64) - (1 << 64) % n
        while True:
            draw = self.next()
            if draw < limit:
                return draw % n

    def between(self, low: int, high: int) -> int:
        """A uniform integer in [low, high]."""
        return low + self.below(high - low + 1)


@dataclass(frozen=True)
class ProblemParameters:
    """What a generated problem looks like; every field is part of its identity."""

    seed: int
    layer_sizes: tuple[int, ...]
    batch_size: int = 1
    decimals: int = 1
    weight_range: float = 1.0
    targets: TargetKind = "values"


@dataclass(frozen=True)
class GeneratedProblem:
    """weights[l] of shape (n_l, n_(l+1)) (in_out), biases[l] (n_(l+1),), inputs (N, n_0),
    targets (N, n_L)."""

    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]
    inputs: FloatArray
    targets: FloatArray


def generate(parameters: ProblemParameters) -> GeneratedProblem:
    """The problem these parameters and this seed name."""
    rng = SplitMix64(parameters.seed)
    scale = 10**parameters.decimals
    bound = round(parameters.weight_range * scale)

    def grid(shape: tuple[int, ...], low: int, high: int) -> FloatArray:
        values = [rng.between(low, high) / scale for _ in range(int(np.prod(shape)))]
        return np.array(values, dtype=np.float64).reshape(shape)

    sizes = parameters.layer_sizes
    weights: list[FloatArray] = []
    biases: list[FloatArray] = []
    for n_in, n_out in pairwise(sizes):
        weights.append(grid((n_in, n_out), -bound, bound))
        biases.append(grid((n_out,), -bound, bound))
    n_samples, n_outputs = parameters.batch_size, sizes[-1]
    inputs = grid((n_samples, sizes[0]), -bound, bound)
    if parameters.targets == "classes":
        targets = np.zeros((n_samples, n_outputs))
        for n in range(n_samples):
            targets[n, rng.below(n_outputs)] = 1.0
    elif parameters.targets == "binary":
        targets = grid((n_samples, n_outputs), 0, 1) * scale
    else:
        targets = grid((n_samples, n_outputs), 0, scale)
    return GeneratedProblem(tuple(weights), tuple(biases), inputs, targets)
