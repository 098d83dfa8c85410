"""Integers read from text (Event XML System values, JSON strings and numbers): exact, or
reported when no int should hold them.

Python refuses to convert decimal text of more than `sys.get_int_max_str_digits()` digits (4300
by default: the conversion is quadratic, a denial of service), and an int that long cannot be
printed in decimal either, so every place that shows it would raise. Such a value (decimal, or
`0x` hex whose value is that large) is not an integer any field can hold: the loader drops it
from its integer field and reports it (`IntTooLong`), where before it silently became None (a
record id then fell back to the record's position). Shorter integers, 64-bit or beyond, are kept
exactly (`core.model.storable` stores those past 64 bits as hex text).
"""

from __future__ import annotations

import math
import re
import sys

_DECIMAL = re.compile(r"\s*[+-]?\d[\d_]*\s*")


class IntTooLong(ValueError):
    """An integer whose decimal form is longer than Python converts or prints."""


def digits_limit() -> int:
    """The longest decimal text int() converts (0: no limit), as set for this process."""
    return sys.get_int_max_str_digits()


def read_int(text: str) -> int | None:
    """Decimal or `0x` hex text -> int; None when it is not an integer.

    Raises IntTooLong when it is one, but longer than Python converts or prints in decimal.
    """
    text = text.strip()
    if not text:
        return None
    if text[:2].lower() == "0x":
        try:
            value = int(text, 16)  # power-of-two bases have no digit limit...
        except ValueError:
            return None
        limit = digits_limit()
        if limit and value.bit_length() > limit * math.log2(10):  # ...but printing it has
            raise IntTooLong(f"an integer of {value.bit_length():,} bits")
        return value
    try:
        return int(text)
    except ValueError:
        if len(text) > digits_limit() > 0 and _DECIMAL.fullmatch(text):
            raise IntTooLong(f"an integer of {len(text):,} digits") from None
        return None
