"""The members of a `.zip` input, read once each, in bounded work, a damaged one costing itself.

A zip is attacker-shaped: its central directory may list many entries that point at the same
compressed bytes (Python's zipfile before 3.12 reads them all: 1000 entries over one 100 MiB
member made a 155 KB file cost minutes and report each event 1000 times), and a member may
decompress to a thousand times its size. So, before a member is read:

* an entry whose local header was already read (same offset), or whose data runs into the next
  entry's local header (or into the central directory), is skipped and reported;
* what the members decompress to, in all, is capped relative to the zip's size
  (`MAX_ZIP_RATIO`, at least `MIN_ZIP_ALLOWANCE`): reading stops there, with a parse issue
  saying how to read the rest (extract it: a plain file has no such cap).

A member whose data is damaged (a deflate, bzip2 or LZMA stream error, a bad CRC, a truncated
stream) ends where the damage is: what was read before it is kept and the damage is reported,
and the next member is read (the positions the loaders count go on from there, so a record is
found again at the position it was loaded from).
"""

from __future__ import annotations

import bisect
import lzma
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from parsers.sniff import sniff_format
from parsers.textio import HEAD_SIZE, READ_SIZE

#: Most bytes a zip's members may decompress to, as a multiple of the zip's size. Real logs
#: compress 15-27x with deflate (the OTRF zips) and 77x with LZMA at its strongest (the
#: largest of them, recompressed): 200x leaves room above both, while a zip bomb (deflate
#: reaches 1032x, bzip2 far more) costs at most what a plain file 200 times its size would.
MAX_ZIP_RATIO = 200
#: The allowance of a small zip whatever its ratio (its members' headers weigh more than its
#: data): 16 MiB is read in a few seconds whatever it holds.
MIN_ZIP_ALLOWANCE = 16 << 20
#: What a damaged member's data raises while it is read: zipfile's own errors (bad CRC,
#: truncated), bzip2's OSError, deflate's zlib.error, LZMA's LZMAError and a short LZMA header.
_READ_ERRORS = (
    zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError, zlib.error,
    lzma.LZMAError, struct.error,
)  # fmt: skip
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then file name and extra field lengths


def members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Entries in archive order, without directories and macOS resource forks."""
    return [
        info
        for info in zf.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/") and "/._" not in f"/{info.filename}"
    ]


@dataclass
class _Budget:
    """Decompressed bytes the zip may still yield."""

    left: int
    exceeded: bool = False


@dataclass
class Member:
    """One member being read: `chunks` are its decompressed bytes (the first `HEAD_SIZE`
    already read to sniff `fmt`), ending early at damage or at the zip's cap; `fault` then
    says why, once they are consumed."""

    info: zipfile.ZipInfo
    label: str
    fmt: str
    chunks: Iterator[bytes]
    fault: list[str] = field(default_factory=list)


def _stream(fh: IO[bytes], head: bytes, budget: _Budget, fault: list[str]) -> Iterator[bytes]:
    """The member's bytes from `head` on. A read error ends them instead of escaping into the
    loader (which would lose the positions counted so far), noted in `fault`; the zip's budget
    ends them too, noted in it (`exceeded` only when bytes were left unread)."""
    yield head
    while True:
        try:
            block = fh.read(min(READ_SIZE, budget.left))
            if not block and budget.left == 0 and fh.read(1):
                budget.exceeded = True
        except _READ_ERRORS as exc:
            fault.append(f"damaged zip member (its records before the damage are kept): {exc}")
            return
        if not block:
            return
        budget.left -= len(block)
        yield block


def _bounds(zf: zipfile.ZipFile) -> tuple[dict[int, zipfile.ZipInfo], list[int]]:
    """(the first entry listed at each local header offset, those offsets in order)."""
    first: dict[int, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        first.setdefault(info.header_offset, info)
    return first, sorted(first)


def _overlap(zf: zipfile.ZipFile, info: zipfile.ZipInfo, first: dict[int, zipfile.ZipInfo], starts: list[int]) -> str:
    """Why the entry may not be read (it shares bytes with another), or ''."""
    if first[info.header_offset] is not info:
        return (f"member skipped: its local header (offset {info.header_offset}) is an earlier entry's; "
                "overlapping entries are a zip bomb's trick")  # fmt: skip
    at = bisect.bisect_right(starts, info.header_offset)
    bound = starts[at] if at < len(starts) else zf.start_dir
    fp = zf.fp
    if fp is None:
        raise ValueError("closed zip")
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size:
        return "unreadable zip member: truncated local header"
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(header)
    end = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
    if signature != b"PK\x03\x04":
        return "unreadable zip member: bad local header"
    if end > bound:
        return (f"member skipped: its data (to offset {end}) runs into the next entry or the central "
                f"directory (offset {bound}); overlapping entries are a zip bomb's trick")  # fmt: skip
    return ""


def read_members(zf: zipfile.ZipFile) -> Iterator[Member | str]:
    """Each member to read (consume its `chunks` before the next), or a parse issue's reason
    (its `label` first) for a member skipped, damaged or cut by the cap."""
    fp = zf.fp
    size = os.fstat(fp.fileno()).st_size if fp is not None else 0
    budget = _Budget(max(MAX_ZIP_RATIO * size, MIN_ZIP_ALLOWANCE))
    first, starts = _bounds(zf)
    todo = members(zf)
    for n, info in enumerate(todo):
        label = f"{info.filename}: "
        if budget.left <= 0:
            yield f"{label}not read, nor the {len(todo) - n - 1:,} member(s) after it: {_capped()}"
            return
        try:
            reason = _overlap(zf, info, first, starts)
            if reason:
                yield label + reason
                continue
            with zf.open(info) as fh:
                head = fh.read(min(HEAD_SIZE, budget.left))
                budget.left -= len(head)
                fault: list[str] = []
                yield Member(info, label, sniff_format(head), _stream(fh, head, budget, fault), fault)
        except _READ_ERRORS as exc:
            # Encrypted, unsupported compression, a bad local header: the member costs only itself.
            yield f"{label}unreadable zip member: {exc}"
            continue
        yield from (label + reason for reason in fault)
        if budget.exceeded:
            yield f"{label}read in part, and the {len(todo) - n - 1:,} member(s) after it not at all: {_capped()}"
            return


def _capped() -> str:
    """Why reading stopped, and how to read the rest (a plain file has no such cap)."""
    return (f"the zip's members decompress to more than {MAX_ZIP_RATIO} times its size (or {MIN_ZIP_ALLOWANCE >> 20} "
            "MiB for a small zip): a zip bomb? Extract the zip to read them")  # fmt: skip
