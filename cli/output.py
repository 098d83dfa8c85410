"""Terminal-safe output for every command, installed once by `cli.main` around the command.

Log text (computer, channel, provider, event data) and file names are attacker-controlled: a
crafted log can set the window title, write the clipboard (OSC 52) or recolour the terminal if
its bytes reach a terminal raw. So when stdout or stderr is a terminal, everything written to it
goes through `core.model.text.terminal_text` (controls, DEL, bidi overrides and lone surrogates shown
escaped, line breaks kept). Files and pipes get the exact data. Doing it at the stream means no
command, present or future, can forget it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from core.model.text import terminal_text


class OutputFailed(Exception):
    """The command's own output could not be written (a full disk, an I/O error): `cli.main`
    says so in one line, status 5, where a traceback ended the command."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


def _checked(stream: _Wrapped, write: Any, *args: Any) -> None:
    """`write(*args)`, a failure to write as OutputFailed (a pipe its reader closed stays a
    BrokenPipeError: `cli.main` ends quietly then, as `head` expects); none at all for stderr
    (`quiet`): a diagnostic that cannot be shown must not end the command whose answer can."""
    try:
        write(*args)
    except OSError as exc:
        if stream.quiet:
            return
        if isinstance(exc, BrokenPipeError):
            raise
        raise OutputFailed(exc) from exc


class _Wrapped(io.TextIOBase):
    """What `Checked` and `TerminalSafe` share: an inner text stream, its write errors checked."""

    def __init__(self, inner: TextIO, quiet: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.quiet = quiet

    def flush(self) -> None:
        _checked(self, self.inner.flush)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.inner, "encoding", "utf-8"))


class Checked(_Wrapped):
    """A file or pipe's text stream whose write errors are OutputFailed (see `_checked`)."""

    def write(self, text: str) -> int:
        _checked(self, self.inner.write, text)
        return len(text)

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> Any:
        return self.inner.buffer


class TerminalSafe(_Wrapped):
    """A text stream that escapes what it passes to a terminal (see the module docstring); no
    `buffer`: bytes written there would pass unescaped."""

    def write(self, text: str) -> int:
        _checked(self, self.inner.write, terminal_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def isatty(self) -> bool:
        return True


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _exact(stream: Any) -> Any:
    """A file or pipe keeps every character; one UTF-8 cannot hold (a lone surrogate) is written
    as a `\\udXXX` escape instead of ending the command with UnicodeEncodeError."""
    reconfigure = getattr(stream, "reconfigure", None)
    if callable(reconfigure) and getattr(stream, "errors", "strict") == "strict":
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")
    return stream


@contextlib.contextmanager
def safe_streams() -> Iterator[None]:
    """`sys.stdout`/`sys.stderr` escaped when they are terminals, exact otherwise, for the block."""
    saved = sys.stdout, sys.stderr
    try:
        sys.stdout, sys.stderr = _safe(sys.stdout), _safe(sys.stderr, quiet=True)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError, OutputFailed):
                stream.flush()
        closed = [s for s in (sys.stdout, sys.stderr) if s not in saved and isinstance(s, io.TextIOWrapper)]
        sys.stdout, sys.stderr = saved
        for stream in closed:  # (`_safe`'s stand-in for a closed stream)
            stream.close()


def _safe(stream: Any, quiet: bool = False) -> Any:
    """A terminal's stream escaped, a file or pipe's exact, both failing as OutputFailed (unless
    `quiet`: stderr); a closed one (`>&-`: Python's None) a sink, where a command's first write
    failed with a traceback."""
    if stream is None:
        return open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed by `safe_streams`
    return TerminalSafe(stream, quiet) if is_terminal(stream) else Checked(_exact(stream), quiet)


#: What a progress line is rewritten with: back to the line's start, then erase it.
ERASE_LINE = "\r\x1b[K"


class ProgressLine:
    """One line of progress on stderr, rewritten in place, when stderr is a terminal (nothing
    otherwise). Its own erase sequence goes to the terminal itself (through `TerminalSafe` it
    would show as `\\x1b[K`), its text escaped as everything else; a text shown already is
    not written again. For the thread that shows it only."""

    def __init__(self) -> None:
        err = sys.stderr
        self._out: Any = err.inner if isinstance(err, TerminalSafe) else (err if is_terminal(err) else None)
        self._shown: str | None = None

    def show(self, text: str) -> None:
        if self._out is None or text == self._shown:
            return
        self._shown = text
        self._out.write(ERASE_LINE + terminal_text(text))
        self._out.flush()

    def clear(self) -> None:
        if self._out is not None and self._shown is not None:
            self._shown = None
            self._out.write(ERASE_LINE)
            self._out.flush()

