"""What a generated builder calls when an EventData value is not in its cache yet.

Why apart from the generated code: each builder used to carry its own miss functions, two per
cached field (the pair and the marshal piece), written out and compiled with the builder. They
differ only in the constants they bind, yet made about a third of each shape's source, and
compiling the source is what a worker spends first on every shape it meets (the 105 MB log's
24 shapes: 0.27 s of one core, paid by the parent and again by each worker). Misses are rare
(most values come from the caches), so one more call there costs nothing that shows.

The text each returns is what the generated in-line readers give for the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from parsers.evtx import pieces
from parsers.evtx import runtime as rt
from parsers.evtx.codegen_slots import INTS, UNPACK
from parsers.evtx.values import T_WSTRING

PieceMiss = Callable[[bytes, bytes, int], bytes]


def wide_text(w: bytes) -> str:
    """A UTF-16 value's text (UnicodeDecodeError is the builder's to catch: it falls back)."""
    v = w.decode("utf-16")
    if not v.isprintable():
        v = rt.norm_text(rt.fix_wstring(v))
    return v


def _int_text(vtype: int) -> Callable[[bytes], str]:
    fmt, _width, shown = INTS[vtype]
    unpack = UNPACK[fmt]
    if shown == "{}":
        return lambda w: str(unpack(w, 0)[0])
    return lambda w: shown.format(unpack(w, 0)[0])


def value_text(vtype: int) -> Callable[[bytes], str]:
    """The text of a cached value of substitution type `vtype` (UTF-16 or an integer type)."""
    return wide_text if vtype == T_WSTRING else _int_text(vtype)


def pair_miss(name: str, vtype: int, cache: dict[bytes, tuple[str, str]]) -> Callable[[bytes], tuple[str, str]]:
    """The (name, text) pair of value bytes `w`, kept in `cache` while it and the budget last."""
    text = value_text(vtype)

    def miss(w: bytes) -> tuple[str, str]:
        d = (name, text(w))
        if len(cache) < rt.PAIR_CACHE_ITEMS and rt.PAIR_BUDGET[0] > 0:
            cache[w] = d
            rt.PAIR_BUDGET[0] -= 1
        return d

    return miss


def piece_miss(name: str, vtype: int, cache: dict[bytes, bytes]) -> Callable[[bytes], bytes]:
    """The pair's marshal piece (`parsers.evtx.pieces`) of value bytes `w`, kept likewise."""
    text, head = value_text(vtype), pieces.name_head(name)

    def miss(w: bytes) -> bytes:
        d = head + pieces.str_piece(text(w))
        if len(cache) < rt.PAIR_CACHE_ITEMS and rt.PIECE_BUDGET[0] > 0:
            cache[w] = d
            rt.PIECE_BUDGET[0] -= 1
        return d

    return miss


def sid_piece_miss(name: str, cache: dict[bytes, bytes]) -> PieceMiss:
    """The piece of a SID value `w` found at `a` in `buf`; kept only when `w` is exactly the SID
    (its declared size is the SID's own: the text then depends on these bytes alone)."""
    head = pieces.name_head(name)

    def miss(w: bytes, buf: bytes, a: int) -> bytes:
        d = head + pieces.str_piece(rt.SIDS.get(w) or rt.render_sid(buf, a, len(w)))
        if len(w) > 1 and len(w) == 8 + 4 * w[1] and len(cache) < rt.PAIR_CACHE_ITEMS and rt.PIECE_BUDGET[0] > 0:
            cache[w] = d
            rt.PIECE_BUDGET[0] -= 1
        return d

    return miss


def guid_piece_miss(name: str, cache: dict[bytes, bytes]) -> PieceMiss:
    """The piece of a 16-byte GUID value `w` found at `a` in `buf`, kept."""
    head = pieces.name_head(name)

    def miss(w: bytes, buf: bytes, a: int) -> bytes:
        d = head + pieces.str_piece(rt.GUIDS.get(w) or rt.render_guid(buf, a))
        if len(cache) < rt.PAIR_CACHE_ITEMS and rt.PIECE_BUDGET[0] > 0:
            cache[w] = d
            rt.PIECE_BUDGET[0] -= 1
        return d

    return miss
