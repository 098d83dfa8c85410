"""EVTX chunks decoded into events or store rows: the fast decoder, python-evtx for the rest.

Why: `parsers.evtx.chunk.ChunkDecoder` decodes the records it understands (nearly all) without
python-evtx; a record it rejects goes to the reference decoder (`parsers.evtx.reference`, on a
step budget) for that record alone, and one neither can decode becomes a ParseIssue naming both
reasons. Same records, same issues and same order as `parsers.evtx.reference.iter_chunk`, as
long as python-evtx stays within its budgets (per record, per chunk, per file: `_Reference`),
but for bad values: a record our decoder keeps with a stand-in for one carries an issue naming
it (`values.value_notes`), and python-evtx's reading of a record holding a value whose size
contradicts its type is refused (`chunk.suspect_values`: it reads past such a value), and the
chunks a carved or concatenated file holds off the 64 KiB grid are read too (`grid`, an issue
each), where python-evtx reads the grid's alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from core.model.event import EVENT_FIELDS, Event, ParseIssue, make_event
from core.model.rows import EventRow
from parsers.evtx import grid
from parsers.evtx import reference as ref
from parsers.evtx.chunk import ChunkDecoder, suspect_values
from parsers.evtx.errors import HopelessRecord
from parsers.evtx.guard import StepBudgetExceeded, steps_taken
from parsers.evtx.interpret import EventTuple as EventTuple
from parsers.evtx.pieces import PiecePostings, encode_one
from parsers.evtx.values import bad_values_reason, value_notes

_EVENT_FIELDS = EVENT_FIELDS


def as_tuple(event: Event) -> EventTuple:
    """An Event's fields in declaration order (the inverse of `make_event`)."""
    return tuple(getattr(event, name) for name in _EVENT_FIELDS)


