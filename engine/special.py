"""The logistic sigmoid, softmax and log-softmax, in NumPy: what the engine took from
scipy.special, whose import (about 0.17 s of CPU: its array-API layer loads numpy.testing,
numpy.f2py and more) was a third of the offline grader's start-up (bench/offline.py).

softmax and log_softmax are SciPy's (scipy/special/_logsumexp.py, 1.17; BSD-3-Clause), step
for step, so their results are SciPy's to the bit. The error function, which GELU alone needs,
is still SciPy's, imported on GELU's first use (``erf``).
"""

from __future__ import annotations

import numpy as np

from engine.types import FloatArray


def sigmoid(z: FloatArray) -> FloatArray:
    """1 / (1 + e^-z), elementwise: scipy.special.expit's formula. e^-z overflows to inf for
    z < -709, where the result is the 0 it rounds to anyway."""
    with np.errstate(over="ignore"):
        out: FloatArray = 1.0 / (1.0 + np.exp(-z))
    return out


def softmax(z: FloatArray, axis: int) -> FloatArray:
    """e^(z - max z) / sum e^(z - max z) along ``axis`` (scipy.special.softmax)."""
    shifted = np.exp(z - np.max(z, axis=axis, keepdims=True))
    out: FloatArray = shifted / np.sum(shifted, axis=axis, keepdims=True)
    return out


def log_softmax(z: FloatArray, axis: int) -> FloatArray:
    """z - max z - ln sum e^(z - max z) along ``axis`` (scipy.special.log_softmax): an infinite
    maximum is shifted by 0, and a sum of 0 gives -inf without a warning."""
    z_max = np.max(z, axis=axis, keepdims=True)
    z_max[~np.isfinite(z_max)] = 0.0
    shifted = z - z_max
    with np.errstate(divide="ignore"):
        out: FloatArray = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out


def erf(x: FloatArray) -> FloatArray:
    """The error function, elementwise: scipy.special.erf, imported on first use."""
    from scipy import special  # noqa: PLC0415 (GELU alone needs it: not at start-up)

    out: FloatArray = special.erf(x)
    return out
