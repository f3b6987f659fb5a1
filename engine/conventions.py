"""Conventions: the choices on which textbooks and frameworks differ, and their three presets.

| what                    | textbook (default)   | pytorch              | keras                  |
| ----------------------- | -------------------- | -------------------- | ---------------------- |
| weight layout           | in_out: W[j, k], j->k | out_in (nn.Linear)  | in_out (Dense kernel)  |
| ReLU'(0), LeakyReLU'(0) | right-hand: 1        | left-hand: 0, slope  | left-hand: 0, slope    |
| MSE                     | 1/2 sum              | mean, no 1/2         | mean, no 1/2           |
| other losses' reduction | sum                  | mean                 | mean                   |
| LeakyReLU's slope       | 0.01                 | 0.01                 | 0.3 (LeakyReLU layer)  |
| probabilities' epsilon  | none                 | none                 | 1e-7 (Keras' epsilon)  |

The last row: Keras computes cross-entropy and binary cross-entropy over probabilities (its
from_logits=False, when no fused last layer takes the logits) with the outputs clipped to
[epsilon, 1 - epsilon], and cross-entropy first divides each row by its sum (losses.py).
Each of the first two items can be overridden on its own (``Conventions.with_overrides``), the
others in the activation's or the loss's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from engine.compat import StrEnum
from engine.types import FloatArray

Reduction = Literal["sum", "mean", "batch_mean"]


class WeightLayout(StrEnum):
    """How a weight matrix is stored.

    in_out: shape (n_in, n_out), W[j, k] joins node j of the layer below to node k
    (the textbook's w_jk, Keras). out_in: shape (n_out, n_in) (PyTorch's nn.Linear).
    """

    IN_OUT = "in_out"
    OUT_IN = "out_in"

    def as_in_out(self, W: FloatArray) -> FloatArray:
        """W as an (n_in, n_out) matrix (a view, never a copy)."""
        return W if self is WeightLayout.IN_OUT else W.T

    def gradient(self, a_prev: FloatArray, delta: FloatArray) -> FloatArray:
        """dL/dW = a^(l-1)^T delta^l, returned in this layout (C-contiguous).

        a_prev : ndarray of shape (n_samples, n_in)
        delta : ndarray of shape (n_samples, n_out)
        """
        gradient: FloatArray = (
            a_prev.T.dot(delta) if self is WeightLayout.IN_OUT else delta.T.dot(a_prev)
        )
        return gradient


class Preset(StrEnum):
    TEXTBOOK = "textbook"
    PYTORCH = "pytorch"
    KERAS = "keras"


@dataclass(frozen=True)
class Conventions:
    """The conventions a computation follows.

    relu_grad_at_zero is 1 when z = 0 counts as positive at the kink of ReLU and LeakyReLU
    (they take their right-hand derivative there: 1), and 0 when it counts as negative (their
    left-hand derivative, as PyTorch does: 0, or the negative slope).
    """

    preset: Preset
    weight_layout: WeightLayout
    relu_grad_at_zero: Literal[0, 1]
    mse_reduction: Reduction
    mse_half: bool
    reduction: Literal["sum", "mean"]
    leaky_relu_negative_slope: float = 0.01
    """LeakyReLU's slope where a request leaves it out."""
    epsilon: float | None = None
    """Keras' fuzz factor for losses over probabilities; None: the outputs as they are."""

    def with_overrides(
        self,
        *,
        weight_layout: WeightLayout | None = None,
        relu_grad_at_zero: Literal[0, 1] | None = None,
    ) -> Conventions:
        """These conventions with the items that are not None replaced."""
        if weight_layout in (None, self.weight_layout) and relu_grad_at_zero in (
            None,
            self.relu_grad_at_zero,
        ):
            return self  # nothing to replace, the common case: no need for a copy
        return replace(
            self,
            weight_layout=self.weight_layout if weight_layout is None else weight_layout,
            relu_grad_at_zero=(
                self.relu_grad_at_zero if relu_grad_at_zero is None else relu_grad_at_zero
            ),
        )


PRESETS: dict[Preset, Conventions] = {
    Preset.TEXTBOOK: Conventions(
        preset=Preset.TEXTBOOK,
        weight_layout=WeightLayout.IN_OUT,
        relu_grad_at_zero=1,
        mse_reduction="sum",
        mse_half=True,
        reduction="sum",
    ),
    Preset.PYTORCH: Conventions(
        preset=Preset.PYTORCH,
        weight_layout=WeightLayout.OUT_IN,
        relu_grad_at_zero=0,
        mse_reduction="mean",
        mse_half=False,
        reduction="mean",
    ),
    # Keras 3 (keras-team/keras, keras/src): layers.Dense's kernel is (input_dim, units);
    # layers.LeakyReLU(negative_slope=0.3), where activations.leaky_relu defaults to 0.2;
    # ReLU's and LeakyReLU's gradients at 0 are the left-hand ones under the TensorFlow and
    # PyTorch backends (JAX's leaky_relu takes 1 there); MeanSquaredError, CategoricalCrossentropy
    # and BinaryCrossentropy reduce by "sum_over_batch_size", the mean over the last axis (BCE,
    # MSE) or the sum over it (CCE), then the mean over samples; backend.epsilon() = 1e-7.
    Preset.KERAS: Conventions(
        preset=Preset.KERAS,
        weight_layout=WeightLayout.IN_OUT,
        relu_grad_at_zero=0,
        mse_reduction="mean",
        mse_half=False,
        reduction="mean",
        leaky_relu_negative_slope=0.3,
        epsilon=1e-7,
    ),
}
