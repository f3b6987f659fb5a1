"""Arrays on the wire: JSON lists of numbers, or the service's Base64Array.

A Base64Array is {"shape": [m, n], "float64": "<base64>"}: the numbers as little-endian float64
bytes, row after row. Writing and reading 290,000 numbers that way takes a millisecond or two,
against tens of milliseconds as JSON lists, so the client sends large requests that way (and
asks for the answer that way): see ``choose``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayEncoding = Literal["auto", "lists", "base64"]

BASE64_MIN_VALUES = 4096
"""From this many float numbers in a request on, "auto" sends and asks for Base64Array arrays.

Below it both forms cost well under a millisecond, and JSON lists stay readable in logs."""


def choose(encoding: ArrayEncoding, values: int) -> Literal["lists", "base64"]:
    """The encoding to use for a request holding ``values`` float numbers."""
    if encoding == "auto":
        return "base64" if values >= BASE64_MIN_VALUES else "lists"
    return encoding


def encode(value: npt.ArrayLike, encoding: Literal["lists", "base64"]) -> Any:
    """An array for a request's JSON.

    Integer arrays and Python ints stay JSON integers (targets may be class indices), and so
    does anything the service's Base64Array cannot hold (0 or more than 2 dimensions, no
    entries): the service then judges it as it is. Floats become a Base64Array when asked.
    """
    array = np.asarray(value)
    if encoding == "base64" and array.dtype.kind == "f" and array.ndim in (1, 2) and array.size:
        data = np.ascontiguousarray(array, dtype="<f8").tobytes()
        return {"shape": list(array.shape), "float64": base64.b64encode(data).decode("ascii")}
    return array.tolist()


def float_values(value: npt.ArrayLike | None) -> int:
    """How many float numbers an array holds (integers are sent as JSON integers)."""
    if value is None:
        return 0
    array = np.asarray(value)
    return int(array.size) if array.dtype.kind == "f" else 0


def decode(value: Any) -> FloatArray:
    """An answer's array, JSON lists or Base64Array, as a float64 array (writable).

    Raises
    ------
    ValueError
        The value is neither numbers nor a well-formed Base64Array.
    """
    if isinstance(value, Mapping):
        shape = tuple(int(n) for n in value["shape"])
        try:
            data = binascii.a2b_base64(value["float64"], strict_mode=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"the answer's Base64Array is not valid base64: {error}") from None
        return (
            np.frombuffer(bytearray(data), dtype="<f8")
            .reshape(shape)
            .astype(np.float64, copy=False)
        )
    return np.asarray(value, dtype=np.float64)
