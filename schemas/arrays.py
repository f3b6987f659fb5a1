"""Numbers and arrays as a request may carry them, validated straight from JSON into NumPy.

Every number is strict and finite: NaN, Infinity, 1e400, strings and booleans are refused, never
coerced. Lists are validated fail-fast, so a matrix with a million bad entries costs one error,
and converted to float64 arrays once, right after validation.

Any array may also come as a Base64Array: {"shape": [m, n], "float64": "<base64>"}, its numbers
as little-endian float64 bytes. Reading 290,000 numbers that way takes a millisecond or two,
against some twenty for JSON lists (docs/performance.md); they are checked just the same.

Some fields take one of several shapes (inputs: rows or one flat sample; targets: rows, one flat
row, class indices or one class index). They are tagged unions, and the tag shows up in an error's
location; UNION_TAGS lists the tags so that the HTTP layer can leave them out of what clients see.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, GetPydanticSchema, Tag
from pydantic_core import PydanticCustomError, core_schema

from engine.types import FloatArray

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number (integer or not) that is finite; never a string or a boolean."""

NonNegativeFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0)]
PositiveFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0)]
StrictInt = Annotated[int, Field(strict=True)]

_Row = Annotated[list[FiniteFloat], Field(min_length=1, fail_fast=True)]
_Rows = Annotated[list[_Row], Field(min_length=1, fail_fast=True)]


def _to_vector(values: list[float]) -> FloatArray:
    return np.array(values, dtype=np.float64)


def _to_matrix(rows: list[list[float]]) -> FloatArray:
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:  # NumPy refuses rows of different lengths: say which
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise PydanticCustomError(
                    "ragged_rows",
                    "every row must have the same length, but row 0 has {width} numbers "
                    "and row {row} has {length}",
                    {"width": width, "row": i, "length": len(row)},
                ) from None
        raise


def _array_of(inner: Any, convert: Any) -> GetPydanticSchema:
    """Validate as ``inner`` (a list type), then hand back ``convert(value)``, an ndarray."""
    return GetPydanticSchema(
        lambda _source, handler: core_schema.no_info_after_validator_function(
            convert, handler(inner)
        )
    )


ArrayEncoding = Literal["lists", "base64"]
"""How arrays are written: JSON lists of numbers, or Base64Array objects."""


MAX_DIMENSION = 2**31 - 1
"""The largest length of a Base64Array's dimension (the request limits are far smaller)."""


