"""The CLI run in the test's own process (`run_cli`): its exit status and what it wrote to stdout
and stderr, as a user's terminal or pipe would get them; `cached_twice`, a command run on a fresh
store and again on the store the first run cached."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout


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
