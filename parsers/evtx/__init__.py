"""THE EVTX loader: the fast decoder, python-evtx as per-record fallback, chunks in parallel.

Why it looks like this:

* Chunks (64 KiB) are self-contained, so groups of chunks are decoded in worker processes and
  the results are yielded strictly in file order. At most `window` groups are in flight, so
  memory stays bounded whatever the file size, and a slow consumer holds the workers back.
* Pickling `Event` objects back to the parent costs about as much as decoding them: workers ship
  plain tuples (`iter_events`) or ready-to-insert store rows (`iter_encoded_batches`,
  `core.model.rows.encode_event` runs in the worker), never objects.
* The first group is decoded in the calling process while the workers start, so the first events
  come out within milliseconds whatever the file size; files under `INLINE_BYTES` are decoded
  inline altogether (process start-up would cost more than it saves).
* Workers are forked when the caller is single-threaded (cheap, modules already imported); a
  threaded caller (the TUI) gets a fork server instead, since forking a threaded process can
  deadlock the child on a lock another thread held.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple, TypeVar

from core.model.event import Event, InputError, ParseIssue, make_event
from core.model.rows import ID_SHIFT, MAX_PLACE, EventRow, Postings
from parsers import lifeline
from parsers.evtx import decoder as evtx_fast
from parsers.evtx import pieces
from parsers.evtx.image import FileImage
from parsers.evtx.reference import CHUNK_SIZE, FILE_HEADER_SIZE, check_evtx_header

#: Files smaller than this are decoded in the calling process.
INLINE_BYTES = 2 * 1024 * 1024
#: Chunks per worker task: enough to amortise the round trip, small enough to stream.
GROUP_CHUNKS = 4
#: Chunks decoded in the calling process while the workers start: the first events come from it.
FIRST_CHUNKS = 1
#: Tasks in flight per worker (bounds memory: window x GROUP_CHUNKS x 64 KiB of input).
WINDOW_PER_JOB = 3


class EncodedBatch(NamedTuple):
    """Store rows of consecutive events, their posting lists (`core.model.rows`), the parse issues
    among them, and how far into the file they reach (`end_offset`, for progress)."""

    rows: list[EventRow]
    postings: Postings
    issues: list[ParseIssue]
    end_offset: int


#: An Event as a plain tuple (its fields in declaration order): cheap to marshal.
EventTuple = evtx_fast.EventTuple


def default_jobs() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: Workers a `--jobs` may ask for, per core: more only share the cores (each holds its own
#: interpreter, ~40 MB), and `--jobs 400` started 400 processes on two cores.
MAX_JOBS_PER_CORE = 4


def worker_count(jobs: int | None) -> int:
    """The decoding workers for a `jobs` asked for (None: one per core), at least 1 and at
    most MAX_JOBS_PER_CORE per core."""
    cores = default_jobs()
    return cores if jobs is None else max(1, min(jobs, MAX_JOBS_PER_CORE * cores))


def _open_checked(path: str) -> tuple[int, bool]:
    """Size of the file, and whether it holds any chunk; raises InputError as the reference."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(FILE_HEADER_SIZE)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    check_evtx_header(path, head)
    return size, size >= FILE_HEADER_SIZE + CHUNK_SIZE


