"""The scan's rows read and decoded by a child process while the scan runs (the second core).

Reading the model's events from SQLite, decoding their EventData (`marshal`) and reading a
handle event's fields (`scan_rows.HandleReader`) was a third of the build's CPU time, all of it
independent of the scan's state; a thread would not help (decoding holds the GIL). A child
(`python -m core.correlate.scan_reader DB EVENTIDS...`) does it and writes, per batch of rows,
one `marshal`led frame: the rows with their data replaced by what the scan reads of it. A handle
event's data becomes a small int, the same for the same stored EventData of that EventID (the
child remembers `KEPT` of them, forgets them all at a frame's start when full, and numbers them
on: a number is never used for two blobs), and the frame carries what `HandleReader.read` made of
each blob first met in it; another event's data becomes its fields (`values_of`). The scan
(`scan_rows.feed`) then does no decode, no hash of a blob and no field look-up for them. The frame
also carries the facts table's slots of its rows that the rows alone give (store id, time, a
handle event's pid, handle value and logon id...: `core.correlate.fact_frames`), packed here.

An earlier child (December 3rd) sent every event decoded, in full: the scan's process spent about
as long loading its frames as it had spent reading rows itself. This one sends each distinct
handle blob's few fields once (a blob of a handle event repeats: 326,535 distinct in 666,685
at 1M churn events), so that the scan's process loads a fraction of it.

The child has its own connection, so it is used only for a finished store (nothing is being
written) in a file, and only for builds big enough to pay for its start (a few tenths of a
second); it must read as many events as the build's own snapshot counted. Anything else (a
failed start, a short read, another count) raises `ChildFailed`: the build then reads in
process, as it does for small stores, and gives the same answer.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import queue
import struct
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Any, Final, cast, overload

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from core.correlate.event_fields import Values, values_of
from core.correlate.fact_frames import NOT_SAID, FrameInts, frame_ints, kinds
from core.correlate.process_boots import Marker
from core.correlate.roles import HANDLE_ACTS, ROLES, SYSMON
from core.correlate.scan import Rows, Scan, stream
from core.correlate.scan_rows import HandleEvent, HandleReader
from core.model.rows import DAMAGED_DATA, child_pairs
from core.model.same_records import CopyFilter, SameRecords
from core.store.child_process import ROOT, ChildFailed, cores, die_with_parent, module_command, write_all
from core.store.store import KeyRow, Store

#: What `scan_stored` passes the batches read through (the build's progress).
Counted = Callable[[Iterator[Sequence[Any]]], Iterator[Sequence[Any]]]

#: Builds of fewer model events than this read in process: the child's start would not pay.
CHILD_EVENTS: Final = 200_000
#: Distinct handle blobs the child remembers (and the scan's process keeps read) at most: about
#: 5 MB in each process; at 1M churn events 4,096 per EventID already found half of the repeats.
KEPT: Final = 16_384
#: What `frames` numbers a row that is no handle event with, when it looks up what each row says.
NO_KEY: Final = -1
#: Distinct computer names the child keeps one string for (a log has a handful).
COMPUTERS: Final = 4_096
#: How far ahead of the scan the child may write (the pipe's size; Linux allows up to 1 MiB):
#: with the usual 64 KiB both processes waited on each other at every frame.
PIPE_BYTES: Final = 1 << 20
#: How many frames the scan's process takes off the pipe ahead of the scan: about 400 KB each
#: with their facts slots (250 KB before, when this was 128), so ~32 MB at most either way.
AHEAD: Final = 80
#: Seconds without a frame after which the child counts as stuck (stopped for good, starved, or
#: waiting on something that never comes): it is killed and the build reads in process. A frame
#: comes every few milliseconds, the first within a second or two of the child's start.
STALL: Final = 120.0
#: `str.join`: refuses anything but text, in C (`_all_text`).
_JOINED: Final = "".join
#: Each frame's size, before it (0: the last frame was written, then the rows read).
_HEADER: Final = struct.Struct("<Q")
#: The largest frame read (a frame of a batch of 2,000 rows is a few hundred KB).
MAX_FRAME: Final = 1 << 30


def usable(store: Store, events: int) -> bool:
    """Whether a build of `events` model events from `store` reads them in a child: a big
    build, from a file no longer written to (another connection reads what `store`'s does), with
    a second core to run on (on one, the child's work would only add to the build's)."""
    return events >= CHILD_EVENTS and store.shareable and store.get_meta("complete") == "1" and cores() >= 2


def frames(store: Store, event_ids: Iterable[int], kept: int | None = None, *, child: bool = False) -> Iterator[bytes]:
    """The child's frames: per batch of `store.iter_key_rows`, the marshalled (forgot, new,
    *columns, ..., copies): whether every number given before is forgotten, what each number first
    given in this frame stands for, the rows' six fields as columns (`FrameRows`), each row's data
    as the scan takes it (`scan_rows.feed`), and the records loaded twice left out of them
    (`core.model.same_records`). `child`: read by the reading child (`core.model.rows.child_pairs`)."""
    readers: dict[int, tuple[HandleReader, dict[Any, int]]] = {
        eid: (HandleReader(role), {}) for eid, role in ROLES.items() if role.act in HANDLE_ACTS}
    fielded = frozenset(eid for eid, role in ROLES.items() if role.act not in HANDLE_ACTS) | frozenset(SYSMON)
    pairs_of = child_pairs if child else store.pairs_of
    kept = KEPT if kept is None else kept
    computers: dict[str, str] = {}
    #: What each number given stands for (`frame_ints` reads a handle event's fields from it).
    given: dict[Any, Any] = {NO_KEY: NOT_SAID}
    kind_of = kinds()
    number = held = order = 0
    found = SameRecords()
    without_copies = CopyFilter(found, pairs_of)
    for batch in store.iter_key_rows(event_ids):
        try:
            rows = without_copies(batch)
        except ValueError as exc:  # `child_pairs` refused a row (the copies' look at their data)
            raise DamagedRow(f"{DAMAGED_DATA}: {exc} (store ids {batch[0][0]} to {batch[-1][0]})") from None
        copies = found.drain()
        forgot = held >= kept
        if forgot:
            for _, numbers in readers.values():
                numbers.clear()
            given.clear()
            given[NO_KEY] = NOT_SAID
            held = 0
        if len(computers) >= COMPUTERS:
            computers.clear()
        new: dict[int, HandleEvent] = {}
        columns: tuple[list[Any], ...] = tuple([] for _ in range(6))
        sids, tss, record_ids, eids, places, datas = columns
        keys: list[int] = []  # a handle event's number, NO_KEY for another event
        key_of = keys.append
        handed: list[Values] = []  # the fields taken from the rows no handle reader reads
        hand = handed.append
        sid = None
        try:  # (free in the loop: a try costs nothing until it catches)
            for sid, ts, record_id, eid, logged, data in rows:
                sids.append(sid)
                tss.append(ts)
                record_ids.append(record_id)
                eids.append(eid)
                # One string per computer: marshal writes an object met again as a reference.
                places.append(computers.setdefault(logged, logged))
                handle = readers.get(eid)
                if handle is not None:
                    reader, numbers = handle
                    key = numbers.get(data)
                    if key is None:
                        key = numbers[data] = number
                        number += 1
                        held += 1
                        new[key] = given[key] = reader.read(pairs_of(data))
                    datas.append(key)
                    key_of(key)
                elif eid in fielded:
                    values = values_of(pairs_of(data))
                    hand(values)
                    datas.append(values)
                    key_of(NO_KEY)
                else:  # not a model event: the scan skips it
                    datas.append(None)
                    key_of(NO_KEY)
        except (ValueError, TypeError, AttributeError) as exc:  # a damaged row (`DamagedRow`)
            raise DamagedRow(f"{DAMAGED_DATA}: {type(exc).__name__}: {exc} (store id {sid})") from None
        if child:
            _all_text(handed, readers, sids, datas)
        ints = frame_ints(sids, tss, record_ids, eids, list(map(given.__getitem__, keys)), order, kind_of)
        order = ints.end
        yield marshal.dumps((forgot, new, *map(_packed, columns[:4]), places, datas, ints.order, ints.end,
                             ints.wide.tobytes(), ints.narrow.tobytes(), ints.wide_aside, ints.narrow_aside,
                             copies))


class DamagedRow(ValueError):
    """A row whose EventData the reading child cannot take: one `child_pairs` cannot read, one
    whose pairs a reader cannot read (a pair of one value, a number where it reads text), or one
    whose values it hands on are not all text (`_all_text`). The child says which and ends
    (`DAMAGED_STATUS`), and the build reads in its own process, checked (`data_pairs`), which
    reports the cache damaged, as the table and the exports do."""


def _all_text(handed: list[Values], readers: dict[int, tuple[HandleReader, dict[Any, int]]], sids: list[Any],
              datas: list[Any]) -> None:
    """Raise DamagedRow unless every value a batch's rows hand on is text: the fields taken
    from the rows no handle reader reads (`handed`), and the accounts the handle readers met
    (`HandleReader.users`: the one value such a reader writes into what it hands on as it is;
    it reads its other values as text or fails, and a None reads as an absent value there).

    Why here and not in `child_pairs`: `child_pairs` reads every row without checks (they were
    a sixth of the child's time), and a crafted row's int or bytes was then taken silently where
    the table and the exports say the row is damaged. One `str.join` a batch over what is handed
    on (a few values a row) costs the child about 1% (cachegrind, the first 200,000 rows of the
    1M churn store: 50.5k -> 51.0k instructions a row); one `str.join` a row over all its values
    in `child_pairs`, 14% (57.6k), a tenth of the child's CPU time."""
    values: Iterator[Any] = chain.from_iterable(map(dict.values, handed))
    try:
        _JOINED(values)
        for reader, _ in readers.values():
            _JOINED(filter(None, chain.from_iterable(reader.users)))
    except TypeError:
        for sid, data in zip(sids, datas, strict=True):
            if type(data) is dict and any(type(v) is not str for v in data.values()):  # noqa: E721
                raise DamagedRow(f"{DAMAGED_DATA}: a value that is not text (store id {sid})") from None
        raise DamagedRow(f"{DAMAGED_DATA}: an account that is not text (store ids {sids[0]} to {sids[-1]})") from None


#: The reading child's exit status when it met a damaged row (`DamagedRow`).
DAMAGED_STATUS: Final = 3


def child_rows(store: Store, event_ids: Iterable[int], expected: int, decoded: dict[Any, HandleEvent],
               kept: int | None = None) -> Iterator[Sequence[Any]]:
    """The rows of `event_ids` in time order, a batch at a time, read by a child from `store`'s
    file, `decoded` kept up to date as each batch comes (`frames`); `ChildFailed` unless it reads
    exactly `expected` rows (the caller's count, in its own snapshot) or when it writes nothing
    for `STALL` seconds. The child is killed if the caller stops early or it fails."""
    cmd, env = module_command(__name__, str(Path(store.path).resolve()), str(KEPT if kept is None else kept),
                              *map(str, event_ids))
    try:
        # Run from the project's folder: `-m` looks there first, so the child is this same code
        # (its frames are this code's) whatever the current folder holds.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=ROOT)
    except OSError as exc:
        raise ChildFailed(f"the reading process could not start: {exc}") from exc
    assert proc.stdout is not None
    _widen(proc.stdout.fileno())
    read, done = 0, False
    failed: ChildFailed | None = None
    ahead = _Ahead(proc.stdout)
    with proc:  # closes its pipes whatever happens
        try:
            for frame in ahead:
                try:
                    rows = taken(frame, decoded)
                except (ValueError, TypeError, EOFError) as exc:  # not a frame of ours: read here instead
                    raise ChildFailed(f"the reading process wrote a corrupt frame: {exc}") from exc
                read += len(rows) + len(rows.copies)
                if read > expected:
                    break
                yield rows
            else:
                done = proc.wait() == 0
        except ChildFailed as exc:  # said below with what the child said (once it has ended)
            failed = exc
        finally:
            ahead.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            ahead.join()
        if failed is not None or not done or read != expected:
            err = proc.stderr.read() if proc.stderr is not None else b""
            tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
            head = f"{failed}: it" if failed is not None else "the reading process"
            raise ChildFailed(f"{head} read {read} of {expected} events (status {proc.returncode}) {tail}")


def taken(frame: bytes, decoded: dict[Any, HandleEvent]) -> FrameRows:
    """A frame's rows (`frames`), `decoded` brought up to date for them."""
    forgot, new, *columns, order, end, wide, narrow, wide_aside, narrow_aside, copies = marshal.loads(frame)
    if forgot:
        decoded.clear()
    decoded.update(new)
    ints = FrameInts(order, end, array("q"), array("i"), wide_aside, narrow_aside)
    ints.wide.frombytes(wide)
    ints.narrow.frombytes(narrow)
    return FrameRows([_unpacked(column) for column in columns], ints, copies)


def _packed(column: list[Any]) -> bytes | list[Any]:
    """An int column of a frame as the bytes of an `array` of 64-bit ints (loaded at C speed, no
    Python object per value), or as it is when a value is not such an int (None, a text)."""
    try:
        return array("q", column).tobytes()
    except (TypeError, OverflowError):
        return column


def _unpacked(column: bytes | list[Any]) -> list[Any]:
    if type(column) is bytes:  # noqa: E721 - `_packed`'s array; a list otherwise
        values = array("q")
        values.frombytes(column)
        return values.tolist()
    return column  # type: ignore[return-value]


class FrameRows(Sequence[tuple[Any, ...]]):
    """A frame's rows, held as its six columns (store id, time, record id, EventID, computer,
    data): made row tuples one at a time when iterated (`zip` gives them without a tuple kept
    per row), instead of a tuple and its ints per row unmarshalled, then freed, by the scan's
    process (the store ids, times and record ids were most of the frames' loading time)."""

    __slots__ = ("_columns", "copies", "ints")

    def __init__(self, columns: list[list[Any]], ints: FrameInts | None = None,
                 copies: list[tuple[int, int]] | None = None) -> None:
        self._columns = columns
        #: The facts slots of the rows, packed by the child (`core.correlate.fact_frames`).
        self.ints = ints
        #: (copy, first) store ids of the records loaded twice the child left out of these rows.
        self.copies = copies if copies is not None else []

    def __len__(self) -> int:
        return len(self._columns[0])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self._columns, strict=True)

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, i: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(i, slice):
            return list(zip(*(column[i] for column in self._columns), strict=True))
        return tuple(column[i] for column in self._columns)


