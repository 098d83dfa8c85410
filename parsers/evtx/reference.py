"""The reference EVTX loader: python-evtx renders each record to XML, lxml reads it.

Slow (a few hundred records a second) but it is the oracle the fast path is tested against and
the fallback for any record the fast path cannot decode. What real files taught us:

* `Evtx.records()` stops at the header's chunk count and silently drops the records of "dirty"
  logs: we walk every 64 KiB chunk to the end of the file and check each chunk's magic.
* Some records raise inside python-evtx: each is caught and becomes a `ParseIssue` with the
  chunk and offset, and the walk goes on with the next record.
* python-evtx renders times through a float (1-2 us off): we read the raw FILETIME of the
  TimeCreated substitution instead.
"""

from __future__ import annotations

import functools
import logging
import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from core.model.event import Event, InputError, ParseIssue
from parsers.evtx.guard import bounded_chunk_class, run_bounded
from parsers.evtx.image import FileImage
from parsers.evtx.layout import CHUNK_MAGIC as CHUNK_MAGIC  # (re-exported: the decoder's and the tests' names)
from parsers.evtx.layout import CHUNK_SIZE as CHUNK_SIZE
from parsers.evtx.layout import FILE_HEADER_SIZE as FILE_HEADER_SIZE
from parsers.evtx.layout import FILE_MAGIC as FILE_MAGIC
from parsers.evtx.layout import RECORD_HEADER_SIZE as RECORD_HEADER_SIZE
from parsers.evtx.layout import RECORD_MAGIC as RECORD_MAGIC
from parsers.evtx.layout import intact_record as intact_record

if TYPE_CHECKING:
    from Evtx.Evtx import ChunkHeader, Record
    from lxml import etree



# python-evtx and lxml are imported on first use: the fast path walks chunks and records with
# the helpers below and needs neither unless a record falls back (their imports cost ~40 ms of
# every cold start, before the first event can reach the screen).


@functools.cache
def _quiet_python_evtx() -> None:
    """python-evtx logs a warning ("Unexpected token encountered") for some damaged records;
    with no logging configured Python prints it to stderr, in the middle of CLI output. Each
    such record is already counted and reported as a parse issue: give its logger a handler
    that drops them (an application that configures logging still receives them)."""
    logging.getLogger("Evtx").addHandler(logging.NullHandler())


@functools.cache
def _parser() -> etree.XMLParser:
    from parsers.xml_to_event import safe_parser

    return safe_parser()


def chunk_header(buf: Any, chunk_ofs: int) -> ChunkHeader:
    """python-evtx's header of the chunk at `chunk_ofs` (what its Record needs), with its
    string and template chain walks bounded (`parsers.evtx.guard`)."""
    _quiet_python_evtx()

    header: ChunkHeader = bounded_chunk_class()(buf, chunk_ofs)
    return header


def check_evtx_header(path: str, head: bytes) -> None:
    """Raise InputError (one line naming the file) unless `head` starts an EVTX file, or the
    file's header is damaged but EVTX chunks follow it (`parsers.sniff.evtx_chunks_follow`: the
    decoder then reads it, with a parse issue for the header)."""
    if not head:
        raise InputError(f"{path}: empty file (0 bytes), not an event log")
    if len(head) >= 8 and head[4:8] == b"LfLe":
        raise InputError(f"{path}: legacy Windows .evt log (pre-Vista format), not EVTX; not supported")
    if not head.startswith(FILE_MAGIC) and not _chunks_follow(path):
        raise InputError(f"{path}: not an EVTX file (bad file signature)")
    if len(head) < FILE_HEADER_SIZE:
        raise InputError(f"{path}: truncated EVTX file ({len(head)} bytes, header is 4096)")


def _chunks_follow(path: str) -> bool:
    from parsers.sniff import evtx_chunks_follow

    try:
        with open(path, "rb") as fh:
            return evtx_chunks_follow(fh)
    except OSError:
        return False


def chunk_offsets(buf: Any) -> Iterator[tuple[int, int]]:
    """(index, offset) of every 64 KiB slot after the file header, to the end of the file,
    whatever the header's chunk count says."""
    ofs = FILE_HEADER_SIZE
    index = 0
    while ofs + CHUNK_SIZE <= len(buf):
        yield index, ofs
        ofs += CHUNK_SIZE
        index += 1


#: FILETIME of 9999-12-31: a record header time past it is garbage (and cannot be shown).
MAX_TICKS = 2650467743999999999