def _chunk_count(size: int) -> int:
    return max(0, (size - FILE_HEADER_SIZE) // CHUNK_SIZE)


# --------------------------------------------------------------------------------------------
# Work on a range of chunks (in a worker or inline)
# --------------------------------------------------------------------------------------------

_WORKER_FILE: dict[str, tuple[Any, FileImage]] = {}


def _mapped(path: str) -> FileImage:
    """The file's image (`parsers.evtx.image`: read a chunk at a time, never mapped), kept open
    across the tasks of one worker (one file at a time; `release_mapped` closes it in a process
    that stays)."""
    entry = _WORKER_FILE.get(path)
    if entry is None:
        for fh, mm in _WORKER_FILE.values():
            mm.close()
            fh.close()
        _WORKER_FILE.clear()
        fh = open(path, "rb")  # noqa: SIM115 - kept open for the worker's next tasks
        entry = (fh, FileImage(fh))
        _WORKER_FILE[path] = entry
    return entry[1]


def release_mapped() -> None:
    """Close the file `_mapped` keeps open."""
    for fh, mm in _WORKER_FILE.values():
        mm.close()
        fh.close()
    _WORKER_FILE.clear()


def _chunks(buf: Any, first: int, count: int) -> Iterator[tuple[int, int]]:
    """(index, offset) of the chunks `first` .. `first + count - 1` that the file holds whole.
    From a `FileImage` each is loaded before it is given and dropped after; one the file no
    longer holds whole (it shrank since it was opened) is left out and kept in `buf.short`
    (`_short_issues` reports it)."""
    image = buf if isinstance(buf, FileImage) else None
    for index in range(first, first + count):
        chunk_ofs = FILE_HEADER_SIZE + index * CHUNK_SIZE
        if chunk_ofs + CHUNK_SIZE > len(buf):
            return
        if image is not None and not image.take(index, chunk_ofs, CHUNK_SIZE):
            continue
        yield index, chunk_ofs
        if image is not None:
            image.drop(chunk_ofs, CHUNK_SIZE)


def _short_issues(buf: Any, source: int, path: str, first: int, count: int) -> list[ParseIssue]:
    """A parse issue per chunk of `first` .. `first + count - 1` that `_chunks` left out."""
    short = getattr(buf, "short", None) or {}
    return [ParseIssue(source, path, f"the file shrank while it was read: {short[index]:,} of this chunk's "
                       f"{CHUNK_SIZE:,} bytes were left; chunk skipped", index, FILE_HEADER_SIZE + index * CHUNK_SIZE)
            for index in range(first, first + count) if index in short]


def _decode_range(buf: Any, path: str, source: int, first: int, count: int) -> Iterator[Event | ParseIssue]:
    for index, chunk_ofs in _chunks(buf, first, count):
        yield from evtx_fast.iter_chunk(buf, index, chunk_ofs, source, path)
    yield from _short_issues(buf, source, path, first, count)


def _decode_range_tuples(buf: Any, path: str, source: int, first: int, count: int) -> Iterator[EventTuple | ParseIssue]:
    """`_decode_range` with events as field tuples: what workers ship (no Event objects)."""
    for index, chunk_ofs in _chunks(buf, first, count):
        yield from evtx_fast.iter_chunk_tuples(buf, index, chunk_ofs, source, path)
    yield from _short_issues(buf, source, path, first, count)


#: What a worker sends back: marshalled rows (marshal loads plain tuples of str/int about twice
#: as fast as pickle, and the parent's time is the scarce one), and the rare parse issues with
#: their position in the sequence.
Shipped = tuple[bytes, list[tuple[int, ParseIssue]], int]


def _ship_events(items: Iterable[Event | EventTuple | ParseIssue], end: int) -> Shipped:
    tuples: list[EventTuple] = []
    issues: list[tuple[int, ParseIssue]] = []
    for item in items:
        if isinstance(item, tuple):
            tuples.append(item)
        elif isinstance(item, ParseIssue):
            issues.append((len(tuples) + len(issues), item))
        else:
            tuples.append(evtx_fast.as_tuple(item))
    return marshal.dumps(tuples), issues, end


def _loads(blob: bytes) -> Any:
    """marshal.loads with the cyclic GC paused: a batch is thousands of fresh tuples and
    strings (no cycles), and the collections they would trigger double the parent's cost of
    unpacking them; the parent's time is what bounds the parallel path."""
    if not gc.isenabled():
        return marshal.loads(blob)
    gc.disable()
    try:
        return marshal.loads(blob)
    finally:
        gc.enable()


def _unship_events(shipped: Shipped) -> Iterator[Event | ParseIssue]:
    blob, issues, _ = shipped
    make = make_event
    tuples = _loads(blob)
    if not issues:
        for item in tuples:
            yield make(*item)
        return
    it = iter(tuples)
    done = 0
    for index, issue in issues:
        while done < index:
            yield make(*next(it))
            done += 1
        yield issue
        done += 1
    for item in it:
        yield make(*item)


def _end_of(buf: Any, first: int, count: int) -> int:
    return min(len(buf), FILE_HEADER_SIZE + (first + count) * CHUNK_SIZE)


def _tuples_task(path: str, source: int, first: int, count: int) -> Shipped:
    """Worker task: events as marshalled tuples."""
    buf = _mapped(path)
    return _ship_events(_decode_range_tuples(buf, path, source, first, count), _end_of(buf, first, count))


def _encode_range(buf: Any, path: str, source: int, first: int, count: int) -> EncodedBatch:
    """Store rows and posting lists of a range of chunks; an event's store id is its input
    and record offset (`core.model.rows.store_id`: `_plan` refuses files too large for it)."""
    rows: list[EventRow] = []
    issues: list[ParseIssue] = []
    postings = pieces.new_piece_postings()
    base = source << ID_SHIFT
    for index, chunk_ofs in _chunks(buf, first, count):
        evtx_fast.encode_chunk(buf, index, chunk_ofs, source, path, base, postings, rows, issues)
    issues.extend(_short_issues(buf, source, path, first, count))
    return EncodedBatch(rows, pieces.pair_postings(postings), issues, _end_of(buf, first, count))


def encode_range(path: str, source: int, first: int, count: int) -> EncodedBatch:
    """`count` chunks from chunk `first` of the file as store rows and posting lists: a task for
    `map_chunk_groups` (the file stays mapped for the process' next task)."""
    return _encode_range(_mapped(path), path, source, first, count)


def _ship_batch(batch: EncodedBatch) -> Shipped:
    return marshal.dumps((batch.rows, batch.postings)), [(0, issue) for issue in batch.issues], batch.end_offset


def _encoded_task(path: str, source: int, first: int, count: int) -> Shipped:
    """Worker task: store rows and posting lists (marshalled), so the parent only inserts."""
    return _ship_batch(encode_range(path, source, first, count))


def _unship_batch(shipped: Shipped) -> EncodedBatch:
    blob, issues, end = shipped
    rows, postings = _loads(blob)
    return EncodedBatch(rows, postings, [issue for _, issue in issues], end)


# --------------------------------------------------------------------------------------------
# Scheduling
# --------------------------------------------------------------------------------------------

T = TypeVar("T")
A = TypeVar("A")


def run_ordered(
    tasks: Iterable[A], submit: Callable[[A], Future[T]], window: int, on_submit: Callable[[int], None] | None = None
) -> Iterator[tuple[A, Future[T]]]:
    """Submit `tasks` keeping at most `window` of them submitted and not yet handed back, and
    hand back (task, future) in task order. A consumer that stops pulling stops the submitting;
    `on_submit` (tests) is told how many are in flight after each submission."""
    pending: deque[tuple[A, Future[T]]] = deque()
    it = iter(tasks)
    window = max(1, window)
    for task in it:
        pending.append((task, submit(task)))
        if on_submit is not None:
            on_submit(len(pending))
        if len(pending) >= window:
            break
    while pending:
        task, fut = pending.popleft()
        yield task, fut
        for nxt in it:
            pending.append((nxt, submit(nxt)))
            if on_submit is not None:
                on_submit(len(pending))
            break


def _pool(jobs: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx: multiprocessing.context.BaseContext
    if "fork" in methods and threading.active_count() == 1:
        ctx = multiprocessing.get_context("fork")
    elif "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["parsers.evtx"])
    else:
        ctx = multiprocessing.get_context("spawn")
    # Workers end with us (`parsers.lifeline`): a killed parent left them waiting forever.
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=lifeline.die_with_parent, initargs=(os.getpid(),)
    )


def _groups(
    n_chunks: int, start: int, size: int = GROUP_CHUNKS, smallest: int | None = None, jobs: int = 1
) -> list[tuple[int, int]]:
    """(first chunk, count) of the tasks from chunk `start`: `size` chunks each, or, from
    `smallest`, doubling up to `size` (large tasks, yet the first results come back soon) and,
    for `jobs` workers, shrinking again towards the end to a `2 * jobs`-th of what is left, down
    to a quarter of `size` (so the workers finish together: a last large task kept one core busy
    alone for a third of a second on the 100 MB log; each task adds posting rows)."""
    groups: list[tuple[int, int]] = []
    step = max(1, min(size, smallest or size))
    first = start
    while first < n_chunks:  # bounded: each task takes at least one chunk
        left = n_chunks - first
        count = min(step, left)
        if smallest is not None and jobs > 1:
            count = min(count, max(smallest, size // 4, -(-left // (2 * jobs))))
        groups.append((first, count))
        first += count
        step = min(size, step * 2)
    return groups


def _parallel(
    path: str,
    source: int,
    jobs: int,
    n_chunks: int,
    task: Callable[[str, int, int, int], T],
    inline: Callable[[int, int], T],
    group: int = GROUP_CHUNKS,
    smallest: int | None = None,
) -> Iterator[T]:
    """Results of `task` over the groups of chunks, in file order: the first group inline, the
    others in workers (a pool that breaks or cannot start degrades to inline decoding)."""
    first = min(FIRST_CHUNKS, n_chunks)
    groups = _groups(n_chunks, first, group, smallest, jobs)
    done = 0  # groups handed out so far
    pool: ProcessPoolExecutor | None = None
    # The first events come from here, before any process starts (a fork server takes ~0.1 s).
    yield inline(0, first)
    try:
        try:
            pool = _pool(jobs)
            live = pool
            ordered = run_ordered(groups, lambda g: live.submit(task, path, source, g[0], g[1]), jobs * WINDOW_PER_JOB)
            head = next(ordered, None)
        except (BrokenProcessPool, OSError):
            ordered, head = iter(()), None
        try:
            for _group, fut in _chain([head] if head is not None else [], ordered):
                result = fut.result()
                done += 1
                yield result
        except (BrokenProcessPool, OSError):
            pass  # workers died or cannot start: decode the rest here
        for rest in groups[done:]:
            yield inline(rest[0], rest[1])
            done += 1
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _chain(head: list[T], rest: Iterator[T]) -> Iterator[T]:
    yield from head
    yield from rest


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _plan(path: str, jobs: int | None) -> tuple[int, int, bool] | None:
    """Check the file (InputError if it is not EVTX) and decide how to decode it: (jobs, chunk
    count, decode inline?); None when it has no chunk at all."""
    size, has_chunks = _open_checked(path)
    evtx_fast.new_load(path)  # (this load's budgets: the workers start from the parent's state)
    if size > MAX_PLACE:
        raise InputError(f"{path}: larger than 1 TiB, not supported")
    if not has_chunks:
        return None
    jobs = worker_count(jobs)
    n_chunks = _chunk_count(size)
    return jobs, n_chunks, jobs == 1 or size < INLINE_BYTES or n_chunks <= GROUP_CHUNKS


def iter_events(path: str, source: int = 0, jobs: int | None = None) -> Iterator[Event | ParseIssue]:
    """Every event of an EVTX file, in file order, with a ParseIssue for each record neither
    decoder can read: every record `parsers.evtx.reference.iter_events` reads, identical, plus
    those python-evtx cannot read (records without templates, bad strings, chunks off the grid...).

    Raises InputError before yielding anything when the file is not a readable EVTX file.
    `jobs`: worker processes (default one per core; 1 = no workers).
    """
    plan = _plan(path, jobs)
    if plan is None:
        return
    jobs, n_chunks, inline_only = plan
    try:
        with open(path, "rb") as fh, FileImage(fh) as buf:
            if inline_only:
                yield from _decode_range(buf, path, source, 0, n_chunks)
                return

            def inline(first: int, count: int) -> Shipped:
                items = _decode_range_tuples(buf, path, source, first, count)
                return _ship_events(items, _end_of(buf, first, count))

            for shipped in _parallel(path, source, jobs, n_chunks, _tuples_task, inline):
                yield from _unship_events(shipped)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def uses_workers(path: str, jobs: int | None) -> bool:
    """Whether `map_chunk_groups` would start worker processes for this file (InputError as
    `iter_events` when it is not a readable EVTX file)."""
    plan = _plan(path, jobs)
    return plan is not None and not plan[2]


def map_chunk_groups(
    path: str,
    source: int,
    jobs: int | None,
    task: Callable[[str, int, int, int], T],
    inline: Callable[[str, int, int, int], T] | None = None,
    group: int = GROUP_CHUNKS,
    smallest: int | None = None,
) -> Generator[T, None, None]:
    """`task(path, source, first chunk, chunk count)` over the file's groups of chunks, results
    in file order: in worker processes (`task` must pickle: a module-level function or a
    partial of one), the first group (and every group of a small file) in this process, as
    `iter_events` schedules them, through `inline` when given (say, to hold no resource a
    forked worker would inherit), `group` chunks a task (from `smallest`, doubling, when given).
    Raises InputError as `iter_events`."""
    plan = _plan(path, jobs)
    if plan is None:
        return
    jobs, n_chunks, inline_only = plan
    here = inline or task
    try:
        if inline_only:
            for first, count in _groups(n_chunks, 0, group, smallest):
                yield here(path, source, first, count)
        else:
            yield from _parallel(
                path, source, jobs, n_chunks, task, lambda f, c: here(path, source, f, c), group, smallest
            )
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    finally:
        release_mapped()


def iter_encoded_batches(path: str, source: int = 0, jobs: int | None = None) -> Iterator[EncodedBatch]:
    """The same events as `iter_events`, as store rows and posting lists (`core.model.rows`) computed
    in the workers, in file order, one batch per group of chunks: the ingest only inserts them.
    (For small files and stores the workers cannot open; else `core.store.evtx_ingest` has the
    workers insert them too.)"""
    with contextlib.closing(map_chunk_groups(path, source, jobs, _encoded_task)) as shipped:
        for batch in shipped:
            yield _unship_batch(batch)


def raw_xml(path: str, locator: int) -> str:
    """The XML of the record at file offset `locator` for the detail pane: python-evtx's (the
    reference rendering); where python-evtx cannot render it, our decoder's event rendered as
    XML, saying so."""
    from parsers.event_to_xml import event_to_xml
    from parsers.evtx.chunk import ChunkDecoder
    from parsers.evtx.grid import chunk_holding  # (the chunk on the grid or off it, as decoded)
    from parsers.evtx.reference import record_xml

    try:
        return record_xml(path, locator)
    except Exception as exc:  # noqa: BLE001 - python-evtx raises anything on some records
        reason = f"{type(exc).__name__}: {exc}"[:200]
    with open(path, "rb") as fh, FileImage(fh) as buf:  # (not mapped: the file may have shrunk)
        chunk = os.pread(fh.fileno(), CHUNK_SIZE, chunk_ofs := chunk_holding(buf, locator))
    if len(chunk) < CHUNK_SIZE:
        raise InputError(f"{path}: the file shrank since it was loaded: record {locator} is gone")
    event = ChunkDecoder(chunk).decode(locator - chunk_ofs, 0, locator)
    note = f"python-evtx cannot render this record ({reason}); reconstructed from the decoded fields"
    return event_to_xml(event, note)
