"""Event XML with elements nested too deep for lxml, made readable at the cost of that value.

lxml (libxml2 without XML_PARSE_HUGE, which stays off) refuses a document nested past 256
elements: "Excessive depth in document". One `<Data>` holding elements 300 deep then cost the
whole event, its ordinary fields (NewProcessName, CommandLine) with it. `cut_deep` rewrites
such an event's text: the content of the element on the way down at `FIELD_LEVEL` (the field's
`<Data>` at level 3 holds it, `<UserData>`'s fields sit at level 4) is replaced by the text
`DEEP_STAND_IN`; everything else is kept as it is, and the loader names the field in a parse
issue (`parsers.eventxml.parse_fragment`).

Linear in the text whatever it holds: one Python step per tag down to `FIELD_LEVEL`, then a
regex step per run of open, close or empty tags; a comment, CDATA section, PI or tag left
open ends the walk (the event is not XML, and its parse says so).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import unescape

#: Levels of elements an event keeps when lxml refuses it as too deep (`<Event>` is level 1).
MAX_DEPTH = 100
#: The level whose element's content is replaced on the way to an over-deep element.
FIELD_LEVEL = 4
DEEP_STAND_IN = f"[value nested deeper than {MAX_DEPTH} levels: not read]"
#: The words lxml's error uses for a document nested too deep.
LXML_TOO_DEEP = "Excessive depth"

#: A start tag (group 1: its name; group 2: the rest, `/` last when it is empty): quoted
#: attribute values may hold `>`.
_START = re.compile(r"""<([^\s/>!?]+)((?:[^>"']|"[^"]*"|'[^']*')*+)>""")
_NAME_ATTR = re.compile(r"""\sName\s*=\s*(?:"([^"]*)"|'([^']*)')""")
#: Runs of tags of one kind, with the text between them. Possessive (`++`): a run of a million
#: tags keeps no backtracking state (it cost 150 MB with `+`).
_OPEN_RUN = re.compile(r"""(?:<[^\s/>!?<"'](?:[^<>"']|"[^"]*"|'[^']*')*+(?<!/)>[^<]*)++""")
_CLOSE_RUN = re.compile(r"(?:</[^<>]*>[^<]*)++")
#: A run of elements that hold text only, or are empty (net depth none; quotes allowed).
_LEAF_RUN = re.compile(
    r"""(?:<[^\s/>!?<"'](?:[^<>"']|"[^"]*"|'[^']*')*(?:(?<!/)>[^<]*</[^<>]*>|/>)[^<]*)++"""
)
_OPAQUE = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">"))


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _opaque_end(text: str, p: int) -> int | None:
    """Just past the comment, CDATA section, PI or declaration at `p`; -1 when it never
    ends; None when `p` opens none."""
    for opener, closer in _OPAQUE:
        if text.startswith(opener, p):
            end = text.find(closer, p + len(opener))
            return -1 if end < 0 else end + len(closer)
    return None


def _nth_lt(text: str, n: int) -> int:
    """The index of the `<` that has `n` before it in `text` (it has more): found by halving
    with `str.count`, so no list of pieces is built (8 MB of close tags made 200 MB of them)."""
    lo, hi = 0, len(text)  # the answer lies in [lo, hi)
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if text.count("<", lo, mid) > n:
            hi = mid
        else:
            n -= text.count("<", lo, mid)
            lo = mid
    while True:
        lo = text.index("<", lo)
        if n == 0:
            return lo
        n -= 1
        lo += 1


def _close_at(text: str, p: int, depth: int, level: int) -> int:
    """Where the close tag of the element open at `level` starts, walking from `p` at
    `depth`; the end of the text when it never closes."""
    while p >= 0:
        m = _OPEN_RUN.match(text, p)
        if m is not None:
            depth += m.group().count("<")
            p = text.find("<", m.end())
            continue
        m = _CLOSE_RUN.match(text, p)
        if m is not None:
            run = m.group()
            closers = run.count("<")
            if depth - closers >= level:
                depth -= closers
                p = text.find("<", m.end())
                continue
            return p + _nth_lt(run, depth - level)  # after the close tags that come first
        m = _LEAF_RUN.match(text, p)
        if m is not None:
            p = text.find("<", m.end())
            continue
        end = _opaque_end(text, p)
        if end is None:
            m = _START.match(text, p)
            if m is None:
                break
            if not m.group(2).endswith("/"):
                depth += 1
            end = m.end()
        if end < 0:
            break
        p = text.find("<", end)
    return len(text)


def _field_name(path: list[tuple[str, str | None, int]]) -> str:
    """The field the over-deep value belongs to, from the elements at levels 1..FIELD_LEVEL
    on the way down (local name, `Name` attribute or unnamed `Data` label, content start)."""
    names = [name for name, _, _ in path[1:]]
    if names[0] == "EventData" and len(path) > 2:
        return path[2][1] or names[1]
    if names[0] == "UserData" and len(names) > 2:
        return names[2]
    return "/".join(names)


def cut_deep(text: str) -> tuple[str, list[str]] | None:
    """The text of one `<Event>` with the content of each element at `FIELD_LEVEL` that holds
    elements nested deeper than `MAX_DEPTH` levels replaced by `DEEP_STAND_IN`, and the
    field each was in (`Data` by its `Name`, a UserData field by its element, else the element
    path); None when nothing is that deep."""
    depth = 0
    path: list[tuple[str, str | None, int]] = []  # levels 1..FIELD_LEVEL: name, label, content start
    unnamed = 0  # unnamed <Data> met in the current level-2 element
    out: list[str] = []
    done = 0
    names: list[str] = []
    p = text.find("<")
    while p >= 0:
        if depth > MAX_DEPTH:  # the level-FIELD_LEVEL element's content goes, to its close tag
            done_at = _close_at(text, p, depth, FIELD_LEVEL)
            out.append(text[done : path[FIELD_LEVEL - 1][2]])
            out.append(DEEP_STAND_IN)
            done = done_at
            names.append(_field_name(path))
            depth = FIELD_LEVEL
            p = text.find("<", done_at)
            continue
        if depth >= FIELD_LEVEL:
            m = _OPEN_RUN.match(text, p)
            if m is not None:
                depth += m.group().count("<")
                p = text.find("<", m.end())
                continue
        m = _LEAF_RUN.match(text, p) if depth != 2 else None  # (an unnamed `<Data>` is counted)
        if m is not None:
            p = text.find("<", m.end())
            continue
        if text.startswith("</", p):
            end = text.find(">", p)
            if end < 0:
                break
            depth -= 1
            del path[max(depth, 0) :]
            p = text.find("<", end)
            continue
        end_or_none = _opaque_end(text, p)
        if end_or_none is None:
            m = _START.match(text, p)
            if m is None:
                break
            end = m.end()
            empty = m.group(2).endswith("/")
            if depth < FIELD_LEVEL:
                name = _local(m.group(1))
                label = None
                if depth == 1:
                    unnamed = 0
                elif depth == 2 and name == "Data":
                    attr = _NAME_ATTR.search(m.group(2))
                    if attr is not None and (attr.group(1) or attr.group(2)):
                        label = unescape(attr.group(1) or attr.group(2), {"&quot;": '"', "&apos;": "'"})
                    else:
                        label = "Data" if unnamed == 0 else f"Data[{unnamed}]"
                        unnamed += 1
                if not empty:
                    path.append((name, label, end))
            if not empty:
                depth += 1
        else:
            end = end_or_none
        if end < 0:
            break
        p = text.find("<", end)
    if not names:
        return None
    out.append(text[done:])
    return "".join(out), names
