"""`evtx-explorer query FILE... [--where QUERY] [--format jsonl|csv|table|md] [--limit N]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from cli.common import add_input_args
from cli.exit_codes import Exit
from cli.query_args import add_where, load_filtered
from core.report.export import write_rows
from core.store.store import StoredEvent


def register(sub: Any) -> None:
    parser = sub.add_parser("query", help="print the events matching a query")
    add_input_args(parser)
    add_where(parser)
    parser.add_argument("--format", choices=("jsonl", "csv", "table", "md"), default="jsonl")
    parser.add_argument("--limit", type=int, default=None, help="at most N events")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    if args.limit is not None and args.limit < 0:
        print("evtx-explorer: --limit must be >= 0", file=sys.stderr)
        return Exit.USAGE
    loaded = load_filtered(args, args.where)
    if loaded is None:
        return Exit.USAGE
    store, compiled, status = loaded
    if args.limit is None:
        rows: Iterable[StoredEvent] = store.iter_events(compiled)
    else:
        rows = store.select(compiled, limit=args.limit)
    write_rows(store, rows, args.format, sys.stdout)
    return status
