"""The notes of the events that have one ("logged after the process exited (4689 record N)"), by
their position in the facts table, kept as numbers.

A busy log has a note on one event in thirty or so (236,000 at ten million churn events): held
as a dict of (source note, target note) tuples with a string per exited process, they were
~47 MB of the model's heap there. Here each noted event is a position in a sorted array and two
codes (`core.correlate.note_codes`: the usual note, `LATE_NOTE`, as its record id). Positions
come in scan order (ascending), so a look-up is a bisection.
"""

from __future__ import annotations

import bisect
from array import array
from typing import Final

from core.correlate.note_codes import NoteCodes

#: The note of a handle's close logged just after its process's 4689 (`ProcessTracker.resolve`):
#: the kernel closes a process's handles as it exits, and those 4658s come after its 4689.
LATE_NOTE: Final = "logged after the process exited (4689 record {})"
#: The note of any other event so logged (a use, a duplication, a Sysmon event): outside the
#: process's life, taken as its by inference (`is_late_use`).
LATE_USE_NOTE: Final = LATE_NOTE + ", no 4688 having reused the pid: taken as its"


def is_late_use(note: str | None) -> bool:
    """Whether `note` is a LATE_USE_NOTE: the link it qualifies is inferred, however sure its
    process is."""
    return note is not None and note.startswith(LATE_NOTE[:LATE_NOTE.index("{")]) and note.endswith(
        LATE_USE_NOTE[LATE_USE_NOTE.index("}") + 1:])

Notes = tuple["str | None", "str | None"]
_NONE: Final[Notes] = (None, None)


class FactNotes:
    """(source note, target note) by position, for the positions `add`ed (see the module doc)."""

    def __init__(self) -> None:
        self._at = array("q")
        self._codes = array("q")  # two per position: source, target
        self._codec = NoteCodes((LATE_NOTE, LATE_USE_NOTE))
        self._code, self._text = self._codec.code, self._codec.text

    def __len__(self) -> int:
        return len(self._at)

    def add(self, pos: int, source: str | None, target: str | None) -> None:
        """The notes of the event at `pos`, after every position added so far."""
        if self._at and pos <= self._at[-1]:
            raise ValueError(f"notes added out of scan order: {pos} after {self._at[-1]}")
        self._at.append(pos)
        self._codes.append(self._code(source))
        self._codes.append(self._code(target))

    def get(self, pos: int) -> Notes:
        """The notes of the event at `pos`, (None, None) without any."""
        at = self._at
        n = bisect.bisect_left(at, pos)
        if n == len(at) or at[n] != pos:
            return _NONE
        return self._text(self._codes[2 * n]), self._text(self._codes[2 * n + 1])

    def between(self, lo: int, hi: int) -> dict[int, Notes]:
        """The notes of the events at positions lo..hi-1 that have any."""
        at = self._at
        first, last = bisect.bisect_left(at, lo), bisect.bisect_left(at, hi)
        codes, text = self._codes, self._text
        return {at[n]: (text(codes[2 * n]), text(codes[2 * n + 1])) for n in range(first, last)}
