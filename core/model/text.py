"""Making attacker-controlled text safe to show on a terminal or in a Markdown renderer.

Event data (command lines, object names, computer names) and file names may hold ANSI/OSC escape
sequences or other control characters. Anything we print or render goes through `printable`,
which shows each control character visibly escaped (`\\x1b`, `\\n`) so it can neither style nor
drive the terminal. `terminal_text` is the same for a whole stream of our own output: it keeps
our line breaks. Markdown exports go through `md_text`/`md_code`, so data cannot become an image,
a link, raw HTML or a broken table once rendered. Rich markup is a separate concern of the UI: it
renders `Text` objects, never markup strings.
"""

from __future__ import annotations

import re

#: C0/C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates and marks
#: (LRM, RLM, ALM), lone surrogates (Python strings hold them from `surrogateescape` names and JSON
#: `\ud800`), and the characters that show as nothing: soft hyphen, zero-width space/(non-)joiner,
#: word joiner and invisible operators, BOM, Hangul fillers, the Mongolian vowel separator and
#: Unicode tags. Why the invisible ones: `ls\u200bass.exe` looked exactly like `lsass.exe`, and
#: tags carry hidden ASCII; an analyst must see that a name holds more than it shows.
_CONTROLS = (r"\x00-\x1f\x7f-\x9f\xad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e"
             r"\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0\ud800-\udfff\U000e0000-\U000e007f")
_CONTROL = re.compile(f"[{_CONTROLS}]")
#: The same, but a line break (`\n`, or CSV's `\r\n`) passes: it is how our output is laid out.
_STREAM_CONTROL = re.compile(f"\r\n|\n|[{_CONTROLS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_keep_lines(m: re.Match[str]) -> str:
    ch = m.group(0)
    return ch if ch in ("\n", "\r\n") else _escape(m)


def printable(value: str) -> str:
    """`value` with C0/C1 controls, DEL, bidi overrides and lone surrogates escaped visibly."""
    return _CONTROL.sub(_escape, value)


def terminal_text(value: str) -> str:
    """`printable` for a chunk of output bound for a terminal: line breaks stay line breaks (a
    value's own newline then starts a line, which cannot drive the terminal), everything else
    that could (ESC, CSI, OSC, a lone CR that overwrites the line, bidi) is shown escaped."""
    return _STREAM_CONTROL.sub(_escape_keep_lines, value)


def one_line(value: str, width: int | None = None) -> str:
    """Printable and cut to `width` characters with an ellipsis (for table cells)."""
    text = printable(value)
    if width is not None and len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


#: What CommonMark/GFM would read as markup inside a line: emphasis, code spans, links and
#: images (`[`, `]`), raw HTML and autolinks (`<`), entities (`&#x202e;`), table cells (`|`).
_MD_SPECIAL = re.compile(r"[`*_~\[\]<>|&\\]")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def md_text(value: str) -> str:
    """`value` as Markdown that renders as exactly this text on one line (printable first): the
    characters markup is made of are backslash-escaped. A backslash is escaped only where it
    would otherwise escape what follows, so Windows paths stay readable (`C:\\Windows`)."""
    text = printable(value)

    def escape(m: re.Match[str]) -> str:
        ch = m.group(0)
        if ch != "\\":
            return "\\" + ch
        nxt = text[m.end() : m.end() + 1]
        return "\\\\" if nxt == "" or nxt in _ASCII_PUNCT else "\\"

    return _MD_SPECIAL.sub(escape, text)


def md_code(value: str) -> str:
    """`value` (printable) as a Markdown code span: fenced by one backtick more than the longest
    run inside it, so a backtick in a file name cannot end the span early."""
    text = printable(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


#: What `json.dumps(ensure_ascii=False)` leaves raw but a terminal acts on, shows as nothing or
#: UTF-8 cannot hold: `_CONTROLS` but C0 (which JSON escapes itself).
_JSON_UNSAFE = re.compile("[" + _CONTROLS.replace(r"\x00-\x1f", "", 1) + "]")


def _json_escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes a code point past U+FFFF as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with those characters written as
    JSON's own `\\uXXXX` escapes: a JSON reader gets exactly the same data back, and the text is
    safe on a terminal and encodable as UTF-8. (They can only occur inside JSON strings.)"""
    return _JSON_UNSAFE.sub(_json_escape, text)
