"""An EVTX file's bytes at their own offsets, in anonymous memory read a chunk at a time.

The decoders (ours and python-evtx's, which reads at absolute offsets) took the file mapped
whole: a file that shrank while it was read (a log rotated or rewritten, a truncated copy on a
share, a hostile one) killed the process with SIGBUS at the first read past its new end, the
app with it. A `FileImage` is private anonymous memory as long as the file was when opened:
nothing is mapped from the file; each chunk is copied into its place (`pread`) before it is
decoded and its pages given back after, so a read past the end is a short read, reported, and
untouched pages cost nothing (they read as zeros).
"""

from __future__ import annotations

import mmap
import os
from typing import IO

#: The file header's size: loaded with the image (python-evtx reads it).
HEADER_SIZE = 0x1000


class FileImage(mmap.mmap):
    """The bytes of `fh`'s file at their offsets (`len` is its size when opened); `load` copies
    a range in, `drop` gives its pages back."""

    fd: int
    #: Chunks the file no longer held whole when loaded: index -> bytes it still held.
    short: dict[int, int]

    def __new__(cls, fh: IO[bytes]) -> FileImage:
        size = os.fstat(fh.fileno()).st_size
        image = super().__new__(cls, -1, max(size, 1), flags=mmap.MAP_PRIVATE)
        image.fd = fh.fileno()
        image.short = {}
        image.load(0, HEADER_SIZE)
        return image

    def load(self, start: int, length: int) -> int:
        """Copy the file's bytes `start` .. `start + length` (clipped to the image) into place;
        how many the file still held (fewer: it shrank since it was opened)."""
        end = min(len(self), start + length)
        done = 0
        if start >= end:
            return 0
        with memoryview(self) as view:
            while start + done < end:
                got = _read_into(self.fd, view[start + done:end], start + done)
                if got <= 0:
                    break
                done += got
        return done

    def take(self, index: int, start: int, length: int) -> bool:
        """`load` chunk `index` (`length` bytes at `start`): whether the file still held it whole;
        if not, its pages are dropped and `short[index]` says how much the file held."""
        got = self.load(start, length)
        if got < length:
            self.drop(start, length)
            self.short[index] = got
        return got == length

    def drop(self, start: int, length: int) -> None:
        """Give back the pages of `start` .. `start + length` (they read as zeros until loaded again)."""
        page = mmap.PAGESIZE
        lo = -(-start // page) * page
        hi = min(len(self), start + length) // page * page
        if hi > lo:
            self.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _read_into(fd: int, target: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [target], offset)
    data = os.pread(fd, len(target), offset)  # (no preadv: one copy more)
    target[:len(data)] = data
    return len(data)
