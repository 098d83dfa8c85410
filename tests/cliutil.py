"""The CLI run in the test's own process (`run_cli`): its exit status and what it wrote to stdout
and stderr, as a user's terminal or pipe would get them; `run_on`, the same with its output on a
real pty or pipe (what it decides a terminal is); `cached_twice`, a command run on a fresh store
and again on the store the first run cached."""

from __future__ import annotations

import io
import os
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout

import pytest


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`evtx-explorer ARGV...`: (exit status, stdout, stderr)."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def cached_twice(*argv: str) -> str:
    """`run_cli(*argv)` twice, the second run reading the store the first one cached: both succeed
    and print the same; that output."""
    outs = []
    for _ in range(2):
        code, out, err = run_cli(*argv)
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1]
    return outs[0]


def run_on(argv: list[str], fds: tuple[int, int], monkeypatch: pytest.MonkeyPatch, *,
           stdout: bool = True) -> tuple[int, bytes]:
    """Run the CLI with stderr (and stdout, unless `stdout` is False: then /dev/null) on the write
    end of `fds` (a pty or a pipe); (status, what it wrote there). Both ends are closed."""
    from cli.main import main

    read_fd, write_fd = fds
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(read_fd, 65536)
            except OSError:  # a pty's master reads EIO once the slave is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stream = open(write_fd, "w", encoding="utf-8", errors="strict", closefd=True)  # noqa: SIM115
    with open(os.devnull, "w", encoding="utf-8") as null, monkeypatch.context() as m:
        m.setattr(sys, "stdout", stream if stdout else null)
        m.setattr(sys, "stderr", stream)
        status = main(argv)
        sys.stdout.flush()
        stream.flush()
    stream.close()
    reader.join(10)
    os.close(read_fd)
    return status, b"".join(chunks)
