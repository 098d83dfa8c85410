"""What chunks share, per process: template content ids and the builders of record shapes.

Why: a chunk's templates sit at offsets that differ from chunk to chunk (and file to file), but
most chunks of a log hold the same few templates. Each template is reduced to an id of its
content (`parsers.evtx.template_key`), so a record shape compiled in one chunk is found again,
by content, in every other. Every table here is bounded (entries and bytes): a crafted file of
distinct templates must not grow memory without bound; past a bound, shapes are compiled for
their chunk alone.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

from parsers.evtx.errors import BinXmlError
from parsers.evtx.interpret import Builder
from parsers.evtx.template_key import template_walk

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from

#: Distinct template contents and compiled shapes remembered across chunks, per process
#: (real logs have tens to hundreds; a crafted file must not grow memory without bound).
MAX_CANON = 4096
MAX_SHAPES = 8192

#: A record's shape: (template offset, substitution types, then (substitution index, nested
#: shape) for every nested BinXML value); records with the same shape share one builder. Across
#: chunks the template offsets are replaced by content ids (`CANON`).
ShapeKey = tuple[Any, ...]

#: Template content key -> id, and canonical shape -> builder (or the error compiling it gave).
CANON: dict[bytes, int] = {}
SHAPES: dict[ShapeKey, Builder | BinXmlError] = {}
#: (template offset, raw template bytes) -> (content id, ((offset, bytes) of each NameString it
#: references outside those bytes, ...)).
RAW: dict[tuple[int, bytes], tuple[int, tuple[tuple[int, bytes], ...]]] = {}
#: Bytes the two key tables above may still hold (templates can be up to a chunk long).
_BUDGET = [32 * 1024 * 1024]
_IDS = itertools.count()


def content_id(buf: bytes, template_ofs: int) -> int | None:
    """The process-wide id of the content of the template at `template_ofs` of the chunk `buf`,
    or None when it cannot be shared (the walk failed, or the tables are full).

    Most chunks of a log hold the same template at the same offset with the same bytes, so
    those bytes (and the names the template references outside them, compared in place)
    identify the content more cheaply than the walk."""
    raw: tuple[int, bytes] | None = None
    end = template_ofs + 0x18
    if end <= len(buf):
        end += _U32(buf, template_ofs + 0x14)[0]
        if end <= len(buf):
            raw = (template_ofs, buf[template_ofs + 4 : end])
            hit = RAW.get(raw)
            if hit is not None and all(buf.startswith(name, at) for at, name in hit[1]):
                return hit[0]
    try:
        key, stop, names = template_walk(buf, template_ofs)
    except (BinXmlError, struct.error):
        return None
    cid = CANON.get(key)
    if cid is None and len(CANON) < MAX_CANON and _BUDGET[0] >= len(key):
        # setdefault and next() are atomic: decoding threads never share an id
        cid = CANON.setdefault(key, next(_IDS))
        _BUDGET[0] -= len(key)
    if cid is not None and raw is not None and stop <= end and len(RAW) < MAX_CANON:
        _remember_raw(buf, raw, end, cid, names)
    return cid


def _remember_raw(buf: bytes, raw: tuple[int, bytes], end: int, cid: int, names: list[int]) -> None:
    """Remember the raw bytes of a template that ends at `end` as standing for content `cid`,
    with the NameStrings it references outside those bytes (to be compared in place)."""
    template_ofs = raw[0]
    outside: dict[tuple[int, bytes], None] = {}
    for at in names:  # the walk read each of them: all inside the chunk
        name_end = at + 8 + 2 * _U16(buf, at + 6)[0]
        if at + 6 < template_ofs + 4 or name_end > end:
            outside[(at + 6, buf[at + 6 : name_end])] = None
    if _BUDGET[0] >= len(raw[1]):
        _BUDGET[0] -= len(raw[1])
        RAW[raw] = (cid, tuple(outside))