def record_time(buf: Any, ofs: int) -> int | None:
    """The timestamp in the header of the record at `ofs` (FILETIME ticks), when the header is
    there (its magic in place) and the time plausible: a record no decoder reads can still say
    when it was written."""
    if ofs < 0 or ofs + RECORD_HEADER_SIZE > len(buf) or buf[ofs : ofs + 4] != RECORD_MAGIC:
        return None
    ticks: int = struct.unpack_from("<Q", buf, ofs + 16)[0]
    return ticks if 0 < ticks <= MAX_TICKS else None


def issue_at(buf: Any, source: int, path: str, reason: str, index: int, ofs: int) -> ParseIssue:
    """The parse issue of the record at `ofs` of chunk `index`, with its header's time."""
    return ParseIssue(source, path, reason, index, ofs, record_time(buf, ofs))


def record_offsets(buf: Any, chunk_ofs: int, source: int, path: str, index: int) -> Iterator[int | ParseIssue]:
    """Offsets of the records in one chunk, bounded by the chunk; a broken record header
    yields a ParseIssue and the walk resumes at the next record magic it can find.

    The walk ends at the header's free-space offset; where that offset lies (damaged, or set
    short) and intact records go on past it, they are read too (`_past_free`), with one issue
    saying so: they were dropped silently."""
    end = chunk_ofs + CHUNK_SIZE
    free = struct.unpack_from("<I", buf, chunk_ofs + 0x30)[0]
    limit = chunk_ofs + free if 0x200 <= free <= CHUNK_SIZE else end
    ofs = chunk_ofs + 0x200
    last = -1  # offset of the last record yielded
    while ofs + RECORD_HEADER_SIZE <= limit:
        if buf[ofs : ofs + 4] != RECORD_MAGIC:
            nxt = buf.find(RECORD_MAGIC, ofs + 1, limit)
            if nxt < 0:
                return
            yield ParseIssue(source, path, f"bad record magic; skipped {nxt - ofs} bytes", index, ofs)
            ofs = nxt
            continue
        size = struct.unpack_from("<I", buf, ofs + 4)[0]
        if size < RECORD_HEADER_SIZE + 4 or ofs + size > end:
            nxt = buf.find(RECORD_MAGIC, ofs + 4, limit)
            yield issue_at(buf, source, path, f"bad record size {size}", index, ofs)
            if nxt < 0:
                return
            ofs = nxt
            continue
        last = ofs
        yield ofs
        ofs += size
    if limit < end:
        number = struct.unpack_from("<Q", buf, last + 8)[0] if last >= 0 else -1
        yield from _past_free(buf, chunk_ofs, ofs, number, free, source, path, index)


def _past_free(
    buf: Any, chunk_ofs: int, ofs: int, last: int, free: int, source: int, path: str, index: int
) -> Iterator[int | ParseIssue]:
    """Records past the free-space offset that continue the chunk's records: each intact
    (`intact_record`) and numbered one more than the one before (the first: one more than the
    last record read, or, with none read, the chunk header's first record number). What lies
    past a true free-space offset (zeros, or stale records of the chunk's earlier life, numbered
    lower: real logs hold thousands) fails that test, so nothing changes for an intact chunk.
    Bounded: the walk only goes forward, inside the chunk."""
    end = chunk_ofs + CHUNK_SIZE
    if last >= 0:
        expected = {last + 1}
    else:
        expected = set(struct.unpack_from("<QQ", buf, chunk_ofs + 8)[:1]) | set(
            struct.unpack_from("<Q", buf, chunk_ofs + 0x18)
        )
    found: list[int] = []
    while True:
        size = intact_record(buf, ofs, end)
        if not size:
            break
        number = struct.unpack_from("<Q", buf, ofs + 8)[0]
        if number not in expected:
            break
        found.append(ofs)
        expected = {number + 1}
        ofs += size
    if found:
        yield ParseIssue(
            source, path, f"chunk header damaged: its free-space offset 0x{free:x} ends before its records; "
            f"{len(found)} more read past it", index, found[0]
        )
        yield from found


def _exact_filetime(record: Record, rendered: str | None) -> int | None:
    """Raw ticks of the TimeCreated substitution (the FILETIME whose rendering matches)."""
    from Evtx.Nodes import FiletimeTypeNode

    try:
        for sub in record.root().substitutions():
            if isinstance(sub, FiletimeTypeNode) and (rendered is None or sub.string() == rendered):
                ticks: int = struct.unpack_from("<Q", sub._buf, sub.offset())[0]
                return ticks or None
    except Exception:  # noqa: BLE001 - fall back to the rendered time
        return None
    return None


def decode_record(buf: Any, chunk: ChunkHeader, ofs: int, source: int) -> Event:
    """Decode the record at `ofs` through python-evtx, on a step budget (`parsers.evtx.guard`:
    StepBudgetExceeded when it loops). Raises on any failure."""
    _loaded()
    return run_bounded(_decode_record, buf, chunk, ofs, source)


