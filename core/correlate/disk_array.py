"""Int columns kept in a temporary file and read through `mmap`: page cache, not the Python heap.

The model's columns (`core.correlate.facts.FactsTable`: 96 bytes a model event, 0.8 GB at ten
million events) were `array`s: anonymous memory, held for the model's life whether read or not.
A `DiskArray` appends its values to a temporary file (`os.pwrite`, a batch at a time) and reads
them through a read-only shared `mmap` cast to the same typecode (`view`: indexed, sliced and
searched as the `array` was), so that the kernel holds them as page cache of that file: it can
drop them under pressure and read them back on the next touch, and `release` unmaps the pages
this process touched (`MADV_DONTNEED`: the pages stay cached, the process's RSS gives them up).

Rows that come out of order (the handle instances, written as each is final) are `put` at their
place through a shared writable map of the file instead, its blocks reserved first
(`posix_fallocate`: a full disk is an OSError there, not a SIGBUS on a write through the map).

The file never has a name: `tempfile.TemporaryFile` opens it unlinked (`O_TMPFILE` on Linux), so
that a crash leaves nothing behind and the disk space goes back once the model (the last `view`)
and the file are dropped. Its directory is the store's (on disk; the system temp dir is often a
tmpfs, i.e. memory again). Where no file can be made or written (no `pwrite`, a full disk), the
values fall back to an `array` on the heap: the same answers, the memory of before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
import tempfile
import threading
import time
import weakref
from array import array
from typing import IO

from core.store.heap import file_pages_mb

#: The file grows by doubling from this size (bytes): a few remaps for a whole model.
MIN_CAPACITY = 1 << 20
#: Bytes per write of the side file: a page. The kernel keeps a file's cache in folios as large
#: as each write (up to 2 MB), and a read through the map maps the whole folio it falls in: the
#: model's random look-ups then counted ~2 MB of RSS each (1.4 GB of file pages at ten million
#: events, measured); written a page at a time, a look-up maps its fault-around (64 KB).
PAGE = mmap.PAGESIZE
#: How often the pager gives back the pages of the kept arrays (`keep_paged`), in seconds (a
#: reader looking up at random maps 64 KB a look-up: hundreds of MB in a tenth of a second); and
#: the size (bytes) from which an array is worth it (a small model starts no thread).
PAGER_EVERY = 0.02
PAGED_MIN = 1 << 20
#: Reads at random of the columns, counted by their readers (`touched`), between two looks at
#: the file pages mapped in (`file_pages_mb`): each read maps up to 64 KB (fault-around); when
#: TOUCHED_MB or more are mapped above what was left after the last give-back (the libraries'
#: pages, which grow as code runs), the reader gives every kept array's pages back itself. So
#: readers keep ~16 MB mapped at most however many of them read at once, where counts per table
#: and the pager's lag behind busy threads let 82 MB be (ten million events). Looked at first,
#: not given back at every budget: the pages given back are read again (`bench/README.md`).
TOUCH_BUDGET = 1 << 7
TOUCHED_MB = 8.0


def side_file(directory: str | os.PathLike[str] | None) -> IO[bytes] | None:
    """A new unnamed temporary file in `directory` (else the system temp dir), or None."""
    if not hasattr(os, "pwrite") or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    for where in (directory, None) if directory is not None else (None,):
        with contextlib.suppress(OSError):
            return tempfile.TemporaryFile(dir=where)
    return None


def _ints(view: memoryview, typecode: str) -> memoryview[int]:
    """`view` cast to the ints of `typecode`."""
    cast: memoryview[int] = view.cast(typecode)  # type: ignore[call-overload]
    return cast


class DiskArray:
    """An append-only array of ints of one `array` typecode, in a side file (see the module doc).

    `view` is the values so far (a `memoryview` of the file, or the fallback `array`): read it
    again after each `extend`, which may map the file anew."""

    __slots__ = ("__weakref__", "_cast", "_file", "_map", "_mapped", "_mem", "_n", "_paged", "_writable", "itemsize",
                 "typecode", "view")

    def __init__(self, typecode: str, directory: str | os.PathLike[str] | None = None) -> None:
        self.typecode = typecode
        self.itemsize = array(typecode).itemsize
        self._n = 0
        self._file = side_file(directory)
        self._mem: array[int] | None = array(typecode) if self._file is None else None
        self._map: mmap.mmap | None = None
        self._mapped = 0
        #: Whether `_map` is the writable one `put` writes through (`extend` maps read-only).
        self._writable = False
        self._cast: memoryview[int] | None = None
        self._paged = False  # kept by the pager (`keep_paged`): done once it is big enough
        empty = _ints(memoryview(b""), typecode)
        self.view: memoryview[int] | array[int] = self._mem if self._mem is not None else empty

    def __len__(self) -> int:
        return self._n

    def fileno(self) -> int | None:
        """The side file's descriptor (None: the values are on the heap), for a child to map."""
        return self._file.fileno() if self._file is not None else None

    @property
    def on_disk(self) -> bool:
        """Whether the values are in the side file (False: on the heap, the fallback)."""
        return self._mem is None

    def extend(self, values: array[int]) -> None:
        """Append `values` (an array of this typecode)."""
        if not values:
            return
        if self._mem is not None:
            self._mem.extend(values)
            self._n = len(self._mem)
            return
        try:
            self._write(values)
        except OSError:  # a full disk, a file system without room: the heap, as before
            self._to_heap()
            self.extend(values)

    def _write(self, values: array[int]) -> None:
        assert self._file is not None
        fd = self._file.fileno()
        start = self._n * self.itemsize
        end = start + len(values) * self.itemsize
        if end > self._mapped:
            capacity = max(MIN_CAPACITY, 2 * self._mapped)
            while capacity < end:  # bounded: doubles each step
                capacity *= 2
            os.ftruncate(fd, capacity)
        data = memoryview(values).cast("B")
        written = 0
        while written < len(data):  # bounded: each write moves on, or raises
            # A page at most per write (`PAGE`).
            piece = min(len(data), (start + written) // PAGE * PAGE + PAGE - start)
            done = os.pwrite(fd, data[written:piece], start + written)
            if done <= 0:
                raise OSError("no progress writing the side file")
            written += done
        if end > self._mapped:
            # A new map of the whole file; the old one is unmapped once no view of it is left.
            self._map = mmap.mmap(fd, os.fstat(fd).st_size, access=mmap.ACCESS_READ)
            self._mapped = len(self._map)
            self._writable = False
            self._cast = _ints(memoryview(self._map), self.typecode)
        self._n += len(values)
        assert self._cast is not None
        self.view = self._cast[:self._n]
        if not self._paged and end >= PAGED_MIN:  # read while still filled (the scan's look-ups)
            self._paged = True
            PAGER.keep(self)

    def put(self, at: int, values: array[int]) -> None:
        """Write `values` (an array of this typecode) at value index `at`, anywhere: past the end the
        array grows (the values between, not written yet, read 0). For rows that come out of order
        (`core.correlate.handle_table`): they are written through a shared writable map of the file,
        no system call per row; call `settle` before reading `view`."""
        end = at + len(values)
        if self._mem is not None:
            mem = self._mem
            if end > len(mem):
                mem.frombytes(bytes((end - len(mem)) * self.itemsize))
            mem[at:end] = values
            self._n = len(mem)
            return
        try:
            if end * self.itemsize > self._mapped or not self._writable:
                self._grow(end * self.itemsize)
            assert self._cast is not None
            self._cast[at:end] = values
        except OSError:  # no room: the heap, as before
            self._to_heap()
            self.put(at, values)
            return
        if end > self._n:
            self._n = end

    def _grow(self, size: int) -> None:
        """Map the file writable, at least `size` bytes of it, its blocks reserved first: a write
        through the map to a block a full disk cannot give would kill the process (SIGBUS); here
        it is an OSError, and the values go to the heap."""
        assert self._file is not None
        fd = self._file.fileno()
        capacity = max(MIN_CAPACITY, 2 * self._mapped)
        while capacity < size:  # bounded: doubles each step
            capacity *= 2
        fallocate = getattr(os, "posix_fallocate", None)
        if fallocate is None:  # (macOS) no way to reserve the blocks: the heap
            raise OSError("no posix_fallocate")
        fallocate(fd, 0, capacity)
        self._map = mmap.mmap(fd, capacity)  # shared: the writes are the file's pages
        self._mapped = capacity
        self._writable = True
        self._cast = _ints(memoryview(self._map), self.typecode)

    def settle(self) -> None:
        """Read `view` anew after `put`s."""
        if self._mem is not None:
            self.view = self._mem
        elif self._cast is not None:
            self.view = self._cast[:self._n]

    def _to_heap(self) -> None:
        """Move the values written so far to an `array` and let the file go."""
        mem: array[int] = array(self.typecode)
        if self._n:
            assert self._cast is not None
            mem.frombytes(self._cast[:self._n].tobytes())
        self._mem = mem
        self.view = mem
        self._drop_file()

    def release(self, lo: int = 0, hi: int | None = None) -> None:
        """Give back the pages of values lo..hi-1 (default: all) this process touched: they stay
        in the page cache and the next read maps them again. What a pass over the values left
        resident would otherwise count in the process's RSS until the model is dropped."""
        mapped = self._map  # once: the pager calls this from its thread
        if mapped is None or not self._n:
            return
        start = lo * self.itemsize // mmap.PAGESIZE * mmap.PAGESIZE
        end = min(self._n if hi is None else hi, self._n) * self.itemsize
        if end > start:
            with contextlib.suppress(OSError, ValueError):  # a map just replaced by `extend`: harmless
                mapped.madvise(mmap.MADV_DONTNEED, start, end - start)

    def close(self) -> None:
        """Drop the values and the file (the map goes with its last view)."""
        self._mem = array(self.typecode) if self._mem is not None else None
        self.view = self._mem if self._mem is not None else _ints(memoryview(b""), self.typecode)
        self._n = 0
        self._drop_file()

    def _drop_file(self) -> None:
        self._cast = None
        self._map = None
        self._mapped = 0
        self._writable = False
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def on_disk(typecode: str, values: array[int], directory: str | os.PathLike[str] | None = None) -> DiskArray:
    """`values` (made whole on the heap, e.g. filled out of order) moved to a side file."""
    out = DiskArray(typecode, directory)
    out.extend(values)
    return out


class _Pager:
    """Gives back, every PAGER_EVERY seconds, the pages of the arrays it keeps (`keep_paged`):
    a model's readers (the Processes forest, the tables' writer) touch its columns all over, and
    each page read stays in the process's RSS until released. The page cache keeps them; the
    RSS then holds what was read in the last moment. One daemon thread, gone with the arrays."""

    def __init__(self) -> None:
        self._arrays: weakref.WeakSet[DiskArray] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._touches = 0
        self._floor: float | None = None  # file pages mapped after the last give-back (MB)

    def keep(self, disk: DiskArray) -> None:
        if not disk.on_disk or len(disk) * disk.itemsize < PAGED_MIN:
            return
        with self._lock:
            self._arrays.add(disk)
            if self._thread is None:
                # A thread keeps the `sys.stderr` of its making (to print its exception); in the
                # app that is Textual's capture, which holds the app and so the model and these
                # arrays: the pager would never see them go, and an ended app in a process that
                # goes on (the tests, the screenshots) would stay whole. The real one instead.
                with contextlib.redirect_stderr(sys.__stderr__):
                    self._thread = threading.Thread(target=self._run, name="disk-array-pager", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:  # bounded: ends once no array is kept (the models are dropped)
            time.sleep(PAGER_EVERY)
            with self._lock:
                kept = list(self._arrays)
                if not kept:
                    self._thread = None
                    return
            for disk in kept:
                disk.release()
            del kept, disk

    def touched(self, reads: int) -> None:
        """Count `reads` at random (see `TOUCH_BUDGET`; threads may race on the count: it is
        a bound, not a tally)."""
        self._touches += reads
        if self._touches >= TOUCH_BUDGET:
            self._touches = 0
            mapped = file_pages_mb()
            if mapped is None:  # no /proc: by count alone
                self.release_all()
                return
            floor = self._floor = mapped if self._floor is None else min(self._floor, mapped)
            if mapped - floor >= TOUCHED_MB:
                self.release_all()
                self._floor = file_pages_mb()

    def release_all(self) -> None:
        """Give back the pages of every kept array now (a madvise each: cheap where none is mapped)."""
        with self._lock:
            kept = list(self._arrays)
        for disk in kept:
            disk.release()


    def after_fork(self) -> None:
        """In a forked child (the tables' second writer, `tui.side_writer`): a fresh lock (the
        parent's pager thread may have held it at the fork) and no thread (it is not copied)."""
        self._lock = threading.Lock()
        self._thread = None


PAGER = _Pager()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=PAGER.after_fork)


def touched(reads: int = 1) -> None:
    """A reader read the kept arrays at `reads` places at random (a page and its neighbours
    mapped each): once TOUCH_BUDGET of them add up, every kept array's pages are given back if
    TOUCHED_MB are found mapped above what the last give-back left."""
    PAGER.touched(reads)


def keep_paged(*disks: DiskArray) -> None:
    """Have the pager give back the pages of `disks` now and then (an `extend` meanwhile is
    safe: a release of the map it replaces does nothing)."""
    for disk in disks:
        PAGER.keep(disk)


class DiskColumns:
    """Named `DiskArray`s filled a batch at a time, as the instance tables (`HandleTable`,
    `ProcessTable`) fill theirs: rows are appended to `pending`, and `seal` writes them out and
    gives the columns' views to read."""

    def __init__(self, columns: tuple[tuple[str, str], ...], directory: str | None) -> None:
        self.disks = {name: DiskArray(code, directory) for name, code in columns}
        #: What is appended to each column and not written yet.
        self.pending = {name: array(code) for name, code in columns}

    def seal(self) -> dict[str, memoryview[int] | array[int]]:
        """Write the pending values and give each column's view (the pager gives their pages back)."""
        for name, disk in self.disks.items():
            disk.extend(self.pending[name])
            disk.settle()
            self.pending[name] = array(disk.typecode)
        keep_paged(*self.disks.values())
        return {name: disk.view for name, disk in self.disks.items()}

    def release(self) -> None:
        """Unmap the pages of the columns read so far (`DiskArray.release`)."""
        for disk in self.disks.values():
            disk.release()
