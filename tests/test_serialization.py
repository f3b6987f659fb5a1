"""A large answer is written in pieces (app/services.dumps_in_pieces), byte for byte as one call.

Writing a 59 MB answer in one orjson call held the GIL for 0.2 to 1.3 s, so /healthz waited that
long; in pieces of 16,384 numbers no wait is longer than about 12 ms (`make hostile` measures
/healthz during such answers). The pieces must make the same bytes as the one call, for every
shape and nesting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app import services

SMALL_PIECE = 7  # pieces of 7 numbers, so that small arrays are cut in every way


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "PIECE_VALUES", SMALL_PIECE)


arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12),
    elements=st.floats(-1e6, 1e6, width=64),
)
scalars = (
    st.floats(allow_nan=False) | st.text(max_size=5) | st.none() | st.integers(-(2**63), 2**63 - 1)
)
payloads = st.recursive(
    arrays | scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@given(payloads)
@settings(max_examples=300, deadline=None)
def test_the_pieces_make_the_same_bytes_as_one_call(payload: Any) -> None:
    assert services.dumps_in_pieces(payload) == services.dumps(payload)


def test_an_array_whose_rows_are_larger_than_a_piece() -> None:
    array = np.arange(3 * 20, dtype=np.float64).reshape(3, 20) / 7
    payload = {"a": array, "b": [array.T.copy(), {"c": array[0]}], "d": "large array"}
    assert services.dumps_in_pieces(payload) == services.dumps(payload)
    assert orjson.loads(services.dumps_in_pieces(payload))["a"] == array.tolist()


def test_a_string_that_looks_like_the_placeholder_is_left_alone() -> None:
    payload = {"key": "large array 0123", "x": np.ones(50)}
    assert services.dumps_in_pieces(payload) == services.dumps(payload)
