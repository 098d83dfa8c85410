"""Ingest in a child process: `python -m core.store.ingest_child DB [--jobs N] FILE...`.

The app loads large EVTX logs through this rather than in one of its own threads:

* the decoder forks worker processes, and forking a process that runs threads (the UI, the
  table's fetcher) is unsafe; the fork-server fallback is slow (about 3x here) and fails under
  some terminals' replaced standard streams;
* the UI keeps the GIL to itself and stays responsive while the child parses.

Progress goes to stdout as one JSON object per line (the fields of `core.store.ingest.Progress`);
SIGTERM or SIGINT stops loading after the current batch, keeping what was read (the sources
read to their end are still marked complete; the cache is not marked complete). A full disk
ends it with status `DISK_FULL_STATUS` (the parent then loads elsewhere).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from types import FrameType

from core.store.child_process import die_with_parent, write_all
from core.store.disk_full import DISK_FULL_STATUS, is_disk_full
from core.store.ingest import Progress, load_paths
from core.store.store import Store


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(prog="python -m core.store.ingest_child")
    parser.add_argument("db")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def progress(p: Progress) -> None:
        # Bytes, every one written (`write_all`): a line longer than the pipe's atomic size (a
        # long file name) could be cut by a signal under PYTHONUNBUFFERED.
        write_all(sys.stdout.buffer, (json.dumps(asdict(p)) + "\n").encode("ascii"))
        sys.stdout.buffer.flush()

    try:
        with Store(args.db) as store:
            load_paths(args.files, store, progress=progress, stop=stop, jobs=args.jobs)
            if not stop.is_set() and all(s.complete for s in store.sources()):
                store.set_meta("complete", "1")
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        print(f"disk full: {exc}", file=sys.stderr)
        return DISK_FULL_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main())
