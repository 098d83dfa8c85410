"""Reading inputs into the store: batches from the loaders, progress, stop, errors per input.

An unreadable input costs only itself: it is recorded with its one-line error and the other
inputs still load. A damaged record costs only that record: it is counted as a parse issue,
and the first `MAX_LISTED_ISSUES` of an input are listed (kept in memory and in the store),
then one line saying how many more there were: a 9 MB file of 3 million broken records held
them all (949 MB), a 122 KB zip of 40 million 3.3 GB and counting.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from core.model.event import Event, InputError, ParseIssue, SourceInfo
from core.model.rows import (
    ID_SHIFT,
    MAX_PLACE,
    EventRow,
    PostingsText,
    encode_tuples,
    event_fields,
    new_postings,
    postings_text,
    store_id,
)
from core.store.disk_full import is_disk_full
from core.store.schema import LIST_FIRST_ID
from core.store.store import Store

T = TypeVar("T")

BATCH = 5000
#: The first batches are small and flushed early so the first rows reach the screen at once;
#: later ones are large (fewer transactions), and any batch is flushed after FLUSH_SECONDS.
FIRST_BATCH = 200
FLUSH_SECONDS = 0.25
#: Parse issues listed per input (`SourceInfo.parse_issues`, the store's `issues` table, what
#: `stats --issues` and the app's issues panel show); the count (`sources.parse_issues`) stays
#: exact. The first thousand show what is wrong with an input, as its later ones repeat the same
#: few reasons, and bound what a hostile input makes us hold: about 400 KB per input.
MAX_LISTED_ISSUES = 1000


@dataclass(frozen=True, slots=True)
class Progress:
    """Where loading stands, for progress bars: `bytes_done`/`bytes_total` are known for EVTX
    (record offsets), estimated from positions otherwise."""

    source: int
    path: str
    records: int
    issues: int
    bytes_done: int
    bytes_total: int
    elapsed: float
    done: bool = False


ProgressFn = Callable[[Progress], None]
class Batch(NamedTuple):
    """Consecutive events of an input: their store rows to insert (empty when a worker process
    inserted them already), how many there are and the highest store id among them, their
    posting lists, the parse issues met among them, and how many bytes of the input they reach
    (0 when unknown)."""

    rows: list[EventRow]
    events: int
    last_id: int
    postings: PostingsText
    issues: list[ParseIssue]
    end: int
    strings: list[str] | None = None  # system strings of rows inserted elsewhere


def _batches(path: str, source: int, jobs: int | None, store: Store) -> tuple[str, Iterator[Batch]]:
    """Detect the format and stream its batches (raises InputError).

    Large EVTX files are decoded by worker processes that insert the rows and their posting
    lists themselves (`core.store.evtx_ingest`); smaller ones are decoded and inserted here (no process start-up).
    Other formats are encoded here, in batches that start small so the first rows reach the
    screen at once, then grow (fewer transactions), and are also flushed after FLUSH_SECONDS.
    """
    from parsers import evtx
    from parsers.registry import detect_format, iter_input

    fmt = detect_format(path)
    if fmt == "evtx":
        if evtx.uses_workers(path, jobs) and store.shareable:
            from core.store.evtx_ingest import stored_batches

            return fmt, _each(
                stored_batches(str(store.path), path, source, jobs),
                lambda b: Batch([], b.events, b.last_id, {}, b.issues, b.end_offset, []),
            )
        return fmt, _each(
            evtx.iter_encoded_batches(path, source, jobs),
            lambda b: Batch(b.rows, len(b.rows), b.rows[-1][0] if b.rows else -1, postings_text(b.postings),
                            b.issues, b.end_offset),
        )
    return fmt, _encode_stream(iter_input(path, source, fmt=fmt), source)


def _each(items: Iterator[T], convert: Callable[[T], Batch]) -> Iterator[Batch]:
    """`convert` over `items`, closing them when closed itself: closing a load must stop (and
    wait for) the decoder's workers at once, not whenever the garbage collector gets to it."""
    try:
        for item in items:
            yield convert(item)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _encode_stream(items: Iterator[Event | ParseIssue], source: int) -> Iterator[Batch]:
    """Events numbered by their position in the input (`core.model.rows.store_id`)."""
    pending: list[tuple[int, tuple[object, ...]]] = []
    issues: list[ParseIssue] = []
    limit = FIRST_BATCH
    last = time.perf_counter()
    place = 0
    for item in items:
        if isinstance(item, ParseIssue):
            issues.append(item)
            if len(issues) >= BATCH:  # a run of damaged records: handed on, never piled up
                yield _encoded(pending, issues)
                pending, issues = [], []
                last = time.perf_counter()
            continue
        place += 1
        pending.append((store_id(source, place), event_fields(item)))
        if len(pending) >= limit or (len(pending) % 64 == 0 and time.perf_counter() - last > FLUSH_SECONDS):
            yield _encoded(pending, issues)
            pending, issues = [], []
            last = time.perf_counter()
            limit = min(BATCH, limit * 4)
    if pending or issues:
        yield _encoded(pending, issues)