@functools.cache
def _loaded() -> None:
    """Import and set up what `_decode_record` uses, outside its step budget: a record's step
    count must not depend on what the process did before (`parsers.evtx.decoder` sums them
    per chunk against a budget, and a file gives the same issues inline or in workers)."""
    import Evtx.Evtx  # noqa: F401
    import lxml.etree  # noqa: F401

    import parsers.xml_to_event  # noqa: F401

    _quiet_python_evtx()
    _parser()


def _decode_record(buf: Any, chunk: ChunkHeader, ofs: int, source: int) -> Event:
    from Evtx.Evtx import Record
    from lxml import etree

    from parsers.xml_to_event import event_from_element

    _quiet_python_evtx()

    record = Record(buf, ofs, chunk)
    xml = record.xml()
    root = etree.fromstring(xml.encode("utf-8"), _parser())
    rendered = None
    for el in root.iter("{*}TimeCreated"):
        rendered = el.get("SystemTime")
        break
    ticks = _exact_filetime(record, rendered)
    return event_from_element(
        root, source=source, record_number=record.record_num(), locator=ofs, filetime=ticks
    )


def record_xml(path: str, locator: int) -> str:
    """The raw XML of the record at byte offset `locator`, as python-evtx renders it (on a
    step budget: StepBudgetExceeded rather than spinning on a looping chunk), from the chunk the
    decoder read it from (`parsers.evtx.grid.chunk_holding`: on the grid or off it)."""
    from parsers.evtx.grid import chunk_holding

    with open(path, "rb") as fh, FileImage(fh) as buf:
        chunk_ofs = chunk_holding(buf, locator)
        if buf.load(chunk_ofs, CHUNK_SIZE) < CHUNK_SIZE:
            raise InputError(f"{path}: the file shrank since it was loaded: record {locator} is gone")
        from Evtx.Evtx import Record

        def render() -> str:
            return str(Record(buf, locator, chunk_header(buf, chunk_ofs)).xml())

        return run_bounded(render)


def iter_chunk(buf: Any, index: int, chunk_ofs: int, source: int, path: str) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of one chunk through python-evtx (damaged headers as
    `parsers.evtx.decoder` reads them: a chunk whose signature alone is damaged is read, a file
    whose signature is damaged is named by its first chunk, each with its issue)."""
    if index == 0 and chunk_ofs == FILE_HEADER_SIZE and bytes(buf[:8]) != FILE_MAGIC:
        yield ParseIssue(source, path, "file header damaged: bad file signature; its chunks read anyway", None, 0)
    magic = bytes(buf[chunk_ofs : chunk_ofs + 8])
    if magic != CHUNK_MAGIC:
        if buf[chunk_ofs : chunk_ofs + CHUNK_SIZE].count(0) == CHUNK_SIZE:
            return
        if not intact_record(buf, chunk_ofs + 0x200, chunk_ofs + CHUNK_SIZE):
            yield ParseIssue(source, path, "bad chunk signature; chunk skipped", index, chunk_ofs)
            return
        yield ParseIssue(source, path, "chunk header damaged: bad chunk signature; its records read anyway",
                         index, chunk_ofs)
    chunk = chunk_header(buf, chunk_ofs)
    for item in record_offsets(buf, chunk_ofs, source, path, index):
        if isinstance(item, ParseIssue):
            yield item
            continue
        try:
            yield decode_record(buf, chunk, item, source)
        except Exception as exc:  # noqa: BLE001 - one bad record costs only itself
            yield issue_at(buf, source, path, f"{type(exc).__name__}: {exc}"[:300], index, item)


def iter_events(path: str, source: int = 0) -> Iterator[Event | ParseIssue]:
    """Stream every event of an EVTX file through python-evtx, chunk by chunk.

    Raises InputError before yielding anything when the file is not a readable EVTX file.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(FILE_HEADER_SIZE)
            check_evtx_header(path, head)
            with FileImage(fh) as buf:  # (not mapped: a file that shrinks meanwhile costs its chunks)
                if size < FILE_HEADER_SIZE + CHUNK_SIZE:
                    return
                for index, chunk_ofs in chunk_offsets(buf):
                    if buf.load(chunk_ofs, CHUNK_SIZE) < CHUNK_SIZE:
                        yield ParseIssue(source, path, "the file shrank while it was read; chunk skipped", index,
                                         chunk_ofs)
                        continue
                    yield from iter_chunk(buf, index, chunk_ofs, source, path)
                    buf.drop(chunk_ofs, CHUNK_SIZE)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