class _Ahead:
    """The child's frames, read off its pipe by a thread as soon as they are written, up to
    `AHEAD` frames ahead of the scan: on a busy machine the two processes are not scheduled
    together, and with only the pipe's megabyte (four frames) between them each waited for the
    other at every turn of the scheduler (a build of 8 s of CPU took 24 s instead of 17). The
    thread waits in `read`, which lets the GIL go."""

    def __init__(self, out: IO[bytes]) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(AHEAD)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(out,), name="scan-reader", daemon=True)
        self._thread.start()

    def _run(self, out: IO[bytes]) -> None:
        item: bytes | BaseException | None = None
        try:
            for frame in _read_frames(out):
                if not self._put(frame):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the scan's thread, raised there
            item = exc
        self._put(item)

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                item = self._queue.get(timeout=STALL)
            except queue.Empty:
                raise ChildFailed(f"the reading process wrote nothing for {STALL:g} s") from None
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._stopped.set()

    def join(self) -> None:
        self._thread.join()


def _read_frames(out: IO[bytes]) -> Iterator[bytes]:
    """The frames on `out` up to the end mark; `ChildFailed` if it ends without it."""
    while True:
        header = out.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise ChildFailed("the reading process stopped mid-way")
        (size,) = _HEADER.unpack(header)
        if size == 0:
            return
        if size > MAX_FRAME:
            raise ChildFailed("the reading process wrote a frame too big")
        frame = out.read(size)
        if len(frame) != size:
            raise ChildFailed("the reading process stopped mid-way")
        yield frame