def _encoded(pending: list[tuple[int, tuple[object, ...]]], issues: list[ParseIssue]) -> Batch:
    postings = new_postings()
    rows = encode_tuples(pending, postings)
    return Batch(rows, len(rows), rows[-1][0] if rows else -1, postings_text(postings), issues, 0)


def _close(batches: Iterator[Batch]) -> None:
    """Close a stream of batches: its workers finish the batches they hold and stop."""
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _drop_unaccounted(store: Store, batches: Iterator[Batch], source: int, last_id: int) -> None:
    """After a stop or an error: let the workers finish the batches they hold, then delete the
    events they inserted that were not counted (the store keeps exactly what was reported)."""
    _close(batches)
    bounds = (last_id, (source << ID_SHIFT) | MAX_PLACE)
    with store.conn:
        store.conn.execute("DELETE FROM events WHERE id > ? AND id <= ?", bounds)
        # Lists the workers wrote with those events (lists the parent writes are of counted ones).
        store.conn.execute(f"DELETE FROM postings WHERE {LIST_FIRST_ID} > ? AND {LIST_FIRST_ID} <= ?", bounds)


def load_paths(
    paths: Sequence[str],
    store: Store,
    *,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    jobs: int | None = None,
    build_indexes: bool = True,
) -> list[SourceInfo]:
    """Load every input into `store`, in order; return what happened to each.

    `stop` (set from another thread) ends loading after the current batch, keeping what was
    read; such inputs are not marked complete, so a cache built from them is not reused.
    """
    infos: list[SourceInfo] = []
    for path in paths:
        info = SourceInfo(path=path)
        infos.append(info)
        source = store.add_source(path, "unknown")
        if stop is not None and stop.is_set():
            continue
        _load_one(path, source, store, info, progress, stop, jobs)
    if build_indexes:
        store.build_indexes()
    return infos


def _load_one(
    path: str,
    source: int,
    store: Store,
    info: SourceInfo,
    progress: ProgressFn | None,
    stop: threading.Event | None,
    jobs: int | None,
) -> None:
    start = time.perf_counter()
    try:
        total = os.path.getsize(path)
    except OSError:
        total = 0
    n_issues = 0  # every parse issue, of which the first MAX_LISTED_ISSUES are listed
    reached = 0
    stopped = False

    def report(done: bool) -> None:
        if progress is not None:
            progress(
                Progress(source, path, info.records, n_issues, total if done else min(reached, total), total,
                         time.perf_counter() - start, done)
            )

    last_id = (source << ID_SHIFT) - 1  # the highest store id accounted for
    finished = False
    batches: Iterator[Batch] = iter(())
    try:
        fmt, batches = _batches(path, source, jobs, store)
        info.format = fmt
        store.set_source_format(source, fmt)
        for batch in batches:
            repairs = store.add_rows(batch.rows, batch.postings, batch.strings, path)
            issues = batch.issues + repairs if repairs else batch.issues
            listed = issues[: max(0, MAX_LISTED_ISSUES - n_issues)]
            if listed:
                store.add_issues(listed)
                info.parse_issues.extend(listed)
            info.records += batch.events
            last_id = max(last_id, batch.last_id)
            n_issues += len(issues)
            reached = max(reached, batch.end)
            report(False)
            if stop is not None and stop.is_set():
                stopped = True
                break
        else:
            finished = True
    except InputError as exc:
        info.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - an input that breaks a loader must not stop the others
        if is_disk_full(exc):  # not the input's fault: the caller loads elsewhere (`core.store.cache`)
            _close(batches)  # stop the workers first: they would go on writing
            raise
        info.error = f"{path}: cannot be read: {type(exc).__name__}: {exc}"
    if n_issues > MAX_LISTED_ISSUES:
        more = f"{n_issues - MAX_LISTED_ISSUES:,} more parse issues not listed"
        note = ParseIssue(source, path, f"{more}: only the first {MAX_LISTED_ISSUES:,} are ({n_issues:,} in all)")
        store.add_issues([note])
        info.parse_issues.append(note)
    if not finished:
        _drop_unaccounted(store, batches, source, last_id)
    store.refresh_next_id()
    report(not stopped)
    if stopped:
        store.flush_postings()
        with store.conn:
            store.conn.execute(
                "UPDATE sources SET records = ?, parse_issues = ? WHERE id = ?", (info.records, n_issues, source)
            )
    else:
        store.finish_source(source, records=info.records, parse_issues=n_issues, error=info.error)
