"""The CLI run in the test's own process (`run_cli`): its exit status and what it wrote to stdout
and stderr, as a user's terminal or pipe would get them."""

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