def iter_chunk(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool = True
) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of the chunk at `chunk_ofs` of the file mapped in `buf`.

    Same records, same issues and same order as `parsers.evtx.reference.iter_chunk`. A record
    the fast decoder rejects goes to python-evtx (when `fallback`); one neither can decode is a
    ParseIssue naming both reasons.
    """
    return cast("Iterator[Event | ParseIssue]", _chunk_items(buf, index, chunk_ofs, source, path, fallback, True))


def iter_chunk_tuples(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool = True
) -> Iterator[EventTuple | ParseIssue]:
    """`iter_chunk` with each Event as its fields in declaration order (`make_event` builds
    it): worker processes ship these without building Event objects at all."""
    items = _chunk_items(buf, index, chunk_ofs, source, path, fallback, False)
    return cast("Iterator[EventTuple | ParseIssue]", items)


def _chunk_data(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str
) -> tuple[bytes | None, list[ParseIssue], grid.Slot]:
    """The 64 KiB of the chunk read for the grid slot at `chunk_ofs` (None: nothing to decode),
    the issues of its damaged headers, and where the chunk lies (`grid.locate`: its `chunk` is
    the offset its records are read from; `grid.release` after them).

    A slot without a chunk signature is searched for a chunk off the grid (a carved or
    concatenated file), read with an issue naming its offset; else it is skipped (one issue),
    unless its first record is intact (`reference.intact_record`): then only the signature was
    damaged, and its records are read with an issue saying so (python-evtx reads them whatever
    the signature). All zeros: an unused chunk at the end of a file, no issue. The first chunk
    also answers for the file header: a file read although its signature is damaged
    (`reference.check_evtx_header`) carries that issue."""
    issues: list[ParseIssue] = []
    if index == 0 and chunk_ofs == ref.FILE_HEADER_SIZE and bytes(buf[:8]) != ref.FILE_MAGIC:
        reason = "file header damaged: bad file signature; its chunks read anyway"
        issues.append(ParseIssue(source, path, reason, None, 0))
    slot = grid.locate(buf, chunk_ofs)
    kind, at = slot.kind, slot.chunk
    if at is None:
        if kind == grid.BAD:
            issues.append(ParseIssue(source, path, "bad chunk signature; chunk skipped", index, chunk_ofs))
        elif kind == grid.INSIDE:
            rest = bytes(buf[slot.covered : chunk_ofs + ref.CHUNK_SIZE])
            if rest.count(0) != len(rest):
                reason = (f"no chunk in the {len(rest):,} bytes after the chunk at offset "
                          f"{slot.covered - ref.CHUNK_SIZE:#x}; skipped")
                issues.append(ParseIssue(source, path, reason, index, slot.covered))
        return None, issues, slot
    if kind == grid.DAMAGED:
        issues.append(ParseIssue(source, path, "chunk header damaged: bad chunk signature; its records read anyway",
                                 index, chunk_ofs))
    elif kind == grid.OFF_GRID:
        reason = (f"chunk off the 64 KiB grid at offset {at:#x} ({at - chunk_ofs:,} bytes past its grid "
                  f"position, a carved or concatenated file); its records read")
        issues.append(ParseIssue(source, path, reason, index, at))
    return bytes(buf[at : at + ref.CHUNK_SIZE]), issues, slot


#: Steps python-evtx may take over all the records of one chunk (each record still has
#: `guard.MAX_STEPS` of its own, so a chunk costs at most both, ~1.5 s): past it, the chunk's
#: other rejected records are issues without asking it. Why: a chunk of ~1,500 tiny damaged
#: records, each failing within its own budget (python-evtx walks a garbage substitution count
#: to the end of the file: 16 ms a record in a 72 KB file, more in a larger one), took minutes.
#: Real logs take at most ~1.2M steps in a chunk; a record python-evtx decodes, 15k-45k. Only the
#: steps of records it fails on count here: the ones it decodes are events kept, bounded apart
#: (`CHUNK_ALL_STEPS`: a chunk of records our decoder lacks a construct for is not lost).
CHUNK_STEPS = 2_000_000
#: Steps python-evtx may take over all the records of one chunk, those it decodes included
#: (~7 s): a chunk of hostile records that it decodes, slowly, is bounded too.
CHUNK_ALL_STEPS = 20_000_000
#: Chunks per file in this process on which python-evtx looped or spent `CHUNK_STEPS`: past
#: `MAX_GIVE_UPS`, the file's other records are not handed to it (a crafted file of such chunks
#: then costs a few budgets, not one per chunk).
_GAVE_UP: dict[str, int] = {}
MAX_GIVE_UPS = 3


def new_load(path: str) -> None:
    """Forget the chunks python-evtx gave up on in an earlier load of `path` in this process, so
    that each load of a file spends the same budgets and gives the same issues (an app or a test
    loading a file again skipped python-evtx on every chunk once a load had spent the file's)."""
    _GAVE_UP.pop(path, None)


class _Reference:
    """python-evtx for the records of one chunk that the fast decoder rejects (its chunk
    header parsed once, on the first such record), on the chunk's budget of steps."""

    __slots__ = ("buf", "chunk", "chunk_ofs", "data", "failed", "index", "path", "skip", "source", "spent")

    def __init__(self, buf: Any, index: int, chunk_ofs: int, source: int, path: str, data: bytes) -> None:
        self.buf, self.index, self.chunk_ofs, self.source, self.path = buf, index, chunk_ofs, source, path
        self.data = data  # the chunk's 64 KiB (what `suspect_values` reads)
        self.chunk: Any = None
        self.spent = 0  # steps python-evtx took on this chunk's records
        self.failed = 0  # of which on records it could not decode
        self.skip: str | None = None  # why python-evtx is not asked again on this chunk

    def decode(
        self, offset: int, fast_error: Exception, fallback: bool = True, bad: list[str] | None = None
    ) -> Event | ParseIssue:
        """The record at `offset` from python-evtx, or the issue naming both decoders' reasons
        (only the fast one's when `fallback` is off or the record is hopeless). Once python-evtx
        loops on a record or has taken `CHUNK_STEPS` in a chunk, the chunk's other records are
        not handed to it: a hostile chunk costs one budget, not one per record.

        python-evtx reads a fixed-width value at its type's width whatever its declared size,
        into the next value's bytes: a record holding such a value (`chunk.suspect_values`) is
        not taken from it (a uint32 of 3 bytes became 1963131393, an EventID of none EventID
        72), but is an issue naming the values. `bad`: the notes of the values our decoder
        replaced with stand-ins before it failed (`values.value_notes`), named too."""
        fast_reason = f"{type(fast_error).__name__}: {fast_error}"
        if bad:
            fast_reason = f"{fast_reason}; {bad_values_reason(bad)}"
        if not fallback or isinstance(fast_error, HopelessRecord):
            return ref.issue_at(self.buf, self.source, self.path, fast_reason[:300], self.index, offset)
        if self.skip is None and _GAVE_UP.get(self.path, 0) >= MAX_GIVE_UPS:
            self.skip = f"it looped or spent its budget on {MAX_GIVE_UPS} chunks of this file"
        if self.skip is not None:
            reason = f"python-evtx skipped: {self.skip} (fast: {fast_reason})"[:300]
            return ref.issue_at(self.buf, self.source, self.path, reason, self.index, offset)
        before = steps_taken()
        decoded = False
        try:
            if self.chunk is None:
                self.chunk = ref.chunk_header(self.buf, self.chunk_ofs)
            event = ref.decode_record(self.buf, self.chunk, offset, self.source)
            decoded = True
            suspects = suspect_values(self.data, offset - self.chunk_ofs)
            if suspects:
                reason = (f"bad value{'s' if len(suspects) > 1 else ''}: {'; '.join(suspects)}: python-evtx reads "
                          f"past such a value, record not taken from it (fast: {fast_reason})")
                return ref.issue_at(self.buf, self.source, self.path, reason[:300], self.index, offset)
            return event
        except Exception as exc:  # noqa: BLE001 - one bad record costs only itself
            if isinstance(exc, StepBudgetExceeded):
                self._give_up("it looped on this chunk")
            reason = f"{type(exc).__name__}: {exc} (fast: {fast_reason})"[:300]
            return ref.issue_at(self.buf, self.source, self.path, reason, self.index, offset)
        finally:
            cost = steps_taken() - before
            self.spent += cost
            if not decoded:
                self.failed += cost
            if self.skip is None and (self.failed >= CHUNK_STEPS or self.spent >= CHUNK_ALL_STEPS):
                self._give_up(f"this chunk's records spent its budget of {CHUNK_STEPS:,} steps")

    def _give_up(self, why: str) -> None:
        """Ask python-evtx nothing more on this chunk, and count the chunk against the file."""
        self.skip = why
        if len(_GAVE_UP) > 256:
            _GAVE_UP.clear()
        _GAVE_UP[self.path] = _GAVE_UP.get(self.path, 0) + 1


def encode_chunk(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, base: int, postings: PiecePostings,
    rows: list[EventRow], issues: list[ParseIssue],
) -> None:
    """`iter_chunk` as store rows appended to `rows` (ids `base | record offset`), their
    EventData pairs added to `postings` (by their marshal pieces), and parse issues appended to `issues`."""
    data, damaged, slot = _chunk_data(buf, index, chunk_ofs, source, path)
    issues.extend(damaged)
    if data is None:
        return
    try:
        _encode_records(buf, index, slot.chunk or chunk_ofs, source, path, base, postings, rows, issues, data)
    finally:
        grid.release(buf, chunk_ofs, slot)


def _encode_records(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, base: int, postings: PiecePostings,
    rows: list[EventRow], issues: list[ParseIssue], data: bytes,
) -> None:
    """`encode_chunk`'s records of the chunk at `chunk_ofs` (its 64 KiB: `data`)."""
    encode = ChunkDecoder(data).encode_row
    append = rows.append
    reference = _Reference(buf, index, chunk_ofs, source, path, data)
    notes = value_notes()
    notes.clear()
    for item in ref.record_offsets(buf, chunk_ofs, source, path, index):
        if type(item) is not int:
            assert isinstance(item, ParseIssue)
            issues.append(item)
            continue
        try:
            append(encode(item - chunk_ofs, source, item, base | item, postings))
        except Exception as exc:  # noqa: BLE001 - garbage may break the fast decoder anywhere
            bad = _taken(notes)
            found = reference.decode(item, exc, True, bad)
            if isinstance(found, ParseIssue):
                issues.append(found)
            else:
                append(encode_one(base | item, postings, as_tuple(found)))
        else:
            if notes:  # kept with stand-ins for its bad values: counted, and named
                issues.append(ref.issue_at(buf, source, path, bad_values_reason(_taken(notes)), index, item))


def _chunk_items(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool, events: bool
) -> Iterator[Event | EventTuple | ParseIssue]:
    """Both of the above in one loop (a generator layer per record is worth avoiding)."""
    data, damaged, slot = _chunk_data(buf, index, chunk_ofs, source, path)
    yield from damaged
    if data is None:
        return
    slot_ofs, chunk_ofs = chunk_ofs, slot.chunk or chunk_ofs  # (off the grid: where it lies)
    decode = ChunkDecoder(data).decode_tuple
    make = make_event
    reference = _Reference(buf, index, chunk_ofs, source, path, data)
    notes = value_notes()
    notes.clear()
    try:
        for item in ref.record_offsets(buf, chunk_ofs, source, path, index):
            if isinstance(item, ParseIssue):
                yield item
                continue
            try:
                fields = decode(item - chunk_ofs, source, item)
            except Exception as exc:  # noqa: BLE001 - garbage may break the fast decoder anywhere
                found = reference.decode(item, exc, fallback, _taken(notes))
                yield found if events or isinstance(found, ParseIssue) else as_tuple(found)
            else:
                if notes:  # kept with stand-ins for its bad values: counted (before it), and named
                    yield ref.issue_at(buf, source, path, bad_values_reason(_taken(notes)), index, item)
                yield make(*fields) if events else fields
    finally:
        grid.release(buf, slot_ofs, slot)


def _taken(notes: list[str]) -> list[str]:
    """The notes of the record just decoded, the list emptied for the next one (it is this
    thread's, shared: `values.value_notes`)."""
    taken = notes[:]
    notes.clear()
    return taken
