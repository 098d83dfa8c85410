"""Indent an event's raw XML (or JSON record) for reading in the detail pane's XML tab.

python-evtx and Event XML exports write a record on one line or two; the analyst reads it
indented. The text is parsed with the safe parser (no entities, DTDs or network: the XML is
attacker-controlled) and only whitespace between elements changes: values are kept as they
are. Text that does not parse (an error message, a damaged record) comes back unchanged.
"""

from __future__ import annotations

import json

from lxml import etree

from parsers.eventxml import STAND_INS, masked_spellings
from parsers.xml_to_event import safe_parser

#: Bigger texts are shown as they are (a record is at most a 64 KiB chunk; this bounds the parse).
MAX_CHARS = 1_000_000


def indented(text: str) -> str:
    """`text` indented two spaces per level when it is XML or a JSON object, else unchanged."""
    body = text.strip()
    if not body or len(body) > MAX_CHARS:
        return text
    if body.startswith("{"):
        try:
            return json.dumps(json.loads(body), ensure_ascii=False, indent=2)
        except (ValueError, RecursionError):
            return text
    if not body.startswith("<") or "<!DOCTYPE" in body.upper():
        return text  # a DOCTYPE is no event's: shown exactly as written
    try:
        root = etree.fromstring(body.encode("utf-8"), safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return _with_controls(body, text)
    return _laid_out(root)


def _with_controls(body: str, text: str) -> str:
    """`body` indented when what stopped the parse is a character XML 1.0 forbids (ESC or BEL in
    a command line, raw or as `&#x1b;` as Windows writes it): parsed with stand-ins for them
    (`parsers.eventxml.masked_spellings`), then each put back as it was spelled, in order."""
    masked = masked_spellings(body)
    if masked is None:
        return text
    body, spellings = masked
    try:
        root = etree.fromstring(body.encode("utf-8"), safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return text
    out = _laid_out(root)
    back = iter(spellings)
    restored = STAND_INS.sub(lambda m: next(back, m.group(0)), out)
    return restored if next(back, None) is None else text  # (every one put back, else as it came)


def _laid_out(root: etree._Element) -> str:
    etree.indent(root, space="  ")
    # The comment before the root (a reconstruction's label) is kept, on its own line.
    parts = [_alone(node) for node in reversed(list(root.itersiblings(preceding=True)))]
    parts.append(_alone(root))
    parts += [_alone(node) for node in root.itersiblings()]
    return "\n".join(parts)


def _alone(node: etree._Element) -> str:
    """One top-level node as text, without the whitespace that followed it."""
    node.tail = None
    return str(etree.tostring(node, encoding="unicode"))