class Base64Array(BaseModel):
    """An array as its numbers' bytes: float64, little-endian, row after row, in base64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: list[Annotated[int, Field(strict=True, ge=1, le=MAX_DIMENSION)]] = Field(
        min_length=1, max_length=2, description="[n] or [rows, columns]"
    )
    float64: str = Field(
        description="base64 (RFC 4648, padded) of the numbers as little-endian float64, "
        "8 bytes each, in row-major order: base64.b64encode(a.astype('<f8').tobytes())"
    )


def encode_base64(array: FloatArray) -> dict[str, Any]:
    """The Base64Array of an array, as a dict ready for JSON."""
    data = np.ascontiguousarray(array, dtype="<f8").tobytes()
    return {"shape": list(array.shape), "float64": base64.b64encode(data).decode("ascii")}


def _decode(ndims: tuple[int, ...]) -> Any:
    def decode(value: Base64Array) -> FloatArray:
        if len(value.shape) not in ndims:
            expected = "[n]" if ndims == (1,) else "[rows, columns]"
            raise PydanticCustomError(
                "shape_invalid", "shape must be {expected}", {"expected": expected}
            )
        try:
            data = binascii.a2b_base64(value.float64, strict_mode=True)
        except ValueError as error:  # binascii.Error, or a character that is not ASCII
            raise PydanticCustomError(
                "base64_invalid", "float64 is not valid base64: {error}", {"error": str(error)}
            ) from None
        count = math.prod(value.shape)
        if len(data) != 8 * count:
            raise PydanticCustomError(
                "shape_mismatch",
                "float64 holds {bytes} bytes, but shape {shape} needs {count} numbers of 8 bytes",
                {"bytes": len(data), "shape": value.shape, "count": count},
            )
        array = np.frombuffer(data, dtype="<f8").reshape(value.shape)
        finite = np.isfinite(array)
        if not finite.all():
            where = [int(i) for i in np.argwhere(~finite)[0]]
            raise PydanticCustomError(
                "finite_number",
                "float64 holds a number that is not finite at index {where}",
                {"where": where},
            )
        return array.astype(np.float64, copy=False)  # native byte order, on any machine

    return decode


def decode_base64(value: Any) -> FloatArray:
    """A Base64Array given as a plain JSON object, as an array of its shape (1 or 2 axes).

    Raises ValueError (a Pydantic error) when it is not one, or its numbers do not fit it.
    """
    decoded: FloatArray = _decode((1, 2))(Base64Array.model_validate(value))
    return decoded


def _lists_or_base64(lists: Any, lists_tag: str, base64: Any) -> GetPydanticSchema:
    """JSON lists, else a Base64Array: tried in that order, each choice labelled with a tag.

    Not a discriminated union: its discriminator, a Python function, would be handed the JSON
    array as Python lists, and then the chosen branch would build them again: 1.6 ms more per
    200,000 numbers. When both choices fail, errors_of_intended_choice keeps the errors of the
    one the input was meant for.
    """
    return GetPydanticSchema(
        lambda _source, handler: core_schema.union_schema(
            [(handler(lists), lists_tag), (handler(base64), "base64")], mode="left_to_right"
        )
    )


_ListVector = Annotated[FloatArray, _array_of(_Row, _to_vector)]
_ListMatrix = Annotated[FloatArray, _array_of(_Rows, _to_matrix)]
_Base64Vector = Annotated[FloatArray, _array_of(Base64Array, _decode((1,)))]
_Base64Matrix = Annotated[FloatArray, _array_of(Base64Array, _decode((2,)))]
_Base64Rows = Annotated[FloatArray, _array_of(Base64Array, _decode((1, 2)))]

Vector = Annotated[FloatArray, _lists_or_base64(_ListVector, "row", _Base64Vector)]
"""A non-empty list of finite numbers (or a Base64Array), as a float64 array of shape (n,)."""

Matrix = Annotated[FloatArray, _lists_or_base64(_ListMatrix, "rows", _Base64Matrix)]
"""Non-empty rows of finite numbers, all of one length (or a Base64Array), shape (m, n)."""


def _samples_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "base64"
    return "rows" if isinstance(value, list) and value and isinstance(value[0], list) else "row"


Samples = Annotated[
    Annotated[_ListMatrix, Tag("rows")]
    | Annotated[_ListVector, Tag("row")]
    | Annotated[_Base64Rows, Tag("base64")],
    Discriminator(_samples_kind),
]
"""One row per sample, shape (n_samples, n), or a single flat sample, shape (n,)."""


def _targets_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "base64"
    if isinstance(value, list) and value:
        if isinstance(value[0], list):
            return "rows"
        if all(type(v) is int for v in value):
            return "classes"
    if type(value) is int:
        return "class"
    return "row"


Targets = Annotated[
    Annotated[_ListMatrix, Tag("rows")]
    | Annotated[list[StrictInt], Field(min_length=1), Tag("classes")]
    | Annotated[StrictInt, Tag("class")]
    | Annotated[_ListVector, Tag("row")]
    | Annotated[_Base64Rows, Tag("base64")],
    Discriminator(_targets_kind),
]
"""Target rows (n_samples, n_L), one flat row, class indices (n_samples,) or one class index.

A flat list of JSON integers stays a list of ints here: with several samples it is class
indices, with one flat sample it is that sample's target row (see requests.py).
"""

UNION_TAGS = frozenset({"rows", "row", "classes", "class", "base64"})


def errors_of_intended_choice(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors, less those of the lists-or-Base64Array choice not meant by the input.

    An array that fails both ways has errors under both tags: the lists' ("rows" or "row") and
    the Base64Array's ("base64"). An input that is not an object was meant as lists: the
    "model_type" error right under "base64" goes. One that is an object was meant as a
    Base64Array: the "list_type" error right under "rows" or "row" goes.
    """
    locs = [tuple(error["loc"]) for error in errors]
    lists_failed = {loc[: _first(loc, "rows", "row")] for loc in locs if {"rows", "row"} & set(loc)}
    base64_failed = {loc[: _first(loc, "base64")] for loc in locs if "base64" in loc}
    not_an_object = {
        loc[:-1]
        for loc, error in zip(locs, errors, strict=True)
        if loc[-1:] == ("base64",) and error["type"] == "model_type"
    }

    def unintended(loc: tuple[Any, ...], error: dict[str, Any]) -> bool:
        parent, last = loc[:-1], loc[-1:]
        if last == ("base64",):
            return parent in not_an_object and parent in lists_failed
        if last in (("rows",), ("row",)) and error["type"] == "list_type":
            return parent in base64_failed and parent not in not_an_object
        return False

    return [e for loc, e in zip(locs, errors, strict=True) if not unintended(loc, e)]


def _first(loc: tuple[Any, ...], *tags: str) -> int:
    return min(loc.index(tag) for tag in tags if tag in loc)
