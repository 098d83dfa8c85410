"""Counted words as the screens write them: `1 event`, `2 events` (`plural`).

Its own small module: the status line and the timeline strip load with the app, which imports
no view (`tests/app/test_app_imports.py`), so the helper cannot live with a view's code.
"""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 computer`, `2 computers`, `1,234 computers`; `many` for a word not made with an `s`
    (`plural(n, "process", "processes")`). Headers and notes count what is shown: "1 marks"
    reads as a typo to the analyst."""
    return f"{count:,} " + (word if count == 1 else many if many is not None else word + "s")