def _same(values: Any) -> Any:
    return values


def scan_stored(store: Store, event_ids: Iterable[int], total: int, counted: Counted, kept: int | None = None,
                *, directory: str | None = None, check: Callable[[], None] | None = None,
                markers: Sequence[Marker] = ()) -> Scan:
    """The scan of `store`'s `total` events of `event_ids` in time order (every one has a time),
    each batch read passed through `counted` (progress): read by a child while the scan runs
    when that pays (remembering `kept` blobs, default `KEPT`), else (or if the child fails) here;
    the facts' side files go in `directory` (`FactsTable`); `check` runs between the scan's last
    steps (`Scan.check`); `markers` are the restarts' (`Scan`)."""
    ids = list(event_ids)
    if usable(store, total):
        scan = Scan(directory, check=check, markers=markers)
        decoded: dict[Any, HandleEvent] = {}
        try:
            scan.run(Rows(counted(child_rows(store, ids, total, decoded, kept)), store.pairs_of, decoded=decoded,
                          values_from=_same))
            return scan
        except ChildFailed:
            pass  # read here: the partial scan is dropped
    scan = Scan(directory, check=check, markers=markers)
    scan.run(stream(cast("Iterator[list[KeyRow]]", counted(store.iter_key_rows(ids))), store.pairs_of))
    return scan


def _widen(fd: int) -> None:
    """Let the child write PIPE_BYTES ahead (Linux; elsewhere the pipe stays as it is)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, setsize, PIPE_BYTES)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    # The first process the kernel kills when memory runs out (`child_pairs`: a crafted cache's
    # count), not the app: the build then reads in its own process, with the checks.
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000", encoding="ascii")
    # What the child holds makes no reference cycle, and is bounded (`KEPT`): the collector's
    # passes over its many young tuples were a tenth of its time.
    gc.disable()
    args = sys.argv[1:] if argv is None else argv
    path, kept, event_ids = args[0], int(args[1]), [int(a) for a in args[2:]]
    out = sys.stdout.buffer
    with Store(path, readonly=True) as store, store.snapshot():
        try:
            for frame in frames(store, event_ids, kept, child=True):
                write_all(out, _HEADER.pack(len(frame)), frame)
        except DamagedRow as exc:  # one line for `child_rows`' ChildFailed, which reads it
            print(f"the reading process met a damaged row: {exc}", file=sys.stderr, flush=True)
            return DAMAGED_STATUS
    write_all(out, _HEADER.pack(0))
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
