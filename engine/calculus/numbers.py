"""Exact numbers as text: what a student wrote, and how a computed number reads best.

A number the student typed is shown as typed (``Num.written``). A number the engine computed
(3 * 1/3, the coefficient of a derivative) has no text of its own; ``number_text`` writes it:

    an integer                                          3, -12
    a decimal when it ends within six places            0.25, -0.5
    a decimal when it ends and is shorter than the      0.6931472 (not 433217/625000)
    fraction
    a fraction otherwise                                1/3, 433217/1875000

and ``written_places`` reads how precise a typed decimal is: 0.6931472 stands for every value
that rounds to it, within half a unit of its last digit (5e-8).
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_SHORT_PLACES = 6
"""Numbers that end within this many decimal places always print as decimals (0.25, 0.125)."""
_MAX_PLACES = 40
"""Longer decimal expansions are never printed (a number token has at most 40 characters)."""

_WRITTEN = re.compile(
    r"(?P<digits>[0-9]*)(?:\.(?P<fraction>[0-9]*))?(?:[eE](?P<exponent>[+-]?[0-9]+))?"
)


def decimal_places(value: Fraction) -> int | None:
    """The decimal places of value's expansion when it ends (denominator 2^a 5^b), else None."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def decimal_text(value: Fraction) -> str | None:
    """The exact decimal expansion of value (0.6931472), None when it does not end."""
    places = decimal_places(value)
    if places is None or places > _MAX_PLACES:
        return None
    scaled = Decimal(value.numerator) / Decimal(value.denominator)
    return format(scaled.quantize(Decimal(1).scaleb(-places)), "f")


def fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def reads_as_decimal(value: Fraction) -> bool:
    """Whether a non-integer coefficient reads better as a decimal than as p*u/q: when its
    decimal is shorter than its fraction (0.6931472, 1.3862944), not for 1/5 or 3/4."""
    if value.denominator == 1:
        return False
    text = decimal_text(value)
    return text is not None and len(text) < len(fraction_text(value))


def number_text(value: Fraction) -> str:
    """3, -3, 0.25, 0.6931472 or 1/3 (see the module's docstring)."""
    if value.denominator == 1:
        return str(value.numerator)
    places = decimal_places(value)
    if places is not None and (places <= _SHORT_PLACES or reads_as_decimal(value)):
        text = decimal_text(value)
        assert text is not None
        return text
    return fraction_text(value)


def written_half_unit(written: str) -> Fraction:
    """Half a unit of the last digit of a number as typed: 0.6931472 -> 5e-8, 2.5e-3 -> 5e-5,
    12 -> 1/2. A typed number stands for every value within this of it."""
    match = _WRITTEN.fullmatch(written)
    assert match is not None, f"not a number as the grammar reads it: {written!r}"
    places = len(match.group("fraction") or "") - int(match.group("exponent") or 0)
    return Fraction(1, 2) * Fraction(10) ** -places


def significant_digits(written: str) -> int:
    """Significant digits of a number as typed: 0.6931472 -> 7, 0.0000001 -> 1, 120 -> 3."""
    match = _WRITTEN.fullmatch(written)
    assert match is not None, f"not a number as the grammar reads it: {written!r}"
    digits = (match.group("digits") + (match.group("fraction") or "")).lstrip("0")
    return max(1, len(digits))


def is_decimal(written: str) -> bool:
    """Whether a number was typed with a decimal point or an exponent (0.5, 1e-3), not 12."""
    return any(mark in written for mark in ".eE")
