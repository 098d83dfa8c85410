"""Giving the C heap's free memory back to the system (glibc's `malloc_trim`).

What Python frees is not always returned: objects over 512 bytes (a list view's JSON cells, a
chunk's list of rows, SQLite's buffers) come from the C allocator, which keeps freed memory in
its heaps (one per thread that allocated: the app builds, writes and shows in several) for the
next allocation, and returns it only from the top of a heap. After the tables' writer had written
the views of a million-event log, 337 MB were resident, 176 MB after a trim: the rest was free
memory kept. `malloc_trim(0)` gives back every whole free page of every heap, and
`tune_allocator` makes big blocks go back as they are freed. Where there is no glibc (macOS,
musl, Windows) both do nothing: those allocators behave differently.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable

#: glibc's `mallopt` parameters (malloc.h) and what `tune_allocator` sets them to.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once (None: not Linux, or no C library found)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@functools.cache
def tune_allocator() -> bool:
    """Make the C heap give freed memory back (glibc's `mallopt`; whether it could): blocks from
    128 KB on are mapped apart and unmapped when freed (glibc's default raises that threshold to
    the largest block freed, up to 32 MB, so that the buffers of a ten-million-event model and
    its writer, once freed, stay in the heaps), and the app's threads share two heaps, not one
    each (up to 16 on a 2-core machine): the first open's peak at ten million events is the
    writer's end, 18 MB lower so (`bench/README.md`). Once per process, before its threads
    allocate; not glibc (macOS, musl): nothing."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_ARENA_MAX, ARENA_MAX))


@functools.cache
def _trim_function() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, looked up once (None: not Linux, or a libc without it, as musl)."""
    libc = _libc()
    if libc is None:
        return None
    try:
        trim = libc.malloc_trim
    except AttributeError:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    found: Callable[[int], int] = trim
    return found


def give_back() -> bool:
    """Return the C heaps' free pages to the system; whether it could (glibc only)."""
    trim = _trim_function()
    if trim is None:
        return False
    trim(0)
    return True


_statm: list[int] = []  # [pid, fd] of /proc/self/statm, opened once per process


def file_pages_mb() -> float | None:
    """How much of this process's resident memory is file pages mapped in (the "shared" field of
    /proc/self/statm: a side file's pages read through its map), in MB; None where there is no
    /proc. Half a microsecond (a pread of a descriptor kept open): cheap enough to ask every few
    dozen rows written, so that the pages read are given back by what they hold, not by time."""
    try:
        if not _statm or _statm[0] != os.getpid():
            _statm[:] = [os.getpid(), os.open("/proc/self/statm", os.O_RDONLY)]
        fields = os.pread(_statm[1], 128, 0).split()
        return int(fields[2]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None
