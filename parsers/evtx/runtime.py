"""What generated builders call at run time: text normalisers and caches of rendered values.

Why apart from `parsers.evtx.codegen`: these run per record (the generator runs per shape), and
their caches are shared by every builder of the process. Each cache is bounded: a crafted file
of unique values fills them once and then only looks up.
"""

from __future__ import annotations

from parsers.evtx.values import RENDER, clean

#: Pair caches kept (one per field name and value type): as many as shapes may be shared.
MAX_PAIR_CACHES = 8192


def norm_text(text: str) -> str:
    """Element text as the XML parser gives it: line ends normalised to LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def norm_attr(text: str) -> str:
    """An attribute value as lxml gives it: line ends normalised, then tabs and LFs as spaces."""
    text = norm_text(text)
    return text.replace("\t", " ").replace("\n", " ") if ("\n" in text or "\t" in text) else text


def fix_wstring(text: str) -> str:
    """The rest of `values._r_wstring` for a decoded string that is not all printable (the
    generated code tests `isprintable()`, which is false for NUL, controls, CR, LF and TAB).
    Most such strings merely end with their NUL terminator."""
    text = text.rstrip("\x00")
    return text if text.isprintable() else clean(text)


#: Rendered SIDs and GUIDs by their bytes: the same few accounts and providers recur in every
#: record, and rendering one costs about a microsecond (a lookup a sixth of that). Bounded.
SIDS: dict[bytes, str] = {}
GUIDS: dict[bytes, str] = {}
MAX_VALUE_CACHE = 65536


def render_sid(buf: bytes, ofs: int, size: int) -> str:
    """`RENDER[0x13]`, remembered when the declared size is the SID's own (the text then
    depends on these bytes alone)."""
    text = RENDER[0x13](buf, ofs, size)
    if size == 8 + 4 * buf[ofs + 1] and len(SIDS) < MAX_VALUE_CACHE:
        SIDS[buf[ofs : ofs + size]] = text
    return text


def render_guid(buf: bytes, ofs: int) -> str:
    """`RENDER[0x0F]` for a 16-byte GUID, remembered."""
    text = RENDER[0x0F](buf, ofs, 16)
    if len(GUIDS) < MAX_VALUE_CACHE:
        GUIDS[buf[ofs : ofs + 16]] = text
    return text


#: Ready (name, text) pairs by the raw bytes of the value, per field name and substitution type
#: (which fixes how `codegen` decodes it): each cache is bounded, and so is their total (a field
#: of unique values, such as a logon GUID, fills its cache once and then only looks up).
PAIR_CACHE_ITEMS = 4096
PAIR_BUDGET = [200_000]
_PAIR_CACHES: dict[tuple[str, int], dict[bytes, tuple[str, str]]] = {}


def pair_cache(name: str, vtype: int) -> dict[bytes, tuple[str, str]]:
    """The (name, text) pair cache of field `name` decoded as `vtype` (shared by every shape;
    past `MAX_PAIR_CACHES`, a fresh cache for this builder alone)."""
    key = (name, vtype)
    cache = _PAIR_CACHES.get(key)
    if cache is None:
        cache = {}
        if len(_PAIR_CACHES) < MAX_PAIR_CACHES:
            _PAIR_CACHES[key] = cache
    return cache


#: The same for the store rows' encoder: the pair's marshal piece (`parsers.evtx.pieces`) by the
#: raw bytes of the value, per field name and substitution type, with a budget of its own.
PIECE_BUDGET = [200_000]
_PIECE_CACHES: dict[tuple[str, int], dict[bytes, bytes]] = {}


def piece_cache(name: str, vtype: int) -> dict[bytes, bytes]:
    """`pair_cache` for marshal pieces."""
    key = (name, vtype)
    cache = _PIECE_CACHES.get(key)
    if cache is None:
        cache = {}
        if len(_PIECE_CACHES) < MAX_PAIR_CACHES:
            _PIECE_CACHES[key] = cache
    return cache
