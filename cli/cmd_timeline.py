"""`evtx-explorer timeline FILE... [--where Q] [--bucket 1m|1h|1d] [--format text|json|csv]`: how
many matching events per time bucket (automatic width: about 30-120 buckets over the span)."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from cli.common import add_input_args, dump_json
from cli.exit_codes import Exit
from cli.query_args import add_where, load_filtered
from core.model.event import iso_from_filetime
from core.query.lexer import QueryError
from core.query.timeline import Timeline, width_label

_BAR = 40


def register(sub: Any) -> None:
    parser = sub.add_parser("timeline", help="a histogram of the matching events over time")
    add_input_args(parser)
    add_where(parser)
    parser.add_argument("--bucket", default=None, metavar="WIDTH",
                        help="bucket width: 30s, 1m, 5m, 1h, 1d, 1w (default: chosen from the span)")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    from core.query.timeline import parse_width, timeline

    try:
        width = None if args.bucket is None else parse_width(args.bucket)
    except QueryError as exc:
        print(f"evtx-explorer: --bucket: {exc.message}", file=sys.stderr)
        return Exit.USAGE
    loaded = load_filtered(args, args.where)
    if loaded is None:
        return Exit.USAGE
    store, compiled, status = loaded
    try:
        result = timeline(store, compiled, width)
    except QueryError as exc:
        print(f"evtx-explorer: --bucket: {exc.message}", file=sys.stderr)
        return Exit.USAGE
    write_timeline(result, args.format, sys.stdout)
    return status


def timeline_document(result: Timeline) -> dict[str, Any]:
    """The `--format json` shape: bucket bounds as ISO UTC and FILETIME ticks, and the query
    text that selects each bucket."""
    return {
        "bucket": width_label(result.width),
        "events": result.total,
        "without_time": result.no_time,
        "buckets": [{"start": iso_from_filetime(b.start), "end": iso_from_filetime(b.end), "count": b.count,
                     "start_filetime": b.start, "end_filetime": b.end, "query": b.query()} for b in result.buckets],
    }


def write_timeline(result: Timeline, fmt: str, out: Any) -> None:
    if fmt == "json":
        out.write(dump_json(timeline_document(result)) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["start", "end", "count"])
        for b in result.buckets:
            writer.writerow([iso_from_filetime(b.start), iso_from_filetime(b.end), b.count])
        return
    peak = result.peak or 1
    width = max([len(f"{b.count:,}") for b in result.buckets] + [1])
    for b in result.buckets:
        bar = "#" * (0 if not b.count else max(1, round(b.count * _BAR / peak)))
        start = b.start_datetime.strftime("%Y-%m-%d %H:%M:%SZ")  # (UTC, as the JSON says)
        out.write(f"{start}  {b.count:>{width},}  {bar}\n")
    tail = f"{len(result.buckets):,} buckets of {width_label(result.width)}, {result.total:,} events"
    if result.no_time:
        tail += f" ({result.no_time:,} without a time)"
    out.write(tail + "\n")
