"""A rule's number (`N: 5`, `N|gt: 0`) against an event's value, exactly.

An event's value is a number only when its whole text is one: decimal digits with an optional
sign, or hexadecimal `0x...` (Windows writes one id both ways), read as a Python int of any
size up to MAX_DIGITS digits, never wrapped into a 64-bit range (the store's
`core.model.values.as_int` maps `18446744073709551615` to -1, right for its ids, wrong here:
`N|gt: 0` must hold for it). A decimal fraction (`1.5`) is a number only to a rule whose
number has one (pySigma makes a rule's number a float only then). Never numbers: `inf`,
`nan`, exponents (`1e3`), `_` separators, non-ASCII digits, surrounding spaces: such a value
passes no number test (`N|lt: 0` included: it is not below 0, it is not a number).

Leading zeros and a sign are part of a number (`05` and `+5` are 5): pySigma's backends write
`N: 5` as the number 5 (`N=5`, `N:5`), and a store's numeric field reads its values that way
(Elasticsearch's long fields parse strings with Java's `Long.parseLong`, which takes a sign
and leading zeros, and refuses spaces and exponents; Windows pads its hex ids with zeros,
`0x00000c8c`).

The rule's side is exact too: its int as it is, its float as the decimal it was written as
(`Decimal(repr(f))`: 1.1 is 11/10, not the float nearest it). pySigma keeps an int past 2**53
only as the float nearest it (`SigmaNumber`: a float where int and float differ): such a rule
cannot be tested exactly and is refused (`lost`).
"""

from __future__ import annotations

import re
from decimal import Decimal

#: Most digits read as a number (a 128-bit value has 39 decimal or 32 hex digits; Python's own
#: int parsing refuses past 4,300 digits, and is quadratic before).
MAX_DIGITS = 100

_INT = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}\Z")
_HEX = re.compile(rf"0[xX]([0-9a-fA-F]{{1,{MAX_DIGITS}}})\Z")
_FRACTION = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}\.[0-9]{{1,{MAX_DIGITS}}}\Z")

Number = int | Decimal


def event_number(value: str, fractions: bool = False) -> Number | None:
    """The number an event's value is (see the module doc), or None; a decimal fraction only
    with `fractions` (the rule's number has one)."""
    if _INT.match(value):
        return int(value)
    m = _HEX.match(value)
    if m:
        return int(m.group(1), 16)
    if fractions and _FRACTION.match(value):
        return Decimal(value)
    return None


def lost(number: float) -> bool:
    """Whether pySigma kept a rule's int only as a float (past 2**53: not the rule's number)."""
    return isinstance(number, float) and number.is_integer()


def rule_number(number: float) -> Number:
    """A rule's number (pySigma's `SigmaNumber.number`, not `lost`) exactly: an int as is, a float
    as the decimal written in the rule."""
    return number if isinstance(number, int) else Decimal(repr(number))


def number_text(number: float) -> str:
    """A rule's number as it is written (a float as `0.00001`, never `1e-05`)."""
    return str(number) if isinstance(number, int) else format(Decimal(repr(number)), "f")


def num_test(value: str | None, text: str, want: Number, fractions: bool) -> bool:
    """`N: want` (`text`: the number written out, the common case)."""
    if value is None:
        return False
    if value == text:
        return True
    found = event_number(value, fractions)
    return found is not None and found == want


def cmp_test(value: str | None, op: str, want: Number, fractions: bool) -> bool:
    """`N|lt: want` and the others (`op`: < <= > >= !=); a value that is no number passes none."""
    if value is None:
        return False
    found = event_number(value, fractions)
    if found is None:
        return False
    if op == "<":
        return found < want
    if op == "<=":
        return found <= want
    if op == ">":
        return found > want
    if op == ">=":
        return found >= want
    return found != want
