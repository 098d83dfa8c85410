"""Which loader reads an input: decided by its first bytes, not by its name.

Analysts rename files (`Security.evtx.bak`, `export.txt`, `case42.log`) and collectors zip them,
so the extension is a hint at best. The sniff looks at the first 4 KiB:

* `ElfFile\\0` -> `evtx`; `LfLe` at offset 4 -> `evt` (legacy pre-Vista log, refused);
* a file header that is none of these but is followed by EVTX chunks (`ElfChnk\\0` at one of
  the first 64 KiB slots after the 4 KiB header) -> `evtx`, its header damaged (the EVTX
  loader reads it with a parse issue saying so: python-evtx reads such a file, whatever its
  first 8 bytes);
* `PK\\3\\4` (or an empty zip's `PK\\5\\6`) -> `zip` (read member by member, see `parsers.jsonlines`);
* after an optional BOM (UTF-8, UTF-16 LE/BE, also BOM-less UTF-16) and whitespace:
  `<` -> `xml`, `{` or `[` -> `jsonl`;
* zero bytes -> `empty`; anything else -> `unknown`.

Which loader then reads it is `parsers.registry`'s business; this module only names formats.
"""

from __future__ import annotations

from typing import BinaryIO

from core.model.event import InputError
from parsers.textio import HEAD_SIZE, open_input, sniff_encoding

FORMATS = ("evtx", "evt", "zip", "xml", "jsonl", "empty", "unknown")

#: Where EVTX chunks start (after the 4 KiB file header), their size and signature, and how many
#: chunk slots are looked at for a file whose own header is damaged (the first may be too).
_EVTX_HEADER, _EVTX_CHUNK, _CHUNK_MAGIC, _CHUNK_SLOTS = 0x1000, 0x10000, b"ElfChnk\x00", 4


def evtx_chunks_follow(fh: BinaryIO) -> bool:
    """Whether an EVTX chunk signature starts one of the first chunk slots of the open file
    `fh` (a few 8-byte reads): an EVTX log whose file header is damaged."""
    for k in range(_CHUNK_SLOTS):
        fh.seek(_EVTX_HEADER + k * _EVTX_CHUNK)
        if fh.read(len(_CHUNK_MAGIC)) == _CHUNK_MAGIC:
            return True
    return False


def sniff_format(head: bytes) -> str:
    """The format of content starting with `head` (see the module docstring)."""
    if not head:
        return "empty"
    if head.startswith(b"ElfFile\x00"):
        return "evtx"
    if len(head) >= 8 and head[4:8] == b"LfLe":
        return "evt"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    codec, bom = sniff_encoding(head)
    # Decode a prefix that stays on a character boundary for every codec we return.
    prefix = head[bom : bom + 512]
    prefix = prefix[: len(prefix) - len(prefix) % 4]
    text = prefix.decode(codec, errors="replace").lstrip(" \t\r\n\ufeff")
    if text.startswith("<"):
        return "xml"
    if text.startswith(("{", "[")):
        return "jsonl"
    if not text and len(head) < 512 and not head[bom:].strip():
        # Only whitespace: a text file with nothing in it.
        return "empty"
    return "unknown"


def detect_format(path: str) -> str:
    """Sniff the format of the file at `path` (one of `FORMATS`).

    Never raises for odd content (that is what `evt`, `empty` and `unknown` say); raises
    InputError naming the file when it cannot be opened at all or is not a regular file.
    """
    try:
        with open_input(path) as fh:
            head = fh.read(HEAD_SIZE)
            fmt = sniff_format(head)
            if fmt == "unknown" and evtx_chunks_follow(fh):
                fmt = "evtx"
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    return fmt


def refuse(path: str, fmt: str) -> InputError:
    """The one-line error for a format no loader reads."""
    if fmt == "empty":
        return InputError(f"{path}: empty file (no content), not an event log")
    if fmt == "evt":
        return InputError(f"{path}: legacy Windows .evt log (pre-Vista format), not EVTX; not supported")
    return InputError(f"{path}: not an event log (not EVTX, Event XML, JSON lines or a zip of them)")
