"""Reasons and notes kept as one int each, worded again when read.

The model words what it found per instance or event ("no 4658 for it: its process exited (4689
record 81234)"): hundreds of thousands of strings at ten million events, each differing from the
next only by a record id. `NoteCodes` keeps such a text as an int: 0 for None, a negative code
for a text that one of its `templates` makes from one record id (the kind and the id), the number
of a distinct string otherwise. Exact: a text is coded by a template only when that template
words the id back to the same text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.correlate.columns import Index

#: Record ids a code holds (larger ones are kept as texts).
_MAX_ID = 1 << 56


class NoteCodes:
    """Texts <-> ints for the `templates` (each with one `{}`, for a record id); see the module doc."""

    def __init__(self, templates: Sequence[str]) -> None:
        self._templates = tuple(templates)
        self._patterns = tuple(re.compile(re.escape(t).replace(r"\{\}", "([0-9]+)")) for t in self._templates)
        self._texts: Index[str] = Index()

    def code(self, text: str | None) -> int:
        if text is None:
            return 0
        kinds = len(self._templates)
        for kind, pattern in enumerate(self._patterns):
            found = pattern.fullmatch(text)
            if found is not None:
                record = int(found.group(1))
                if record < _MAX_ID and self._templates[kind].format(record) == text:
                    return -1 - (kind + kinds * record)
        return self._texts[text] + 1

    def text(self, code: int) -> str | None:
        if code == 0:
            return None
        if code < 0:
            kind, record = divmod(-1 - code, len(self._templates))[::-1]
            return self._templates[kind].format(record)
        return self._texts.distinct[code - 1]
