"""Indent an event's raw XML (or JSON record) for reading in the detail pane's XML tab.

python-evtx and Event XML exports write a record on one line or two; the analyst reads it
indented. The text is parsed with the safe parser (no entities, DTDs or network: the XML is
attacker-controlled) and only whitespace between elements changes: values are kept as they
are. Text that does not parse (an error message, a damaged record) comes back unchanged.
"""

from __future__ import annotations

import json

from lxml import etree

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
        return text
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
