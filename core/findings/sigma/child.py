"""Sigma rules over a big store in a child process: `python -m core.findings.sigma.child DB [--sigma DIR]...`.

Thousands of rules over a million events take tens of seconds of CPU; in a thread of the app
they would share the GIL with the UI (see `core.findings.child`, same reasoning). The child
runs them with a core of its own and keeps the result with the store (`core.store.sigma_reads`),
where the app then reads it (`run_sigma` finds it cached). Nothing is sent back but the exit
status; `sigma_in_child` kills the child when `stop` is set (the app quits).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from core.store.child_process import background_priority, die_with_parent, run_child
from core.store.store import Store

from . import run_sigma
from .progress import Progress, SigmaProgress, read_file, write_file

#: Stores at least this big run the Sigma rules in a child process (`sigma_in_child`), the app's
#: and `evtx-explorer prepare`'s alike: the UI keeps its core (the built-in findings do the same
#: from 30,000 events).
CHILD_SIGMA_EVENTS = 30_000


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    background_priority()  # the UI first: the Sigma run is background work
    parser = argparse.ArgumentParser(prog="python -m core.findings.sigma.child")
    parser.add_argument("db")
    parser.add_argument("--sigma", action="append", default=[])
    parser.add_argument("--progress", default=None, help="a file to keep the latest progress in")
    args = parser.parse_args(argv)
    report: Progress | None = None
    if args.progress:
        target = Path(args.progress)

        def report(progress: SigmaProgress) -> None:
            write_file(target, progress)

    with Store(args.db) as store:
        run_sigma(store, [Path(d) for d in args.sigma], progress=report)
    return 0


def sigma_in_child(
    db: Path, dirs: Sequence[Path], stop: threading.Event | None = None, poll: float = 0.1,
    progress: Progress | None = None,
) -> None:
    """Run the rules under `dirs` over the store at `db` in a child (its result then cached);
    `progress` hears what the child reports (polled from its progress file)."""
    args = [str(db)]
    for d in dirs:
        args += ["--sigma", str(d)]
    if progress is None:
        run_child("core.findings.sigma.child", args, "Sigma", stop, poll)
        return
    with tempfile.TemporaryDirectory(prefix="evtx-sigma-") as tmp:
        path = Path(tmp) / "progress"
        last: list[SigmaProgress | None] = [None]

        def relay() -> None:
            found = read_file(path)
            if found is not None and found != last[0]:
                last[0] = found
                progress(found)

        run_child("core.findings.sigma.child", [*args, "--progress", str(path)], "Sigma", stop, poll, relay)

if __name__ == "__main__":
    sys.exit(main())
