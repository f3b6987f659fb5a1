"""A student's answer read forgivingly: whatever can be graded is, and everything else is said.

A submission is any subset of a /v1/backprop answer, as JSON: an object, or the text of the
student's file (a byte-order mark is dropped; NaN and Infinity, which Python's json module
writes, are read). What a student types around the answer never costs the answer:

- a key the answer does not have ("student", "work", "delta" for "deltas") is ignored and listed
  as a warning, its name cut to a short excerpt, with "did you mean ...?" for a near miss;
- an entry that is not a finite number (null, a string, true) fails in its item, as a wrong entry
  does, and the item's feedback says which; the other entries and items are graded;
- an item whose rows are ragged, or whose value is not an array at all, is unusable and fails
  alone;
- layers beyond the network's are reported and left out; layers left out or empty ({}) are items
  the answer does not have;
- only text that is not JSON at all is unreadable, with the parser's reason.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from engine.grading import LAYER_QUANTITIES, ItemKey
from engine.types import FloatArray
from schemas.arrays import decode_base64
from schemas.errors import excerpt

_LARGEST = float(np.finfo(np.float64).max)
"""The longest piece of a student's key or text quoted back in a warning."""

NETWORK_KEYS = ("loss", "outputs", "layers")
ACCEPTED_KEYS = (*NETWORK_KEYS, "input_gradients", "conventions")
"""Keys of a /v1/backprop answer: the first three are graded, the others accepted unread."""


