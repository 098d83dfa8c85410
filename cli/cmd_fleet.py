"""`evtx-explorer fleet DIR query|stack|timeline|findings|processes [--engine spark|local]`.

The same query language, stacks, timeline, seed findings and process instances as over one
log, on a dataset written by `convert`: on Apache Spark (`--master` for a cluster, `local[2]`
by default) or on this machine with DuckDB (`--engine local`). `--open` writes the events of the
result to a temporary JSON-lines file and opens the app on it (or prints the command to do so
when the output is not a terminal).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.cmd_convert import MISSING_EXTRA
from cli.common import dump_json
from cli.exit_codes import Exit, worst
from cli.query_args import print_query_error
from core.model.text import printable
from core.query.lexer import QueryError
from core.query.stack import DEFAULT_LIMIT

ACTIONS = ("query", "stack", "timeline", "findings", "processes")


def register(sub: Any) -> None:
    parser = sub.add_parser("fleet", help="query a converted dataset (many hosts) on Spark or locally")
    parser.add_argument("dataset", metavar="DIR", help="a dataset written by 'evtx-explorer convert ... --to DIR'")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--engine", choices=("spark", "local"), default="spark",
                        help="spark (default; needs Java 17+) or local (DuckDB, for data that fits this machine)")
    parser.add_argument("--master", default="local[2]", help="Spark master URL (default local[2])")
    parser.add_argument("--where", default="", help="filter, as in 'query' (e.g. '4688 image:*rundll32*')")
    parser.add_argument("--by", default="EventID", help="stack: the field or column to stack on")
    parser.add_argument("--bucket", default=None, metavar="WIDTH",
                        help="timeline: bucket width 30s, 1m, 5m, 1h, 1d, 1w (default: chosen from the span, as "
                        "'timeline')")
    parser.add_argument("--limit", type=int, default=None,
                        help=f"query: at most N rows; stack: at most N values (default {DEFAULT_LIMIT}; 0 = all)")
    parser.add_argument("--desc", action="store_true", help="stack: most common first (default: rarest first)")
    parser.add_argument("--handles", action="store_true", help="processes: the handle instances instead")
    parser.add_argument("--rules", metavar="FILE", default=None, help="findings: rules TOML over the defaults")
    parser.add_argument("--json", action="store_true", help="JSON lines (query always writes JSON lines); "
                        "stack and timeline: the JSON document of 'stack'/'timeline --format json'")
    parser.add_argument("--open", action="store_true", help="open the result's events in the app")
    parser.add_argument("--context", type=float, default=None, metavar="MINUTES",
                        help="with --open: also the events on the same computers within MINUTES of them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    try:
        from core.fleet import query_sql
        from core.fleet.engines import FleetError, open_engine
    except ImportError as exc:
        print(MISSING_EXTRA.format(what="fleet", error=exc), file=sys.stderr)
        return Exit.USAGE
    if args.limit is not None and args.limit < 0:
        print("evtx-explorer: --limit must be >= 0", file=sys.stderr)
        return Exit.USAGE
    if args.context is not None and not 0 <= args.context < float("inf"):  # (NaN too)
        print("evtx-explorer: --context must be a number of minutes >= 0", file=sys.stderr)
        return Exit.USAGE
    try:
        query_sql.where_expr(args.where)  # a typo must not cost a Spark start
    except QueryError as exc:
        print_query_error(args.where, exc)
        return Exit.USAGE
    rules = None
    if args.action == "findings":
        from core.findings.rules import RulesError, load_rules

        try:
            rules = load_rules(args.rules)
        except RulesError as exc:
            print(f"evtx-explorer fleet: bad rules file: {printable(str(exc))}", file=sys.stderr)
            return Exit.USAGE
    try:  # each part left out is named as it is: at the start, or when a read fails on it
        engine = open_engine(args.dataset, args.engine, args.master, report=_skipped)
    except FleetError as exc:
        print(f"evtx-explorer: {printable(str(exc))}", file=sys.stderr)
        return Exit.INPUT_UNREADABLE
    try:
        status = _act(engine, args, rules)
    except FleetError as exc:  # every part left out
        print(f"evtx-explorer: {printable(str(exc))}", file=sys.stderr)
        return Exit.INPUT_UNREADABLE
    except engine.errors as exc:  # a failure no part is to blame for (`Engine.attempt`): one line
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        print(f"evtx-explorer fleet: {printable(args.dataset)}: the dataset could not be read: {printable(reason)}",
              file=sys.stderr)
        return Exit.INPUT_UNREADABLE
    finally:
        engine.close()
    return worst(status, Exit.INPUT_UNREADABLE) if engine.skipped else status


def _skipped(line: str) -> None:
    print(f"evtx-explorer: {printable(line)}", file=sys.stderr)


def _act(engine: Any, args: argparse.Namespace, rules: Any) -> Exit:
    from core.fleet import api
    from core.fleet.documents import event_document

    try:  # a field name the dataset does not hold (`usr:alice`): status 2, as the one-machine commands
        api.check_names(engine, args.where)
    except QueryError as exc:
        print_query_error(args.where, exc)
        return Exit.USAGE
    if args.action == "query":
        limit = args.limit or None  # (0 = all, as for stack: LIMIT 0 printed nothing)
        if args.open:
            rows = api.query(engine, args.where, limit)
            for row in rows:
                print(dump_json(event_document(row), indent=None))
            return _open(_with_context(engine, rows, args.context))
        for row in api.stream(engine, args.where, limit):
            print(dump_json(event_document(row), indent=None))
        return Exit.OK
    if args.action in ("stack", "timeline"):
        return _stack_or_timeline(engine, args)
    if args.action == "findings":
        found = api.findings(engine, rules, args.where)
        _print(found, args.json, lambda r: f"{r['severity']:<8} {r['rule']:<34} {printable(r['computer'])} "
               f"rec {r['record_id']}  {r['event_id']}  {printable(r['message'])}")
    else:
        found = api.handles(engine, args.where) if args.handles else api.processes(engine, args.where)
        _print(found, args.json, _handle_line if args.handles else _process_line)
    keys = [(r["source"], r["place"]) for r in found]
    if args.open:
        return _open(_with_context(engine, api.events_at(engine, keys), args.context))
    return Exit.OK


def _stack_or_timeline(engine: Any, args: argparse.Namespace) -> Exit:
    """As the one-machine `stack` / `timeline` commands: the same answers, printed the same way."""
    from cli.cmd_stack import write_stack
    from cli.cmd_timeline import write_timeline
    from core.fleet import api
    from core.query.timeline import parse_width

    fmt = "json" if args.json else "text"
    try:
        if args.action == "timeline":
            width = None if args.bucket is None else parse_width(args.bucket)
            write_timeline(api.timeline(engine, args.where, width), fmt, sys.stdout)
            return Exit.OK
        limit = DEFAULT_LIMIT if args.limit is None else (args.limit or None)
        write_stack(api.stack(engine, args.where, args.by, limit=limit, descending=args.desc), fmt, sys.stdout)
    except QueryError as exc:
        print(f"evtx-explorer: {'--bucket' if args.action == 'timeline' else '--by'}: {exc.message}", file=sys.stderr)
        return Exit.USAGE
    if args.open:  # the events of the stacked view
        return _open(_with_context(engine, api.query(engine, args.where), args.context))
    return Exit.OK


def _with_context(engine: Any, rows: list[dict[str, Any]], minutes: float | None) -> list[dict[str, Any]]:
    """`rows`, or with --context the events around them on their computers (which include them)."""
    from core.fleet import api

    if minutes is None or not rows:
        return rows
    query = api.context_query(rows, minutes)
    return rows if query is None else api.query(engine, query)


def _process_line(r: dict[str, Any]) -> str:
    parent = f"{r['parent_image'] or '?'} (0x{r['parent_pid']:x})" if r["parent_pid"] is not None else "-"
    return (f"{printable(r['computer'])}  0x{r['pid']:x} ({r['pid']})  {printable(r['image'] or '?')}  "
            f"parent {printable(parent)}  rec {r['start_record_id']}..{r['end_record_id'] or ''}  {r['confidence']}")


def _handle_line(r: dict[str, Any]) -> str:
    copied = f" copy of 0x{r['source_handle_id']:x} in pid 0x{r['source_pid']:x}" if r["source_pid"] is not None else ""
    return (f"{printable(r['computer'])}  pid 0x{r['pid']:x} handle 0x{r['handle_id']:x}  "
            f"{printable(r['object_type'] or '')} {printable(r['object_name'] or '')}{copied}  {r['confidence']}")


def _print(rows: list[dict[str, Any]], as_json: bool, line: Any) -> None:
    for row in rows:
        print(dump_json(row, indent=None) if as_json else line(row))
    if not as_json:
        print(f"{len(rows)} row(s)", file=sys.stderr)


def _open(rows: list[dict[str, Any]]) -> Exit:
    """The events in a temporary JSON-lines file, and the app on it (a terminal) or its command."""
    import shlex

    from core.fleet.documents import write_for_app

    path, count = write_for_app(rows)
    command = f"evtx-explorer open {shlex.quote(str(path))}"
    print(f"wrote {count} event(s) to {printable(str(path))}", file=sys.stderr)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"open them with: {printable(command)}", file=sys.stderr)
        return Exit.OK
    from cli.main import main

    return Exit(main(["open", str(path)]))
