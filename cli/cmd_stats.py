"""`evtx-explorer stats FILE... [--json]`: what each input holds."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import add_input_args, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit
from core.model.event import iso_from_filetime
from core.query.timeline import time_span
from core.store.store import Store


def register(sub: Any) -> None:
    parser = sub.add_parser("stats", help="records, parse issues, EventIDs, time range and computers per input")
    add_input_args(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--issues", action="store_true",
                        help="list the parse issues (file, chunk, offset, reason): the first 1,000 of each input, "
                        "then how many more")
    parser.set_defaults(func=run)


def collect(store: Store) -> dict[str, Any]:
    """The stats document (the `--json` shape)."""
    files = []
    for src in store.sources():
        first, last, invalid = time_span(store, src.id)  # (a time out of range is counted apart)
        files.append(
            {
                "path": src.path,
                "format": src.format,
                "records": src.records,
                "parse_issues": src.parse_issues,
                "error": src.error,
                "event_ids": {str(k): v for k, v in store.event_id_counts(src.id).items()},
                "first": iso_from_filetime(first),
                "last": iso_from_filetime(last),
                "invalid_times": invalid,
                "computers": store.computers(src.id),
            }
        )
    return {"files": files, "total_records": sum(f["records"] for f in files)}


def run(args: argparse.Namespace) -> Exit:
    store = open_store(args)
    doc = collect(store)
    if args.json:
        print(dump_json(doc))
    else:
        from core.model.text import printable

        for f in doc["files"]:
            print(printable(f["path"]))
            if f["error"]:
                print(f"  error: {printable(f['error'])}")
                continue
            print(f"  format {f['format']}, {f['records']:,} records, {f['parse_issues']:,} parse issues")
            bad = f" ({f['invalid_times']:,} invalid: out of the date range)" if f["invalid_times"] else ""
            print(f"  time   {f['first']} .. {f['last']}{bad}")
            print(f"  hosts  {', '.join(printable(c) for c in f['computers'])}")
            top = sorted(f["event_ids"].items(), key=lambda kv: -kv[1])[:12]
            print("  ids    " + ", ".join(f"{k}:{v}" for k, v in top))
        print(f"total {doc['total_records']:,} records")
    if args.issues:
        from core.model.text import printable

        for issue in store.issues():
            print(f"issue: {printable(issue.path)} chunk={issue.chunk} offset={issue.offset} {printable(issue.reason)}")
    return report_input_errors(store, args, issues=False)  # (its counts are on stdout)
