"""Bytes -> text for the text loaders (Event XML, JSON lines), in bounded steps.

Opening refuses anything but a regular file (a FIFO would block forever, a device never ends);
the encoding is sniffed from the first bytes (BOMs, BOM-less UTF-16, an XML declaration), and
text is decoded incrementally in chunks of `READ_SIZE`, so memory stays bounded whatever the
file size and one undecodable byte costs only its own character: it becomes U+FFFD, or for the
loaders (`mark_undecodable`) the stand-in `UNDECODABLE`, which they turn into U+FFFD and report
as a parse issue naming the record and field (README: a bad value is counted).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterator
from typing import IO, BinaryIO

from core.model.event import InputError

#: Bytes read per step by the text loaders: memory stays bounded whatever the file size.
READ_SIZE = 256 * 1024
#: How much of a file the format sniff looks at.
HEAD_SIZE = 4096

#: What the loaders' decoding puts for bytes the encoding cannot decode, so that they can tell
#: them from a U+FFFD the log itself holds: a Supplementary Private Use Area-B code point (never
#: meaningful in event data), the one `parsers.eventxml` uses for a character no string should
#: hold. The loaders replace it with U+FFFD and report the field.
UNDECODABLE = "\U0010ff20"
_MARK_ERRORS = "evtx-explorer-undecodable"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return UNDECODABLE, exc.end


codecs.register_error(_MARK_ERRORS, _mark)

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


def decoded_chunks(chunks: Iterator[bytes], *, mark_undecodable: bool = False) -> Iterator[str]:
    """Decode byte chunks incrementally (encoding sniffed from the first chunk, BOM dropped).

    Undecodable bytes become U+FFFD (`UNDECODABLE` with `mark_undecodable`, for a loader to
    report) instead of failing the whole input: one damaged string must cost at most its own
    value.
    """
    errors = _MARK_ERRORS if mark_undecodable else "replace"
    decoder: codecs.IncrementalDecoder | None = None
    for block in chunks:
        if decoder is None:
            codec, bom = sniff_encoding(block[:HEAD_SIZE])
            decoder = codecs.getincrementaldecoder(codec)(errors=errors)
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
