"""Which loader reads an input: decided by its first bytes, not by its name.

Analysts rename files (`Security.evtx.bak`, `export.txt`, `case42.log`) and collectors zip them,
so the extension is a hint at best. The sniff looks at the first 4 KiB:

* `ElfFile\\0` -> `evtx`; `LfLe` at offset 4 -> `evt` (legacy pre-Vista log, refused);
* `PK\\3\\4` (or an empty zip's `PK\\5\\6`) -> `zip` (read member by member, see `parsers.jsonlines`);
* after an optional BOM (UTF-8, UTF-16 LE/BE, also BOM-less UTF-16) and whitespace:
  `<` -> `xml`, `{` or `[` -> `jsonl`;
* zero bytes -> `empty`; anything else -> `unknown`.

This module also holds the byte -> text helpers both text loaders share (encoding sniff,
incremental decoding in bounded chunks), because it sits below them: it imports the loaders
lazily, inside `iter_input` and `raw_text`, so they can import it without a cycle and so that
opening a JSON file never imports python-evtx.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterator
from typing import IO, BinaryIO

from core.model.event import Event, InputError, ParseIssue

#: Bytes read per step by the text loaders: memory stays bounded whatever the file size.
READ_SIZE = 256 * 1024
#: How much of a file the format sniff looks at.
HEAD_SIZE = 4096

FORMATS = ("evtx", "evt", "zip", "xml", "jsonl", "empty", "unknown")

_XML_DECL_ENCODING = re.compile(rb"\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec name, BOM length) of a text file from its first bytes.

    BOMs win; BOM-less UTF-16 is recognised by its zero bytes (wevtutil and PowerShell write
    UTF-16); then an XML declaration's ASCII-compatible `encoding=`; UTF-8 otherwise.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3
    if head.startswith(b"\xff\xfe\x00\x00"):
        return "utf-32-le", 4
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le", 2
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be", 2
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be", 0
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le", 0
    m = _XML_DECL_ENCODING.match(head)
    if m:
        name = m.group(1).decode("ascii")
        try:
            codec = codecs.lookup(name).name
            # A declaration saying UTF-16 over single-byte text lies: keep only codecs that
            # read ASCII as ASCII (what the bytes we just matched prove).
            if "<?xml".encode(codec) == b"<?xml":
                return codec, 0
        except (LookupError, UnicodeError):
            pass
    return "utf-8", 0


def read_chunks(stream: IO[bytes], size: int = READ_SIZE) -> Iterator[bytes]:
    """The stream's bytes in chunks of at most `size`."""
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


def decoded_chunks(chunks: Iterator[bytes]) -> Iterator[str]:
    """Decode byte chunks incrementally (encoding sniffed from the first chunk, BOM dropped).

    Undecodable bytes become U+FFFD instead of failing the whole input: one damaged string
    must cost at most its own event.
    """
    decoder: codecs.IncrementalDecoder | None = None
    for block in chunks:
        if decoder is None:
            codec, bom = sniff_encoding(block[:HEAD_SIZE])
            decoder = codecs.getincrementaldecoder(codec)(errors="replace")
            block = block[bom:]
        text = decoder.decode(block)
        if text:
            yield text
    if decoder is not None:
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


def _not_regular(path: str, mode: int) -> InputError:
    kind = (
        "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
        else "a directory" if stat.S_ISDIR(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )  # fmt: skip
    return InputError(f"{path}: {kind}, not a regular file; only files are read")


def open_input(path: str) -> BinaryIO:
    """Open an input for reading, refusing anything but a regular file with one line naming it.

    A FIFO blocks in `open` until a writer comes (forever), a device such as `/dev/zero`
    never ends, a socket cannot be read: none is an event log. The file is opened without
    blocking and checked on its descriptor, so it cannot be swapped between check and read.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    return sniff_format(head)


def refuse(path: str, fmt: str) -> InputError:
    """The one-line error for a format no loader reads."""
    if fmt == "empty":
        return InputError(f"{path}: empty file (no content), not an event log")
    if fmt == "evt":
        return InputError(f"{path}: legacy Windows .evt log (pre-Vista format), not EVTX; not supported")
    return InputError(f"{path}: not an event log (not EVTX, Event XML, JSON lines or a zip of them)")


def iter_input(path: str, source: int = 0, *, jobs: int | None = None) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of the input at `path`, whatever its format.

    The format is checked before this returns: an unreadable, empty, legacy or unknown file
    raises InputError (one line naming the file) here, not in the middle of iteration.
    `jobs` is passed to the EVTX loader (worker processes); the text loaders ignore it.
    """
    fmt = detect_format(path)
    if fmt == "evtx":
        try:
            from parsers.evtx import iter_events as _fast
        except ImportError:
            from parsers.evtx.reference import iter_events as _reference

            return _reference(path, source)
        return _fast(path, source, jobs=jobs)
    if fmt == "xml":
        from parsers.eventxml import iter_events as _xml

        return _xml(path, source)
    if fmt in ("jsonl", "zip"):
        from parsers.jsonlines import iter_events as _json

        return _json(path, source)
    raise refuse(path, fmt)


def _evtx_xml(path: str, locator: int) -> str:
    """python-evtx's XML of the record; where python-evtx cannot render it, our decoder's
    event rendered as XML, saying so."""
    import mmap

    from parsers.event_to_xml import event_to_xml
    from parsers.evtx import decoder as evtx_fast
    from parsers.evtx.reference import CHUNK_SIZE, FILE_HEADER_SIZE, record_xml

    try:
        return record_xml(path, locator)
    except Exception as exc:  # noqa: BLE001 - python-evtx raises anything on some records
        reason = f"{type(exc).__name__}: {exc}"[:200]
    chunk_ofs = FILE_HEADER_SIZE + ((locator - FILE_HEADER_SIZE) // CHUNK_SIZE) * CHUNK_SIZE
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        chunk = bytes(buf[chunk_ofs : chunk_ofs + CHUNK_SIZE])
    event = evtx_fast.ChunkDecoder(chunk).decode(locator - chunk_ofs, 0, locator)
    note = f"python-evtx cannot render this record ({reason}); reconstructed from the decoded fields"
    return event_to_xml(event, note)


def raw_text(path: str, fmt: str, locator: int) -> str:
    """The raw text of one event for the detail pane: XML for EVTX and Event XML, the JSON
    record for JSON lines, whatever the member holds for a zip."""
    if fmt == "evtx":
        return _evtx_xml(path, locator)
    if fmt == "xml":
        from parsers.eventxml import event_xml

        return event_xml(path, locator)
    if fmt in ("jsonl", "zip"):
        from parsers.jsonlines import event_json

        return event_json(path, locator)
    raise refuse(path, fmt)
