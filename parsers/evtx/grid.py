"""Chunks off the 64 KiB grid: found between grid positions that hold no chunk.

Why: a log's chunks sit on a grid, one every 64 KiB after the 4 KiB file header, and that is
where the readers (ours, python-evtx) look for them. A carved or concatenated file breaks the
grid: bytes before a run of chunks (the tail of another file, a partial chunk, padding) shift
every chunk after them, and each grid position then holds the end of one chunk and the start of
the next; their records were all lost ("bad chunk signature; chunk skipped", one issue a slot).
So where a grid position holds no chunk, its slot is searched for a chunk signature (`locate`):
a chunk found there is read, with a parse issue naming its offset.

What counts as a chunk off the grid (`_candidate`): its signature, its first record intact at
0x200 (what the damaged-signature rule trusts), the whole chunk inside the file, and no chunk
signature on the next grid position (an off-grid chunk never overlaps one on the grid, so a
damaged chunk of a normal log is read as before: its neighbours hold signatures). Only the first
such signature of a slot counts, and only if it starts past the end of the chunk the slot before
found (the one bytes before the slot can reach): chunks read never overlap, so no record offset
(the event's store id) is read twice, and each slot's answer depends on its bytes and its two
neighbours' alone, however the file is split between workers. Bounded: one `find` pass over the
slot, at most `MAX_CANDIDATES` signatures looked at. Normal files pay nothing: a slot that starts
with a signature (or holds only zeros) is not searched.

A `FileImage` (`parsers.evtx.image`) holds only what was loaded: `locate` loads the neighbour
slots it reads and gives their pages back, but for the part of the next slot an off-grid chunk
covers, which its reader gives back with `release` once the chunk is decoded.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from parsers.evtx.layout import CHUNK_MAGIC, CHUNK_SIZE, FILE_HEADER_SIZE, intact_record

#: Chunk signatures looked at in one slot: a real slot holds one; a crafted one thousands.
MAX_CANDIDATES = 64

#: `Slot.kind`: a chunk on the grid position, as every normal log's chunks are.
ON_GRID = "grid"
#: A chunk found off the grid, in the slot.
OFF_GRID = "off-grid"
#: No chunk: the slot is all zeros (unused, at the end of a log).
EMPTY = "empty"
#: No signature on the grid position, but the first record is intact: its header is damaged.
DAMAGED = "damaged"
#: The slot starts inside the chunk the slot before found off the grid, and holds no other one.
INSIDE = "inside"
#: Nothing to read: no signature, no record.
BAD = "bad"


class Slot(NamedTuple):
    """What the grid slot at `ofs` holds: `chunk`, the offset of the chunk its reader decodes
    (None: none), `kind` (the constants above) and `covered`, where the chunk the slot before
    found off the grid ends (`ofs` when there is none)."""

    chunk: int | None
    kind: str
    covered: int


def _load(buf: Any, start: int, length: int) -> bool:
    """Whether `buf` holds the file's bytes `start` .. `start + length`, loading them into a
    `FileImage` (other buffers hold the whole file)."""
    if start < 0 or start + length > len(buf):
        return False
    load = getattr(buf, "load", None)
    return load is None or load(start, length) == length


def _drop(buf: Any, start: int, length: int) -> None:
    drop = getattr(buf, "drop", None)
    if drop is not None and length > 0:
        drop(start, length)


def _candidate(buf: Any, slot_ofs: int) -> int | None:
    """The first chunk starting inside the slot at `slot_ofs` (past its first byte) that counts
    as one off the grid (module docstring). Reads the slot and the next (the caller loaded both)."""
    nxt = slot_ofs + CHUNK_SIZE
    if bytes(buf[nxt : nxt + len(CHUNK_MAGIC)]) == CHUNK_MAGIC:
        return None
    end = min(len(buf), nxt + len(CHUNK_MAGIC) - 1)
    at: int = slot_ofs + 1
    for _ in range(MAX_CANDIDATES):
        at = buf.find(CHUNK_MAGIC, at, end)
        if at < 0 or at + CHUNK_SIZE > len(buf):
            return None
        if intact_record(buf, at + 0x200, at + CHUNK_SIZE):
            return at
        at += 1
    return None


def _signed(buf: Any, ofs: int) -> bool:
    return bytes(buf[ofs : ofs + len(CHUNK_MAGIC)]) == CHUNK_MAGIC


def _covered(buf: Any, slot_ofs: int) -> int:
    """Where the chunk the slot before the one at `slot_ofs` holds off the grid ends (`slot_ofs`
    when it holds none: no chunk reaches into this slot). Loads the slot before, then gives its
    pages back (this slot's are the caller's)."""
    before = slot_ofs - CHUNK_SIZE
    if before < FILE_HEADER_SIZE:
        return slot_ofs
    _load(buf, before, CHUNK_SIZE)
    prev = None if _signed(buf, before) else _candidate(buf, before)
    _drop(buf, before, CHUNK_SIZE)
    return slot_ofs if prev is None else prev + CHUNK_SIZE


def locate(buf: Any, slot_ofs: int) -> Slot:
    """What the slot at `slot_ofs` holds (its 64 KiB loaded by the caller). A slot that starts
    with a chunk signature is a chunk on the grid, one of zeros is empty, and neither reads
    nothing more; for any other, the slot before (its off-grid chunk, which may cover this one's
    start) and this one are searched for a chunk off the grid, then the first record is tried
    (`DAMAGED`). Off the grid, the part of the next slot the chunk covers stays loaded:
    `release` gives it back."""
    if _signed(buf, slot_ofs):
        return Slot(slot_ofs, ON_GRID, slot_ofs)
    if bytes(buf[slot_ofs : slot_ofs + CHUNK_SIZE]).count(0) == CHUNK_SIZE:
        return Slot(None, EMPTY, slot_ofs)
    nxt = slot_ofs + CHUNK_SIZE
    covered = _covered(buf, slot_ofs)
    next_len = min(CHUNK_SIZE, len(buf) - nxt)
    if next_len > 0:
        _load(buf, nxt, next_len)
    found = _candidate(buf, slot_ofs)
    if found is not None and found >= covered and _load(buf, found, CHUNK_SIZE):
        return Slot(found, OFF_GRID, covered)
    _drop(buf, nxt, next_len)
    if covered > slot_ofs:
        return Slot(None, INSIDE, covered)
    if intact_record(buf, slot_ofs + 0x200, slot_ofs + CHUNK_SIZE):
        return Slot(slot_ofs, DAMAGED, covered)
    return Slot(None, BAD, covered)


def release(buf: Any, slot_ofs: int, slot: Slot) -> None:
    """Give back the pages `locate` left loaded for an off-grid chunk of the slot at `slot_ofs`
    (those of the next slot; the slot's own are the caller's)."""
    if slot.kind == OFF_GRID and slot.chunk is not None:
        nxt = slot_ofs + CHUNK_SIZE
        _drop(buf, nxt, slot.chunk + CHUNK_SIZE - nxt)


def slot_of(locator: int) -> int:
    """The offset of the grid slot that holds the byte at `locator` (past the file header)."""
    return FILE_HEADER_SIZE + ((locator - FILE_HEADER_SIZE) // CHUNK_SIZE) * CHUNK_SIZE


def chunk_holding(buf: Any, locator: int) -> int:
    """The offset of the chunk the decoder read the record at `locator` from: the chunk its
    slot holds when it starts at or before the record, else the one the slot before found off
    the grid (the record's grid slot, as before, when neither holds it). Loads what it reads
    (a whole `FileImage` slot or three: the caller then loads the chunk it decodes). A record
    past the last whole slot can only be in the chunk the slot before found off the grid."""
    slot_ofs = slot_of(locator)
    if _load(buf, slot_ofs, CHUNK_SIZE):
        slot = locate(buf, slot_ofs)
        release(buf, slot_ofs, slot)
        if slot.chunk is not None and slot.chunk <= locator:
            return slot.chunk
        covered = slot.covered
    else:
        _load(buf, slot_ofs, len(buf) - slot_ofs)
        covered = _covered(buf, slot_ofs)
    return covered - CHUNK_SIZE if covered > locator else slot_ofs
