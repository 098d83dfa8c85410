"""`evtx-explorer convert FILE... --to DIR`: the inputs as a Parquet dataset for `fleet` (and Spark).

Needs the `fleet` extra (`pip install 'evtx-explorer[fleet]'`). Progress goes to stderr, one line
per input (and one a second while a large input converts); a re-run skips converted inputs, and
replaces the events of one that changed since (a log that grew) by its new version.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cli.common import os_message, resolve_inputs
from cli.exit_codes import Exit
from core.model.text import printable

MISSING_EXTRA = "evtx-explorer: {what} needs the fleet extra: pip install 'evtx-explorer[fleet]' ({error})"


def register(sub: Any) -> None:
    parser = sub.add_parser("convert", help="write the inputs as a Parquet dataset (partitioned by computer, day)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="logs to convert; a directory converts the logs in it")
    parser.add_argument("--to", required=True, metavar="DIR", help="the dataset directory (created if needed)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="EVTX decoding processes (default: one per core; at most 4 per core)")
    parser.add_argument("--workers", type=int, default=1,
                        help="inputs converted at once, each in its own process (default 1: one at a time; "
                        "at most 4 per core)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    try:
        from core.fleet.convert import convert
    except ImportError as exc:
        print(MISSING_EXTRA.format(what="convert", error=exc), file=sys.stderr)
        return Exit.USAGE
    paths, problems = resolve_inputs(list(args.files))
    if os.path.exists(args.to) and not os.path.isdir(args.to):
        print(f"evtx-explorer convert: {printable(args.to)} is not a directory", file=sys.stderr)
        return Exit.OUTPUT_FAILED

    def say(line: str) -> None:
        print(printable(line), file=sys.stderr, flush=True)

    try:
        results = convert(paths, args.to, jobs=args.jobs, progress=None if args.quiet else say,
                          workers=max(1, args.workers))
    except OSError as exc:  # the dataset's folder not writable, a full disk
        print(f"evtx-explorer convert: cannot write the dataset: {printable(os_message(exc))}", file=sys.stderr)
        return Exit.OUTPUT_FAILED
    status = Exit.OK
    for problem in problems + [r.error for r in results if r.error]:
        print(f"evtx-explorer: {problem}", file=sys.stderr)
        status = Exit.INPUT_UNREADABLE
    done = sum(r.records for r in results if not r.skipped)
    skipped = sum(1 for r in results if r.skipped)
    print(f"{done:,} events converted to {printable(args.to)} ({skipped} input(s) already there)")
    return status
