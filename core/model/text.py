"""Making attacker-controlled text safe to show on a terminal.

Event data (command lines, object names) may hold ANSI/OSC escape sequences or other control
characters. Anything we print or render goes through `printable`, which shows each control
character visibly escaped (`\\x1b`, `\\n`) so it can neither style nor drive the terminal.
Rich markup is a separate concern of the UI: it renders `Text` objects, never markup strings.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: str) -> str:
    """`value` with C0/C1 controls, DEL and bidi overrides escaped visibly."""
    return _CONTROL.sub(_escape, value)


def one_line(value: str, width: int | None = None) -> str:
    """Printable and cut to `width` characters with an ellipsis (for table cells)."""
    text = printable(value)
    if width is not None and len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text
