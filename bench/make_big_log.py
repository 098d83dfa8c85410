"""Build a big, valid EVTX file by replicating the chunks of a real one.

Why replicate rather than synthesise: the records stay real (real templates, real strings, the
event mix of a real Security log), so decoders are measured on the work they meet in the field.
Each copy gets fresh record numbers (record headers, the EventRecordID substitution, chunk
headers), and every checksum and the file header's chunk count are recomputed, so strict
parsers (the Rust `evtx` crate verifies checksums) accept the file.

Usage: python -m bench.make_big_log SOURCE.evtx OUT.evtx [--mb 100]
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsers.evtx.errors import BinXmlError  # noqa: E402
from parsers.evtx.templates import parse_root  # noqa: E402

CHUNK = 0x10000
HEADER = 0x1000
MAX_CHUNKS = 0xFFFF  # the header's chunk count is 16 bits


def _chunks(data: bytes) -> list[bytes]:
    out = []
    for ofs in range(HEADER, len(data) - CHUNK + 1, CHUNK):
        chunk = data[ofs : ofs + CHUNK]
        if chunk[:8] == b"ElfChnk\x00":
            out.append(chunk)
    return out


def _renumber(chunk: bytes, first: int) -> tuple[bytes, int]:
    """Copy of `chunk` whose records are numbered from `first`; returns it and the next number."""
    buf = bytearray(chunk)
    free = struct.unpack_from("<I", buf, 0x30)[0]
    end = free if 0x200 <= free <= CHUNK else CHUNK
    ofs = 0x200
    number = first
    while ofs + 24 <= end and buf[ofs : ofs + 4] == b"\x2a\x2a\x00\x00":
        size = struct.unpack_from("<I", buf, ofs + 4)[0]
        if size < 28 or ofs + size > CHUNK:
            break
        old = struct.unpack_from("<Q", buf, ofs + 8)[0]
        struct.pack_into("<Q", buf, ofs + 8, number)
        # EventRecordID: the record's UInt64 substitution holding the old number.
        try:
            root = parse_root(bytes(buf), ofs + 24, CHUNK)
        except BinXmlError:
            root = None
        if root is not None:
            for i, vtype in enumerate(root.types):
                at = root.offsets[i]
                if vtype == 0x0A and struct.unpack_from("<Q", buf, at)[0] == old:
                    struct.pack_into("<Q", buf, at, number)
                    break
        number += 1
        ofs += size
    count = number - first
    if count:
        struct.pack_into("<QQQQ", buf, 8, first, number - 1, first, number - 1)
    struct.pack_into("<I", buf, 0x34, zlib.crc32(bytes(buf[0x200:end])) & 0xFFFFFFFF)
    struct.pack_into("<I", buf, 0x7C, zlib.crc32(bytes(buf[0:0x78]) + bytes(buf[0x80:0x200])) & 0xFFFFFFFF)
    return bytes(buf), number


def build(source: Path, out: Path, megabytes: float = 100.0) -> tuple[int, int]:
    """Write `out` (about `megabytes` MB); return (chunks, records)."""
    data = source.read_bytes()
    chunks = _chunks(data)
    if not chunks:
        raise SystemExit(f"{source}: no valid chunk to replicate")
    wanted = min(MAX_CHUNKS, max(1, int(megabytes * 1024 * 1024) // CHUNK))
    number = 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        fh.write(b"\x00" * HEADER)
        for i in range(wanted):
            chunk, number = _renumber(chunks[i % len(chunks)], number)
            fh.write(chunk)
    header = bytearray(data[:HEADER])
    struct.pack_into("<QQQ", header, 8, 0, wanted - 1, number)  # oldest, current chunk, next record
    struct.pack_into("<H", header, 0x2A, wanted)
    struct.pack_into("<I", header, 0x78, 0)  # flags: clean, not full
    struct.pack_into("<I", header, 0x7C, zlib.crc32(bytes(header[:0x78])) & 0xFFFFFFFF)
    with out.open("r+b") as fh:
        fh.write(header)
    return wanted, number - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=100.0, help="approximate size in MB (default 100)")
    args = parser.parse_args()
    chunks, records = build(args.source, args.out, args.mb)
    print(f"{args.out}: {chunks} chunks, {records} records")


if __name__ == "__main__":
    main()
