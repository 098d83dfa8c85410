"""`evtx-explorer stack FILE... --by FIELD [--where Q] [--format text|json|csv|md] [--limit N] [--desc]`:
the distinct values of a field over the matching events, rarest first (least frequency of
occurrence), with counts and shares."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from cli.common import add_input_args, counted, dump_json
from cli.exit_codes import Exit
from cli.query_args import add_where, load_filtered
from core.query.lexer import QueryError
from core.query.stack import DEFAULT_LIMIT, Stack


def register(sub: Any) -> None:
    parser = sub.add_parser("stack", help="distinct values of a field with counts, rarest first")
    add_input_args(parser)
    parser.add_argument("--by", required=True, metavar="FIELD",
                        help="an EventData field (CommandLine, TargetUserName...), an alias (image, parent, cmd, "
                        "user, pid...) or a System column (id, computer, channel, provider, usersid, tid, file...). "
                        "A value's count is what adding FIELD:value to --where finds: numbers "
                        "grouped as numbers (0x1e0c, 7692 and 0x00001E0C are one value), text case-insensitively; "
                        "level, task, opcode, version, keywords, tid and usersid count the System column and an "
                        "EventData field so named; a computer also counts the names it is the first labels of "
                        "(DC1: DC1.corp.local); user the SIDs user: reads too. pid stacks what pid: matches "
                        "(every process-id field, and the System ProcessID outside the Security and Sysmon logs), "
                        "processid what processid: matches (the System ProcessID, and an EventData ProcessId), "
                        "both in hex")
    add_where(parser)
    parser.add_argument("--format", choices=("text", "json", "csv", "md"), default="text")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"at most N values (default {DEFAULT_LIMIT}; "
                        "0 = all)")
    parser.add_argument("--desc", action="store_true", help="most common first (default: rarest first)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    from core.query.stack import stack

    if args.limit < 0:
        print("evtx-explorer: --limit must be >= 0", file=sys.stderr)
        return Exit.USAGE
    loaded = load_filtered(args, args.where)
    if loaded is None:
        return Exit.USAGE
    store, compiled, status = loaded
    try:
        result = stack(store, compiled, args.by, limit=args.limit or None, descending=args.desc)
    except QueryError as exc:
        print(f"evtx-explorer: --by: {exc.message}", file=sys.stderr)
        return Exit.USAGE
    write_stack(result, args.format, sys.stdout)
    return status


def stack_document(result: Stack) -> dict[str, Any]:
    """The `--format json` shape."""
    return {
        "field": result.field,
        "events": result.total,
        "distinct": result.distinct,
        "more": result.more,
        "missing": result.missing,
        "values": [{"value": r.value, "count": r.count, "share": round(r.share, 6)} for r in result.rows],
    }


def write_stack(result: Stack, fmt: str, out: Any) -> None:
    if fmt == "json":
        out.write(dump_json(stack_document(result)) + "\n")
        return
    if fmt == "csv":
        _write_csv(result, out)
        return
    if fmt == "md":
        from core.model.text import md_text

        out.write(f"| count | share | {md_text(result.field)} |\n|---:|---:|---|\n")
        for r in result.rows:
            out.write(f"| {r.count} | {r.share:.2%} | {md_text(r.value)} |\n")
    else:
        from core.model.text import printable

        width = max([len(f"{r.count:,}") for r in result.rows] + [5])
        for r in result.rows:  # one line per value: line breaks inside a value shown escaped
            out.write(f"{r.count:>{width},}  {r.share:7.2%}  {printable(r.value)}\n")
    tail = []
    if result.more:
        tail.append(counted(result.more, "more value"))
    if result.missing:
        tail.append(f"{counted(result.missing, 'event')} without {result.field}")
    tail.append(f"{counted(result.distinct, 'distinct value')} over {counted(result.total, 'event')}")
    out.write(("\n" if fmt == "md" else "") + "; ".join(tail) + "\n")


def _write_csv(result: Stack, out: Any) -> None:
    """The CSV: pure data on `out`, so what it leaves out (`--limit`) is said on stderr, one line.

    The values are written as `export` writes the same text: the System columns it guards
    (`CSV_TEXT_COLUMNS`: file, computer, channel, provider) get its anti-formula apostrophe,
    event data stays exact. An apostrophe on every value made `-` read `'-` and merged `=1+1`
    with `'=1+1` into two rows that looked the same."""
    from core.model.text import printable
    from core.report.export import CSV_TEXT_COLUMNS, csv_cell

    guarded = result.field in CSV_TEXT_COLUMNS  # (those names always stack the System column)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["count", "share", result.field])
    for r in result.rows:
        writer.writerow([r.count, f"{r.share:.6f}", csv_cell(r.value) if guarded else r.value])
    if result.more:
        print(f"evtx-explorer: stack: the CSV holds {len(result.rows):,} of the {result.distinct:,} distinct values "
              f"of {printable(result.field)}: {result.more:,} more left out (--limit 0 writes all)", file=sys.stderr)
