"""Reasons and notes kept as one int each, worded again when read.

The model words what it found per instance or event ("no 4658 for it: its process exited (4689
record 81234)"): hundreds of thousands of strings at ten million events, each differing from the
next only by a record id or a pid. `NoteCodes` keeps such a text as an int: 0 for None, a negative
code for a text that one of its `templates` makes from its numbers, the number of a distinct
string otherwise. A template's numbers are `{}` (decimal) or `{:x}` (hex) slots: a template of one
slot holds its number in the code itself (the kind and the number); one of several keeps them in
an array, the code saying where (16 bytes a text, where a string of ~180 took ~180). Exact: a text
is coded by a template only when that template words the numbers back to the same text.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence

from core.correlate.columns import Index

#: Numbers a one-slot code holds (larger ones are kept as texts).
_MAX_ID = 1 << 56
#: The largest number a slot of a several-slot template holds (an `array("q")` item).
_MAX_SLOT = (1 << 63) - 1
#: A template's slots: a decimal number, or a hex one (`{:x}`).
_SLOT = re.compile(r"\{(:x)?\}")


def _pattern(template: str) -> re.Pattern[str]:
    """What matches the texts `template` words: each slot as its digits, the rest as itself."""
    parts = _SLOT.split(template)  # text, radix, text, radix, ..., text
    out = [re.escape(parts[0])]
    for radix, text in zip(parts[1::2], parts[2::2], strict=True):
        out.append("([0-9a-f]+)" if radix else "([0-9]+)")
        out.append(re.escape(text))
    return re.compile("".join(out))


class NoteCodes:
    """Texts <-> ints for the `templates` (each with one slot or more); see the module doc."""

    def __init__(self, templates: Sequence[str]) -> None:
        self._templates = tuple(templates)
        self._patterns = tuple(_pattern(t) for t in self._templates)
        self._bases = tuple(tuple(16 if m.group(1) else 10 for m in _SLOT.finditer(t)) for t in self._templates)
        self._texts: Index[str] = Index()
        #: The numbers of the texts coded by a template of several slots, one after the other.
        self._numbers = array("q")

    def code(self, text: str | None) -> int:
        if text is None:
            return 0
        kinds = len(self._templates)
        for kind, pattern in enumerate(self._patterns):
            found = pattern.fullmatch(text)
            if found is None:
                continue
            numbers = [int(digits, base) for digits, base in zip(found.groups(), self._bases[kind], strict=True)]
            if self._templates[kind].format(*numbers) != text:  # leading zeros...: not as worded
                continue
            if len(numbers) == 1:
                if numbers[0] < _MAX_ID:
                    return -1 - (kind + kinds * numbers[0])
            elif max(numbers) <= _MAX_SLOT:
                at = len(self._numbers)
                self._numbers.extend(numbers)
                return -1 - (kind + kinds * at)
        return self._texts[text] + 1

    def text(self, code: int) -> str | None:
        if code == 0:
            return None
        if code < 0:
            payload, kind = divmod(-1 - code, len(self._templates))
            slots = len(self._bases[kind])
            if slots == 1:
                return self._templates[kind].format(payload)
            return self._templates[kind].format(*self._numbers[payload:payload + slots])
        return self._texts.distinct[code - 1]
