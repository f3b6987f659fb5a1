"""Numbers and arrays as a request may carry them, validated straight from JSON into NumPy.

Every number is strict and finite: NaN, Infinity, 1e400, strings and booleans are refused, never
coerced. Lists are validated fail-fast, so a matrix with a million bad entries costs one error,
and converted to float64 arrays once, right after validation.

Some fields take one of several shapes (inputs: rows or one flat sample; targets: rows, one flat
row, class indices or one class index). They are tagged unions, and the tag shows up in an error's
location; UNION_TAGS lists the tags so that the HTTP layer can leave them out of what clients see.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Discriminator, Field, GetPydanticSchema, Tag
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
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise PydanticCustomError(
                "ragged_rows",
                "every row must have the same length, but row 0 has {width} numbers "
                "and row {row} has {length}",
                {"width": width, "row": i, "length": len(row)},
            )
    return np.array(rows, dtype=np.float64)


def _array_of(inner: Any, convert: Any) -> GetPydanticSchema:
    """Validate as ``inner`` (a list type), then hand back ``convert(value)``, an ndarray."""
    return GetPydanticSchema(
        lambda _source, handler: core_schema.no_info_after_validator_function(
            convert, handler(inner)
        )
    )


Vector = Annotated[FloatArray, _array_of(_Row, _to_vector)]
"""A non-empty list of finite numbers, as a float64 array of shape (n,)."""

Matrix = Annotated[FloatArray, _array_of(_Rows, _to_matrix)]
"""Non-empty rows of finite numbers, all of one length, as a float64 array of shape (m, n)."""


def _samples_kind(value: Any) -> str:
    return "rows" if isinstance(value, list) and value and isinstance(value[0], list) else "row"


Samples = Annotated[
    Annotated[Matrix, Tag("rows")] | Annotated[Vector, Tag("row")],
    Discriminator(_samples_kind),
]
"""One row per sample, shape (n_samples, n), or a single flat sample, shape (n,)."""


def _targets_kind(value: Any) -> str:
    if isinstance(value, list) and value:
        if isinstance(value[0], list):
            return "rows"
        if all(type(v) is int for v in value):
            return "classes"
    if type(value) is int:
        return "class"
    return "row"


Targets = Annotated[
    Annotated[Matrix, Tag("rows")]
    | Annotated[list[StrictInt], Field(min_length=1), Tag("classes")]
    | Annotated[StrictInt, Tag("class")]
    | Annotated[Vector, Tag("row")],
    Discriminator(_targets_kind),
]
"""Target rows (n_samples, n_L), one flat row, class indices (n_samples,) or one class index.

A flat list of JSON integers stays a list of ints here: with several samples it is class
indices, with one flat sample it is that sample's target row (see requests.py).
"""

UNION_TAGS = frozenset({"rows", "row", "classes", "class"})
