"""The raw text of one stored event (its XML or JSON as the input holds it), read on demand.

Events keep only a locator into their input (`Event.locator`), not their raw text: the detail
pane asks for it when the user opens the XML tab. The input is read again through the parser
that loaded it, so the UI never parses bytes itself.
"""

from __future__ import annotations

from parsers.registry import raw_text


def raw_event_text(path: str, fmt: str, locator: int, *, indent: bool = False) -> str:
    """The event's XML as Windows renders it (JSON for JSON lines), or a line saying why not;
    `indent`: indented for reading (`parsers.xml_indent`; values unchanged)."""
    try:
        text = raw_text(path, fmt, locator)
    except Exception as exc:  # noqa: BLE001 - a vanished or changed file is reported, not fatal
        return f"(cannot read the XML: {type(exc).__name__}: {exc})"
    if indent:
        from parsers.xml_indent import indented

        return indented(text)
    return text
