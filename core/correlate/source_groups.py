"""The handle uses of a model grouped by their source handle instance, made by a child process
while the build's last steps run on the other core.

`FactsTable.by_source_handle` (a counting sort of the facts table's positions by the handle each
event used) took 0.8-1.1 s of a 20-26 s build at 1M churn events and 9 s of 243 s at 10M, all of it
after the scan, when the reading child (`core.correlate.scan_reader`) is done and a core idles
while the session answers are chosen (`FactsTable.assign_session_spans`, twice as long). So the
build starts this module as a child as soon as the scan has fed its last event: it maps the same
side file (handed over open: the file has no name), runs the same `group` over it and writes the
answer to its stdout, which the build reads when it finishes the handles.

The child is started only for a big table whose slots are in a file, with no value kept aside
(the child sees the slots, not the side dict) and a second core; anything else, or a child that
fails in any way (`ChildFailed`), and the build groups in process: the same function, the same
answer. The module imports nothing but the standard library and the child helpers, so that the
child starts in a tenth of a second.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import select
import struct
import subprocess
import sys
import threading
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, compress, count
from typing import IO, Final, cast

from core.store.child_process import ROOT, ChildFailed, die_with_parent, module_command, write_all

#: Tables of fewer events group in process: the child's start (~0.1 s) would not pay.
MIN_EVENTS: Final = 500_000
#: Events read per slice of the table (their slots' pages given back after each).
SLICE: Final = 65536
#: A slice is searched EventID by EventID (`_sparse`) while fewer than one slot in DENSE is a hit:
#: a hit found costs a few times what the pass over every slot costs per slot.
DENSE: Final = 4
#: How long the build waits for the child's answer at most (seconds, plus a second per 100,000
#: events: it takes a tenth of that) before it kills it and groups in process.
WAIT: Final = 30.0
WAIT_PER_EVENT: Final = 1e-5
#: The answer's header: the lengths of the positions and of the starts.
_HEADER: Final = struct.Struct("<QQ")
#: Positions fit 32 bits up to this many events.
_INT32_MAX: Final = (1 << 31) - 1


def positions_typecode(n: int) -> str:
    """The typecode of positions in a table of `n` events."""
    return "i" if n <= _INT32_MAX else "q"


def positions(slots: Sequence[int], stride: int, eid_at: int, none: int, n: int, event_ids: frozenset[int],
              event_id_of: Callable[[int], int | None] | None = None,
              release: Callable[[int, int], None] | None = None) -> Iterator[array[int]]:
    """The positions of the events of `event_ids` among the `n` rows of `slots` (`stride` slots a
    row, the EventID at `eid_at`), a slice at a time, none kept: an EventID is its own slot, else
    (the slot is `none`) `event_id_of(pos)` (None: none kept aside). `release(lo, hi)` is told
    each slice once the caller asks for the next (it may read the slice's other slots first)."""
    typecode = positions_typecode(n)
    fmt = slots.format if isinstance(slots, memoryview) else slots.typecode if isinstance(slots, array) else None
    none_bytes = _patterns(fmt, (none,)) if fmt else []
    patterns = _patterns(fmt, event_ids) if none_bytes and fmt else []
    for lo in range(0, n, SLICE):
        part = slots[lo * stride + eid_at:min(lo + SLICE, n) * stride:stride]
        found = (_sparse(cast("memoryview | array[int]", part), none_bytes[0], patterns, event_ids, lo)
                 if none_bytes else None)
        if found is not None:
            yield array(typecode, found)
            if release is not None:
                release(lo, lo + SLICE)
            continue
        hits: Iterator[int] | list[int] = compress(count(lo), map(event_ids.__contains__, part))  # at C speed
        if none in part:
            hits = [pos for pos, slot in enumerate(part, lo) if slot in event_ids
                    or (slot == none and event_id_of is not None and event_id_of(pos) in event_ids)]
        yield array(typecode, hits)
        if release is not None:  # once the caller has read what it wanted of the slice
            release(lo, lo + SLICE)


def _patterns(fmt: str, values: Iterable[int]) -> list[bytes]:
    """The bytes of each of `values` as a slot of typecode `fmt` holds it (none for a value no
    slot can hold: such a value is kept aside)."""
    out = []
    for value in values:
        try:
            out.append(array(fmt, (value,)).tobytes())
        except OverflowError:
            continue
    return out


def _sparse(part: memoryview | array[int], none: bytes, patterns: list[bytes], event_ids: frozenset[int],
            lo: int) -> Iterator[int] | None:
    """The positions (from `lo`) of the slots of `part` (a slice of the EventID column) holding
    one of `event_ids` (`patterns`: their bytes), found by searching the slice's bytes for each
    (at C speed: the Handles list's 220,000 4690s among ten million events took 0.7 s of a pass
    that made an int of every slot), or by that pass where hits are so many that it costs less;
    None when the slice holds `none` (the bytes of a value kept aside: the caller reads those
    one by one)."""
    data = part.tobytes()
    size = len(data) // len(part) if len(part) else 1
    if _aligned(data, none, size, first=True):
        return None
    if sum(map(data.count, patterns)) * DENSE > len(part):  # (no slot kept aside: none looked for)
        return compress(count(lo), map(event_ids.__contains__, part))  # (no list: an int object a hit)
    out: list[int] = []
    for pattern in patterns:
        out += _aligned(data, pattern, size)
    if len(patterns) > 1:
        out.sort()
    return (lo + at // size for at in out)


def _aligned(data: bytes, pattern: bytes, size: int, *, first: bool = False) -> list[int]:
    """The offsets of `pattern` in `data` at a slot's start (a slot is `size` bytes); `first`:
    the first only (whether there is one)."""
    out: list[int] = []
    at = data.find(pattern)
    while at >= 0:  # bounded: `at` grows until find gives up at the end of `data`
        if at % size == 0:
            out.append(at)
            if first:
                break
        at = data.find(pattern, at + 1)
    return out


def group(slots: Sequence[int], stride: int, eid_at: int, handle_at: int, none: int, n: int,
          event_ids: frozenset[int], handles: int, event_id_of: Callable[[int], int | None] | None = None,
          release: Callable[[int, int], None] | None = None) -> tuple[array[int], array[int]]:
    """The positions of the events of `event_ids` (see `positions`) grouped by their source handle
    instance (the slot at `handle_at`, `none` for none; 0..handles-1), in scan order within each:
    (positions, starts), instance i's being `positions[starts[i]:starts[i + 1]]`. A counting sort,
    the positions read twice a slice at a time (held whole they were 4 bytes a use) and sorted into
    32-bit slots where they fit."""
    counts = array("q", bytes(8 * (handles + 1)))
    for part in positions(slots, stride, eid_at, none, n, event_ids, event_id_of, release):
        for pos in part:
            h = slots[pos * stride + handle_at]
            if h != none:
                counts[h + 1] += 1
    starts = array("q", accumulate(counts))
    cursor = counts  # each instance's next place, in the counts' own array (13 MB at 10M events)
    cursor[:] = starts
    out = array(positions_typecode(n), [0]) * starts[-1]
    for part in positions(slots, stride, eid_at, none, n, event_ids, event_id_of, release):
        for pos in part:
            h = slots[pos * stride + handle_at]
            if h != none:
                out[cursor[h]] = pos
                cursor[h] += 1
    return out, starts


class Grouping:
    """A child grouping a table's handle uses (`start`); `result` waits for its answer."""

    def __init__(self, proc: subprocess.Popen[bytes], n: int, handles: int) -> None:
        self._proc = proc
        self._n = n
        self._handles = handles
        # A build that stops before `result` (an error, a cancelled view) leaves no child behind.
        self._finalizer = weakref.finalize(self, _stop, proc)

    def result(self, handles: int) -> tuple[array[int], array[int]]:
        """`group`'s answer for `handles` instances (at least as many as when started: the later
        ones, made after the scan, have no use); `ChildFailed` if the child gave none."""
        proc = self._proc
        limit = WAIT + WAIT_PER_EVENT * self._n
        # The whole answer within the limit: a child stopped for good after its header (or mid-way)
        # is killed then, and the reads below end short instead of waiting for ever.
        timer = threading.Timer(limit, _kill, (proc,))
        timer.daemon = True
        timer.start()
        try:
            if handles < self._handles:
                raise ChildFailed(f"grouped for {self._handles} handles, asked for {handles}")
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], limit)
            if not ready:
                raise ChildFailed("the grouping process gave no answer in time")
            header = _read(proc.stdout, _HEADER.size)
            uses, size = _HEADER.unpack(header)
            if size != self._handles + 1 or uses > self._n:
                raise ChildFailed(f"the grouping process answered for {size - 1} handles and {uses} uses")
            out = _read_array(proc.stdout, positions_typecode(self._n), uses)
            starts = _read_array(proc.stdout, "q", size)
            if proc.wait() != 0:
                raise ChildFailed(f"the grouping process ended with status {proc.returncode}")
            if starts[0] != 0 or starts[-1] != uses:
                raise ChildFailed("the grouping process's starts do not add up")
        except (OSError, ValueError, struct.error) as exc:
            raise ChildFailed(f"the grouping process's answer could not be read: {exc}") from exc
        finally:
            timer.cancel()
            self._finalizer()
        starts.extend(array("q", [uses]) * (handles - self._handles))
        return out, starts


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):  # (ended meanwhile)
        proc.kill()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _read(out: IO[bytes], size: int) -> bytes:
    data = out.read(size)
    if len(data) != size:
        raise ChildFailed("the grouping process stopped mid-way")
    return data


