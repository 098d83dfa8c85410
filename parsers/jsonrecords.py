"""Raw records of JSON text, one at a time in bounded memory: the lines of JSON lines, or the
elements of one top-level JSON array (`parsers.jsonlines` decodes them into events).

Both walks are linear in the text whatever it holds: a line or element longer than
`MAX_RECORD_CHARS` is skipped and reported (None), never buffered whole; a run of blank lines
or of broken array elements costs no more than the same length of good records.

A record nested too deep for Python's json (a field holding `[[[...]]]` 1,500 deep hit the
recursion limit, and the whole record was lost) is read again by `parsers.jsonlines` with each
value nested deeper than `MAX_DEPTH` levels replaced by `DEEP_STAND_IN` (`cut_deep`, linear in
the text whatever its depth); an array element too deep to decode is delimited by its brackets.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator

from parsers.json_values import raw_decode

#: Longest record we buffer (characters): real records are a few KiB.
MAX_RECORD_CHARS = 8 * 1024 * 1024

_WS = re.compile(r"[ \t\r\n]*")
#: Consumed text of an array dropped from the buffer once this long (see `_array_records`).
_TRIM = 64 * 1024
#: A run of blank or whitespace-only lines, collapsed to one line break before a chunk is split:
#: such lines are never records, and a file of them then costs no Python step per line (1 GiB
#: of newlines took a minute; a regex pass costs about 1 ms per MB of ordinary lines).
_BLANK_RUN = re.compile(r"\n[ \t\r\n]*\n")
_RESYNC = re.compile(r"\}\s*,\s*(?=\{)")  # best effort: between two array elements


def _line_records(chunks: Iterator[str]) -> Iterator[str | None]:
    """Non-blank lines; None for a line longer than MAX_RECORD_CHARS (dropped, not buffered).

    Each chunk is split in C (`str.split`): a file of blank lines or a line spread over many
    chunks costs no Python step per character, and a long line is joined once."""
    pieces: list[str] = []  # the start of the current line, from earlier chunks
    held = 0
    skipping = False  # inside a line already reported as too long
    for text in chunks:
        parts = _BLANK_RUN.sub("\n", text).split("\n")
        tail = parts.pop()
        for i, line in enumerate(parts):
            if i == 0 and skipping:
                skipping = False
                continue
            if i == 0 and pieces:
                pieces.append(line)
                line = "".join(pieces)
                pieces, held = [], 0
            if line and not line.isspace():
                yield line.rstrip("\r")
        if skipping or not tail:
            continue
        pieces.append(tail)
        held += len(tail)
        if held > MAX_RECORD_CHARS:
            pieces, held, skipping = [], 0, True
            yield None
    line = "".join(pieces)
    if line and not line.isspace():
        yield line.rstrip("\r")


def _incomplete(exc: Exception, size: int) -> bool:
    """Whether a failed decode may only lack text not read yet (it failed at the end of the
    buffer, or in a string still open there), rather than meeting a real error."""
    if not isinstance(exc, json.JSONDecodeError):
        return False
    return exc.pos >= size - 8 or exc.msg.startswith("Unterminated string")


def _array_records(chunks: Iterator[str]) -> Iterator[str | None]:
    """Element texts of one top-level JSON array, decoded one at a time with raw_decode.

    An element that does not parse is yielded as its text up to the next `}, {` (the parse of
    that text then fails and is reported), and the walk resumes at that `{`: best effort, as a
    string value holding `}, {` can fool it. More text is read only when a decode failed at
    the end of what is held, and then until the held text doubles, so a long element is
    decoded a few times, not once per chunk, and a run of broken elements costs linear time.
    """
    buf = ""
    pos = 0
    eof = False

    def more(at_least: int = 1) -> bool:
        """Read until `at_least` more characters are held (or the input ends)."""
        nonlocal buf, pos, eof
        pieces = [buf[pos:]]
        got = 0
        for text in chunks:
            pieces.append(text)
            got += len(text)
            if got >= at_least:
                break
        else:
            eof = True
        buf, pos = "".join(pieces), 0
        return got > 0

    def resync() -> tuple[re.Match[str] | None, bool]:
        """The next `}, {` after the broken element at `pos`, reading on as needed; and
        whether the element grew past MAX_RECORD_CHARS first (its text is then dropped)."""
        nonlocal pos
        rel, dropped = 1, False
        while True:
            m = _RESYNC.search(buf, pos + rel)
            if m is not None or eof:
                return m, dropped
            if len(buf) - pos > MAX_RECORD_CHARS:
                pos, rel, dropped = len(buf) - 16, 0, True
            else:
                rel = max(rel, len(buf) - pos - 16)
            more(len(buf) - pos)

    more()
    pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
    if buf[pos : pos + 1] != "[":
        return
    pos += 1
    while True:
        pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
        while pos >= len(buf) and more():
            pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
        if pos >= len(buf) or buf[pos] == "]":
            return
        if buf[pos] == ",":
            pos += 1
            continue
        if pos >= _TRIM:
            # A failed decode's error message counts the lines before its position: in a big
            # buffer every broken element cost O(buffer) (2 MB of them took minutes).
            buf, pos = buf[pos:], 0
        try:
            _, end = raw_decode(buf, pos)  # (json's own would raise for a 5000-digit integer)
        except (json.JSONDecodeError, RecursionError) as exc:
            held = len(buf) - pos
            if isinstance(exc, RecursionError):  # too deep to decode: its end is found by depth
                end = _value_end(buf, pos + 1, 1, 1) if buf[pos] in "[{" else len(buf)
                if end < len(buf) or (eof and end > pos + 1):
                    yield buf[pos:end] if end - pos <= MAX_RECORD_CHARS else None
                    pos = end
                    continue
                if not eof and held <= MAX_RECORD_CHARS:
                    more(held)
                    continue
            if not eof and held <= MAX_RECORD_CHARS and _incomplete(exc, len(buf)):
                more(held)  # doubles what is held: a long element is decoded a few times
                continue
        else:
            yield buf[pos:end]
            pos = end
            continue
        m, dropped = resync()
        if dropped:
            yield None
        if m is None:
            if not dropped:
                yield buf[pos:] if len(buf) - pos <= MAX_RECORD_CHARS else None
            return
        if not dropped:
            yield buf[pos : m.start() + 1] if m.start() - pos <= MAX_RECORD_CHARS else None
        pos = m.end()


def records(chunks: Iterator[str]) -> Iterator[str | None]:
    """Raw record texts of decoded JSON text: array elements when it starts with `[`, lines
    otherwise. None stands for a record too large to keep."""
    first = next(chunks, "")
    stripped = first.lstrip(" \t\r\n")
    while not stripped:
        nxt = next(chunks, None)
        if nxt is None:
            return
        first, stripped = nxt, nxt.lstrip(" \t\r\n")
    rest = itertools.chain([first], chunks)
    yield from (_array_records(rest) if stripped.startswith("[") else _line_records(rest))


# --------------------------------------------------------------------------- over-deep values

#: Levels of nesting a record keeps when it is too deep to decode (the root object is level 1):
#: a value nested deeper is replaced by `DEEP_STAND_IN` (see `cut_deep`). Real events are a
#: few levels deep; 100 is far beyond them and far within Python's recursion limit.
MAX_DEPTH = 100
#: The deepest level at which a key's value may be a field (`Event.UserData.Inner.X` is at 5,
#: an evtx_dump `Data` list's `#text` at 6): an over-deep value is replaced from there.
FIELD_LEVEL = 6
DEEP_STAND_IN = f"[value nested deeper than {MAX_DEPTH} levels: not read]"
#: A string (group 1: a `:` after it makes it a key), an opener, a closer, or the `"` of a
#: string left open (the rest of the text is then no JSON: the walk stops there).
_TOKEN = re.compile(r'("[^"\\]*(?:\\[\s\S][^"\\]*)*+")(\s*:)?|([\[{])|[\]}]|"')
#: For skipping a value: a string, a run of openers (group 1) or of closers (group 2) with what
#: may stand between them but a string, or the `"` of a string left open.
_RUN = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*+"|([\[{][\[{\s,:\w.+\-]*)|([\]}][\]}\s,:\w.+\-]*)|"')


def _key_name(text: str) -> str:
    try:
        name = json.loads(text)
    except ValueError:
        return text[1:-1]
    return name if isinstance(name, str) else text[1:-1]


def _value_end(text: str, at: int, depth: int, level: int) -> int:
    """Where the value open at `level` ends, walking from `at` at `depth`: just past its
    closer, or the end of the text when it never closes. Brackets are taken a run at a time
    (`_RUN`), so a value of a million `[` costs a few regex steps, not a Python step each."""
    for m in _RUN.finditer(text, at):
        run = m.group(1) or m.group(2)
        if run is None:
            if m.group() == '"':
                break  # a string that never ends
            continue
        if m.group(1) is not None:
            depth += run.count("[") + run.count("{")
            continue
        closers = run.count("]") + run.count("}")
        if depth - closers >= level:
            depth -= closers
            continue
        for i, ch in enumerate(run):  # the closer that ends the value
            if ch in "]}":
                depth -= 1
                if depth < level:
                    return m.start() + i + 1
    return len(text)


def cut_deep(text: str) -> tuple[str, list[str]] | None:
    """`text` (a record's JSON) with each value nested deeper than `MAX_DEPTH` levels replaced,
    whole, by the string `DEEP_STAND_IN`, and the dotted key path of each value replaced (an
    array's items share their key); None when nothing is that deep.

    What is replaced is the value of the deepest key on the way down that lies within
    `FIELD_LEVEL` levels (the field the deep value belongs to: `X` in `{"X": [[[...]]]}`), or
    the whole record when no key does. Linear in the text whatever its depth: a Python step per
    string or bracket down to `MAX_DEPTH`, a regex step per run of brackets below."""
    depth = 0
    keys: list[tuple[str, int] | None] = [None]  # per open level: the key it is the value of
    pending: tuple[str, int] | None = None  # the last key read, and where its value starts
    out: list[str] = []
    done = 0  # text before this is in `out`
    names: list[str] = []
    resume = 0
    while resume < len(text):
        for m in _TOKEN.finditer(text, resume):
            if m.group(1) is not None:
                if m.group(2):
                    pending = (_key_name(m.group(1)), m.end())
                continue
            if m.group() == '"':
                resume = len(text)  # a string that never ends: not JSON, its decode says so
                break
            if m.group(3) is None:  # a closer
                if depth:
                    depth -= 1
                    del keys[-1]
                pending = None
                continue
            depth += 1
            keys.append(pending if depth <= FIELD_LEVEL else None)
            pending = None
            if depth <= MAX_DEPTH:
                continue
            # Too deep: the value of the deepest key within FIELD_LEVEL goes, to its end.
            level = next((lv for lv in range(FIELD_LEVEL, 1, -1) if keys[lv] is not None), 1)
            found = keys[level]
            start = _WS.match(text, found[1] if found is not None else 0).end()  # type: ignore[union-attr]
            names.append(".".join(k[0] for k in keys[2 : level + 1] if k is not None) or "(record)")
            resume = _value_end(text, m.end(), depth, level)
            out.append(text[done:start])
            out.append(json.dumps(DEEP_STAND_IN))
            done = resume
            depth = level - 1
            del keys[level:]
            break
        else:
            break
    if not names:
        return None
    out.append(text[done:])
    return "".join(out), names
