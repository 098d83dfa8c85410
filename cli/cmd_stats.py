"""`evtx-explorer stats FILE... [--json] [--issues] [--copies]`: what each input holds.

`--copies` counts each input's records that an earlier input (or the same one, earlier) holds
too: a log loaded with its shadow copy, two collections of one host (`core.store.copies`). Not
by default: it reads every event that shares a time and record id with another (a log loaded
twice: ~9 us a record).

With `--json` stdout is one JSON document and nothing else (a script parses it whole): the parse
issues `--issues` lists go inside it, under each input's `issues`, not after it as lines.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import add_input_args, counted, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit
from core.model.event import ParseIssue, iso_from_filetime
from core.model.text import printable
from core.query.timeline import time_span
from core.store.copies import copies_by_source
from core.store.store import Store


def register(sub: Any) -> None:
    parser = sub.add_parser("stats", help="records, parse issues, EventIDs, time range and computers per input")
    add_input_args(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output (with --issues: the issues "
                        "in it, as each input's 'issues' list)")
    parser.add_argument("--issues", action="store_true",
                        help="list the parse issues (file, chunk, offset, reason): the first 1,000 of each input, "
                        "then how many more")
    parser.add_argument("--copies", action="store_true",
                        help="count each input's records that an earlier input holds too (the same time, record id, "
                        "EventID, computer and data: a log and its shadow copy); reads the records concerned")
    parser.set_defaults(func=run)


def issue_document(issue: ParseIssue) -> dict[str, Any]:
    """One parse issue in `--json --issues` (its input is the file entry it is listed under)."""
    return {"chunk": issue.chunk, "offset": issue.offset, "time": iso_from_filetime(issue.filetime),
            "reason": issue.reason}


def collect(store: Store, issues: bool = False, copies: bool = False) -> dict[str, Any]:
    """The stats document (the `--json` shape); `issues`: each input's listed parse issues too;
    `copies`: each input's copies of earlier records (`copies`: records, and the inputs holding
    them first as `of`: path -> records)."""
    files = []
    paths = {src.id: src.path for src in store.sources()}
    copied = copies_by_source(store) if copies else {}
    for src in store.sources():
        first, last, invalid = time_span(store, src.id)  # (a time out of range is counted apart)
        entry: dict[str, Any] = {
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
        if issues:
            entry["issues"] = [issue_document(issue) for issue in store.issues(src.id)]
        if copies:
            mine = copied.get(src.id)
            entry["copies"] = {"records": mine.records if mine else 0,
                               "of": {paths.get(k, str(k)): n for k, n in sorted(mine.of.items())} if mine else {}}
        files.append(entry)
    return {"files": files, "total_records": sum(f["records"] for f in files)}


def _copies_text(held: dict[str, Any], path: str) -> str:
    """`none`, or `120 records already loaded (100 in a.evtx; 20 earlier in this input)`."""
    if not held["records"]:
        return "none"
    where = "; ".join(f"{n:,} earlier in this input" if other == path else f"{n:,} in {printable(other)}"
                      for other, n in held["of"].items())
    return f"{counted(held['records'], 'record')} already loaded ({where})"


def time_range_text(first: str | None, last: str | None) -> str:
    """The `time` line's range: `no time` when no event has one (an input of no events, or of
    events without a time), never `None .. None`."""
    if first is None or last is None:
        return "no time"
    return f"{first} .. {last}"


def run(args: argparse.Namespace) -> Exit:
    store = open_store(args)
    doc = collect(store, issues=args.issues and args.json, copies=args.copies)
    if args.json:
        print(dump_json(doc))
    else:
        for f in doc["files"]:
            print(printable(f["path"]))
            if f["error"]:
                print(f"  error: {printable(f['error'])}")
                continue
            print(f"  format {f['format']}, {counted(f['records'], 'record')}, "
                  f"{counted(f['parse_issues'], 'parse issue')}")
            bad = f" ({f['invalid_times']:,} invalid: out of the date range)" if f["invalid_times"] else ""
            print(f"  time   {time_range_text(f['first'], f['last'])}{bad}")
            print(f"  hosts  {', '.join(printable(c) for c in f['computers'])}")
            top = sorted(f["event_ids"].items(), key=lambda kv: -kv[1])[:12]
            print("  ids    " + ", ".join(f"{k}:{v}" for k, v in top))
            if "copies" in f:
                print(f"  copies {_copies_text(f['copies'], f['path'])}")
        print(f"total {counted(doc['total_records'], 'record')}")
        if args.issues:
            for issue in store.issues():
                print(f"issue: {printable(issue.path)} chunk={issue.chunk} offset={issue.offset} "
                      f"{printable(issue.reason)}")
    return report_input_errors(store, args, issues=False)  # (its counts are on stdout)
