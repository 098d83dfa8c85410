"""The loader registry: one format decision per input, then the one loader that reads it.

`iter_input` sniffs the format (or takes the one the caller already sniffed: the store's ingest
does, to choose its EVTX worker path) and hands the path to that format's loader; `raw_text`
reads one event's raw text back for the detail pane. Loaders are imported only when an input
of their format comes, so opening a JSON file never imports python-evtx or lxml.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.model.event import Event, ParseIssue
from parsers.sniff import detect_format, refuse

__all__ = ["detect_format", "iter_input", "raw_text"]


def iter_input(
    path: str, source: int = 0, *, jobs: int | None = None, fmt: str | None = None
) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of the input at `path`, whatever its format.

    The format is checked before this returns: an unreadable, empty, legacy or unknown file
    raises InputError (one line naming the file) here, not in the middle of iteration. `fmt`:
    the format `detect_format` already gave for this path (it is not sniffed twice). `jobs` is
    passed to the EVTX loader (worker processes); the text loaders ignore it.
    """
    if fmt is None:
        fmt = detect_format(path)
    if fmt == "evtx":
        from parsers.evtx import iter_events as _evtx

        return _evtx(path, source, jobs=jobs)
    if fmt == "xml":
        from parsers.eventxml import iter_events as _xml

        return _xml(path, source)
    if fmt in ("jsonl", "zip"):
        from parsers.jsonlines import iter_events as _json

        return _json(path, source)
    raise refuse(path, fmt)


def raw_text(path: str, fmt: str, locator: int) -> str:
    """The raw text of one event for the detail pane: XML for EVTX and Event XML, the JSON
    record for JSON lines, whatever the member holds for a zip."""
    if fmt == "evtx":
        from parsers.evtx import raw_xml

        return raw_xml(path, locator)
    if fmt == "xml":
        from parsers.eventxml import event_xml

        return event_xml(path, locator)
    if fmt in ("jsonl", "zip"):
        from parsers.jsonlines import event_json

        return event_json(path, locator)
    raise refuse(path, fmt)
