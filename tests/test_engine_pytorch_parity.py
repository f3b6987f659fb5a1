"""Engine formulas that must agree with PyTorch's to the last bits, checked on exact hand values.

These need no torch: each expected figure was computed once by PyTorch 2.13 (float64) and is
derived by hand in the test, so a test fails only when the engine's formula changes.
"""

from __future__ import annotations

import numpy as np

from engine.losses import BinaryCrossEntropy

# PyTorch's BCELoss clamps the gradient's denominator o (1 - o) at float32(1e-12).
_TORCH_BCE_EPSILON = 9.999999960041972e-13


def test_bce_gradient_clamps_the_denominator_at_pytorchs_float32_epsilon() -> None:
    o = np.array([[1e-20, 0.5, 1.0 - 1e-16, 1.0]])
    y = np.array([[1.0, 0.0, 0.0, 0.0]])
    gradient = BinaryCrossEntropy(reduction="sum").gradient(o, y)
    # torch.nn.functional.binary_cross_entropy(o, y, reduction="sum").backward() gives
    # [-1000000003995.8029, 2.0, 1000000003995.8027, 1000000003995.8029].
    expected = np.array(
        [[(1e-20 - 1.0) / _TORCH_BCE_EPSILON, 2.0, (1.0 - 1e-16) / _TORCH_BCE_EPSILON,
          1.0 / _TORCH_BCE_EPSILON]]
    )  # fmt: skip
    assert gradient.tolist() == expected.tolist()
    assert gradient[0, 0] == -1000000003995.8029


def test_bce_value_clamps_each_log_at_minus_100() -> None:
    o = np.array([[1e-20, 0.5, 1.0 - 1e-16, 1.0]])
    y = np.array([[1.0, 0.0, 0.0, 0.0]])
    value = BinaryCrossEntropy(reduction="sum").value(o, y)
    # -ln(1e-20) - ln(0.5) - ln(1.1102230246251565e-16) + 100: PyTorch gives 183.48164961011796.
    assert abs(value - 183.48164961011796) <= 1e-13 * 183.48164961011796