def _read_array(out: IO[bytes], typecode: str, length: int) -> array[int]:
    """`length` values of `typecode` read straight into an array (no copy of the bytes kept)."""
    values = array(typecode, [0]) * length
    view = memoryview(values).cast("B")
    got = 0
    while got < len(view):  # bounded: each read moves on, or the loop ends
        done = out.readinto(view[got:])  # type: ignore[attr-defined]
        if not done:
            raise ChildFailed("the grouping process stopped mid-way")
        got += done
    return values


def start(fd: int, n: int, stride: int, eid_at: int, handle_at: int, none: int, event_ids: frozenset[int],
          handles: int) -> Grouping | None:
    """A child grouping the `n` rows of 32-bit slots in the file open as `fd` (see `group`), or
    None if it could not start."""
    cmd, env = module_command(__name__, *map(str, (fd, n, stride, eid_at, handle_at, none, handles)),
                              *map(str, sorted(event_ids)))
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env, cwd=ROOT, pass_fds=(fd,))
    except OSError:
        return None
    return Grouping(proc, n, handles)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = [int(a) for a in (sys.argv[1:] if argv is None else argv)]
    fd, n, stride, eid_at, handle_at, none, handles, *event_ids = args
    mapped = mmap.mmap(fd, n * stride * 4, access=mmap.ACCESS_READ)
    slots = memoryview(mapped).cast("i")

    def release(lo: int, hi: int) -> None:  # the slice's pages: read once
        start = lo * stride * 4 // mmap.PAGESIZE * mmap.PAGESIZE
        end = min(hi, n) * stride * 4
        if end > start:
            mapped.madvise(mmap.MADV_DONTNEED, start, end - start)

    out, starts = group(slots, stride, eid_at, handle_at, none, n, frozenset(event_ids), handles, release=release)
    sink = sys.stdout.buffer
    write_all(sink, _HEADER.pack(len(out), len(starts)), memoryview(out).cast("B"), memoryview(starts).cast("B"))
    sink.flush()
    os.close(fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