@dataclass
class Intake:
    """What could be read of one answer.

    answers : each item handed in, as an array of the shape written (NaN where an entry is not a
        number)
    notes : for items with entries that are not numbers, or that could not be used, why
    warnings : what was ignored (unknown keys, layers beyond the network)
    unreadable : the reason, when the answer is not JSON at all (then nothing else is set)
    """

    answers: dict[ItemKey, FloatArray] = field(default_factory=dict)
    notes: dict[ItemKey, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unreadable: str | None = None


def read_answer(value: Any, n_layers: int) -> Intake:
    """An answer (a JSON value, or the text of a file) against a network of n_layers layers."""
    if isinstance(value, bytes | str):
        try:
            value = parse_json(value)
        except ValueError as error:
            return Intake(unreadable=str(error))
    if not isinstance(value, dict):
        return Intake(
            unreadable=f"the answer is {_kind(value)}, not an object like a /v1/backprop "
            'answer ({"loss": ..., "layers": [...]})'
        )
    intake = Intake()
    try:
        for key, item in value.items():
            if key in NETWORK_KEYS:
                _read_network_key(intake, key, item, n_layers)
            elif key not in ACCEPTED_KEYS:
                intake.warnings.append(_unknown("the answer", key, ACCEPTED_KEYS))
    except RecursionError:  # an entry nested hundreds of levels deep
        return Intake(unreadable=_TOO_DEEP)
    return intake


_TOO_DEEP = "it is nested too deeply to be an answer (hundreds of levels of [ or {)"

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
"""What Windows Notepad's "Unicode" writes first: UTF-16, little- or big-endian."""


def parse_json(text: bytes | str) -> Any:
    """JSON text as Python values; a byte-order mark dropped, NaN and Infinity read as Python's
    json module writes them. Raises ValueError with the parser's reason for anything else."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise ValueError("it is empty")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    decoded = decode_text(data)
    try:
        return json.loads(decoded, parse_int=_integer)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"it is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None


def decode_text(data: bytes) -> str:
    """A file's text: UTF-8 (a byte-order mark dropped), or UTF-16 when it starts with UTF-16's
    byte-order mark (Windows Notepad's "Unicode"). Raises ValueError naming the first byte
    that is not UTF-8, and where."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("it is not text: it starts as UTF-16 but is not") from None
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as error:
        at = error.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, at) + 1
        raise ValueError(
            f"it is not text (UTF-8): byte {at + 1} (line {line}) is "
            f"0x{data[at]:02x}: save the file as UTF-8"
        ) from None


def _read_network_key(intake: Intake, key: str, value: Any, n_layers: int) -> None:
    if key != "layers":
        _read_item(intake, ItemKey(key), value)  # type: ignore[arg-type]
        return
    if not isinstance(value, list):
        intake.warnings.append(f"layers is {_kind(value)}, not a list of layers: not graded")
        return
    if len(value) > n_layers:
        intake.warnings.append(
            f"layers has {len(value)} entries but the network has {n_layers} layers: "
            f"layers[{n_layers}:] are not graded"
        )
    for i, layer in enumerate(value[:n_layers]):
        if layer is None:
            continue  # a layer left out, as {} leaves it
        if not isinstance(layer, dict):
            intake.warnings.append(f"layers[{i}] is {_kind(layer)}, not an object: not graded")
            continue
        for quantity, item in layer.items():
            if quantity in LAYER_QUANTITIES:
                _read_item(intake, ItemKey(quantity, i), item)
            else:
                intake.warnings.append(_unknown(f"layers[{i}]", quantity, LAYER_QUANTITIES))


def _read_item(intake: Intake, key: ItemKey, value: Any) -> None:
    if value is None:
        intake.notes[key] = f"{key.id} is null: no numbers to grade"
        intake.answers[key] = np.full((), np.nan)
        return
    if isinstance(value, dict) and "float64" in value:  # a Base64Array, as the service writes
        try:
            intake.answers[key] = decode_base64(value)
        except ValueError:
            intake.notes[key] = f"{key.id} is not a valid Base64Array: it cannot be graded"
            intake.answers[key] = np.full((), np.nan)
        return
    shape = _shape(value)
    if shape is None:
        intake.notes[key] = (
            f"{key.id} is not a number, nor rows of numbers of one length: it cannot be graded"
        )
        intake.answers[key] = np.full((), np.nan)
        return
    entries = list(_flat(value, len(shape)))
    if all(type(v) is float for v in entries):  # as nearly every answer is written
        numbers = np.array(entries, dtype=np.float64)
        if np.isfinite(numbers).all():
            intake.answers[key] = numbers.reshape(shape)
            return
    numbers = np.array([v if _is_number(v) else math.nan for v in entries], dtype=np.float64)
    bad = [i for i, v in enumerate(entries) if not _is_number(v)]
    if bad:
        where = "".join(f"[{i}]" for i in np.unravel_index(bad[0], shape)) if shape else ""
        others = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        intake.notes[key] = (
            f"{key.id}{where} is {_kind(entries[bad[0]])}, not a number{others}: "
            "such entries count as wrong"
        )
    intake.answers[key] = numbers.reshape(shape)


def _shape(value: Any) -> tuple[int, ...] | None:
    """() for a number, (n,) for a flat list, (m, n) for rows of one length; None otherwise."""
    if not isinstance(value, list):
        return None if isinstance(value, dict) else ()
    if value and all(isinstance(row, list) for row in value):
        width = len(value[0])
        rectangular = width > 0 and all(len(row) == width for row in value)
        flat = not any(isinstance(v, list | dict) for row in value for v in row)
        return (len(value), width) if rectangular and flat else None
    flat = bool(value) and not any(isinstance(v, list | dict) for v in value)
    return (len(value),) if flat else None


def _flat(value: Any, ndim: int) -> Iterator[Any]:
    if ndim == 0:
        yield value
    elif ndim == 1:
        yield from value
    else:
        for row in value:
            yield from row


def _integer(text: str) -> int | float:
    """A JSON integer; one longer than Python reads as text (4,300 digits) is out of float64's
    range anyway, read as the infinity it rounds to."""
    return int(text) if len(text) <= 400 else float(text)


def _is_number(value: Any) -> bool:
    """A finite JSON number that float64 holds (an integer of 400 digits does not)."""
    if type(value) is int:
        return abs(value) <= _LARGEST
    return type(value) is float and math.isfinite(value)


_KINDS = {type(None): "null", dict: "an object", list: "a list", True: "true", False: "false"}


def _kind(value: Any) -> str:
    """What a JSON value is, in words, for a note saying it is not a number."""
    if isinstance(value, bool):
        return _KINDS[value]
    if isinstance(value, str):
        return f'the text "{excerpt(value)}"'
    if type(value) in _KINDS:
        return _KINDS[type(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return "a number too large for float64" if abs(value) > _LARGEST else "a number"


def _unknown(where: str, key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f'{where} has a key "{excerpt(key)}", which is not graded: ignored{hint}'
