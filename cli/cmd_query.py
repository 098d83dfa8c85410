"""`evtx-explorer query FILE... [--where QUERY] [--format jsonl|csv|table|md] [--limit N]`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from typing import Any

from cli.common import add_input_args, open_store, report_input_errors
from core.model import iso_from_filetime
from core.store import Store, StoredEvent
from core.text import one_line


def register(sub: Any) -> None:
    parser = sub.add_parser("query", help="print the events matching a query")
    add_input_args(parser)
    parser.add_argument("--where", default="", help='filter, e.g. \'4688 image:*rundll32* -host:DC01\'')
    parser.add_argument("--format", choices=("jsonl", "csv", "table", "md"), default="jsonl")
    parser.add_argument("--limit", type=int, default=None, help="at most N events")
    parser.set_defaults(func=run)


def event_document(store_paths: dict[int, str], se: StoredEvent) -> dict[str, Any]:
    """One event as the JSON-lines output shape."""
    ev = se.event
    data: dict[str, str] = {}
    for name, value in ev.data:
        data.setdefault(name, value)
    return {
        "file": store_paths.get(ev.source, ""),
        "record_id": ev.record_id,
        "time": iso_from_filetime(ev.filetime),
        "event_id": ev.event_id,
        "computer": ev.computer,
        "channel": ev.channel,
        "provider": ev.provider,
        "data": data,
    }


def write_rows(store: Store, rows: Iterable[StoredEvent], fmt: str, out: Any) -> int:
    """Write events in `fmt`; returns how many were written (exports never truncate silently)."""
    paths = {s.id: s.path for s in store.sources()}
    n = 0
    if fmt == "jsonl":
        for se in rows:
            out.write(json.dumps(event_document(paths, se), ensure_ascii=False) + "\n")
            n += 1
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(["file", "record_id", "time", "event_id", "computer", "channel", "provider", "data"])
        for se in rows:
            d = event_document(paths, se)
            writer.writerow([d["file"], d["record_id"], d["time"], d["event_id"], d["computer"], d["channel"],
                             d["provider"], json.dumps(d["data"], ensure_ascii=False)])
            n += 1
    elif fmt == "md":
        out.write("| time | record | EventID | computer | data |\n|---|---|---|---|---|\n")
        for se in rows:
            d = event_document(paths, se)
            cells = [d["time"] or "", str(d["record_id"]), str(d["event_id"]), d["computer"],
                     "; ".join(f"{k}={v}" for k, v in d["data"].items())]
            out.write("| " + " | ".join(one_line(c).replace("|", "\\|") for c in cells) + " |\n")
            n += 1
    else:
        for se in rows:
            d = event_document(paths, se)
            summary = " ".join(f"{k}={v}" for k, v in d["data"].items())
            out.write(
                f"{d['time'] or '-':28} {d['record_id']:>8} {d['event_id']:>5} {one_line(d['computer'], 24):24} "
                f"{one_line(summary, 120)}\n"
            )
            n += 1
    return n


def run(args: argparse.Namespace) -> int:
    from core.query import QueryError, compile_query

    try:
        compiled = compile_query(args.where)
    except QueryError as exc:
        print(f"evtx-explorer: bad query: {exc}", file=sys.stderr)
        print(f"  {args.where}\n  {' ' * exc.position}^", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 0:
        print("evtx-explorer: --limit must be >= 0", file=sys.stderr)
        return 2
    store = open_store(args)
    status = report_input_errors(store)
    if args.limit is None:
        rows: Iterable[StoredEvent] = store.iter_events(compiled.where, compiled.params)
    else:
        rows = store.select(compiled.where, compiled.params, limit=args.limit)
    write_rows(store, rows, args.format, sys.stdout)
    return status
