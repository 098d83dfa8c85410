"""The EVTX file's fixed layout: signatures, sizes, and whether a record's header is whole.

Apart from `reference` (python-evtx's walk) so that `grid` (chunks off the 64 KiB grid), which
`reference` uses, can read them without the two importing each other.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["CHUNK_MAGIC", "CHUNK_SIZE", "FILE_HEADER_SIZE", "FILE_MAGIC", "RECORD_HEADER_SIZE", "RECORD_MAGIC",
           "intact_record"]

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
CHUNK_SIZE = 0x10000
FILE_HEADER_SIZE = 0x1000
RECORD_HEADER_SIZE = 24


def intact_record(buf: Any, ofs: int, end: int) -> int:
    """The size of the record at `ofs` when its header is whole (magic, a size that fits before
    `end`, the size repeated in its last four bytes), else 0."""
    if ofs + RECORD_HEADER_SIZE + 4 > end or buf[ofs : ofs + 4] != RECORD_MAGIC:
        return 0
    size: int = struct.unpack_from("<I", buf, ofs + 4)[0]
    if size < RECORD_HEADER_SIZE + 4 or ofs + size > end or struct.unpack_from("<I", buf, ofs + size - 4)[0] != size:
        return 0
    return size
