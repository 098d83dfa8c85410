"""A time text read to FILETIME ticks, or kept when it reads as no time.

The Event XML and JSON loaders both read times from text (`TimeCreated`'s SystemTime, a JSON
`TimeCreated` / `@timestamp`...). A text that is no time (`not a time`, year 10000, an offset no
zone has) leaves the event without a time, as always; the text itself is kept as a field of that
name and a parse issue says so, so the analyst sees what the log held (it was dropped silently).
A zero or empty time is Windows' "no time" and is not noted.
"""

from __future__ import annotations

from core.model.event import parse_time, read_time

__all__ = ["time_or_note"]


def time_or_note(text: str, name: str, notes: list[str], kept: list[tuple[str, str]]) -> int | None:
    """The ticks of `text` (the value of `name`), else None with `(name, text)` appended to
    `kept` and a note (a parse issue's text) to `notes` when it is a time text no date holds."""
    if not text:
        return None
    ticks = parse_time(text)
    if ticks is None:
        try:
            why = "before 1601" if read_time(text) < 0 else ""
        except ValueError as exc:
            why = str(exc) or "not a time"
        if why:
            kept.append((name, text))
            notes.append(f"unreadable time {name}={text[:60]!r} ({why[:60]}); kept as the field {name}")
    return ticks
