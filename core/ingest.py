"""Reading inputs into the store: batches from the loaders, progress, stop, errors per input.

An unreadable input costs only itself: it is recorded with its one-line error and the other
inputs still load. A damaged record costs only that record: it is stored as a parse issue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from core.model import Event, InputError, ParseIssue, SourceInfo
from core.rows import EncodedEvent, encode_event
from core.store import Store

BATCH = 5000
#: The first batches are small and flushed early so the first rows reach the screen at once;
#: later ones are large (fewer transactions), and any batch is flushed after FLUSH_SECONDS.
FIRST_BATCH = 200
FLUSH_SECONDS = 0.25


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
#: Store rows, the parse issues met among them, and how many bytes of the input they reach.
Batch = tuple[list[EncodedEvent], list[ParseIssue], int]


def _batches(path: str, source: int, jobs: int | None) -> tuple[str, Iterator[Batch]]:
    """Detect the format and stream (rows, issues, bytes reached) batches (raises InputError).

    EVTX rows are encoded inside the decoder's worker processes (shipping tuples is much
    cheaper than pickling events); other formats are encoded here, in batches that start small
    so the first rows reach the screen at once, then grow (fewer transactions), and are also
    flushed after FLUSH_SECONDS.
    """
    from parsers.detect import detect_format, iter_input

    fmt = detect_format(path)
    if fmt == "evtx":
        from parsers.evtx import iter_encoded_batches

        return fmt, ((b.rows, b.issues, b.end_offset) for b in iter_encoded_batches(path, source, jobs))
    return fmt, _encode_stream(iter_input(path, source))


def _encode_stream(items: Iterator[Event | ParseIssue]) -> Iterator[Batch]:
    rows: list[EncodedEvent] = []
    issues: list[ParseIssue] = []
    limit = FIRST_BATCH
    last = time.perf_counter()
    for item in items:
        if isinstance(item, ParseIssue):
            issues.append(item)
            continue
        rows.append(encode_event(item))
        if len(rows) >= limit or (len(rows) % 64 == 0 and time.perf_counter() - last > FLUSH_SECONDS):
            yield rows, issues, 0
            rows, issues = [], []
            last = time.perf_counter()
            limit = min(BATCH, limit * 4)
    if rows or issues:
        yield rows, issues, 0


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
    n_issues = 0
    reached = 0
    stopped = False

    def report(done: bool) -> None:
        if progress is not None:
            progress(
                Progress(source, path, info.records, n_issues, total if done else min(reached, total), total,
                         time.perf_counter() - start, done)
            )

    try:
        fmt, batches = _batches(path, source, jobs)
        info.format = fmt
        store.set_source_format(source, fmt)
        for rows, issues, end in batches:
            store.add_encoded(rows)
            store.add_issues(issues)
            info.records += len(rows)
            n_issues += len(issues)
            info.parse_issues.extend(issues)
            reached = max(reached, end)
            report(False)
            if stop is not None and stop.is_set():
                stopped = True
                break
    except InputError as exc:
        info.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - an input that breaks a loader must not stop the others
        info.error = f"{path}: cannot be read: {type(exc).__name__}: {exc}"
    report(not stopped)
    if stopped:
        with store.conn:
            store.conn.execute(
                "UPDATE sources SET records = ?, parse_issues = ? WHERE id = ?", (info.records, n_issues, source)
            )
    else:
        store.finish_source(source, records=info.records, parse_issues=n_issues, error=info.error)
