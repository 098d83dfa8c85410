"""`evtx-explorer findings FILE... [--rules FILE] [--sigma DIR]... [--json|--csv|--md]`: what the
4688 monitoring rules and the Sigma rules flag.

The rules come from `--rules FILE`, else the user's rules.toml, else the built-in defaults
(`core/findings/default_rules.toml`). Sigma rules come from `--sigma DIR` (repeatable), else the user
config dir's `sigma` folder (`rules update` fills it), else none (a one-line hint). A bad rules
file is a usage error (exit 2) naming the line and the reason; an unreadable input is reported
and the others are still searched (exit 1).

`--json`, `--csv` and `--md` hold both engines' findings, each saying its `engine` and input
`file` (`core.report.findings`): the CSV and Markdown held the Sigma matches only, a header and
nothing without `--sigma`. The text cuts a Sigma rule's author to its column on a terminal only:
a file or pipe gets it whole (the Detection Rule License asks for the author).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.common import add_input_args, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit
from cli.output import ProgressLine
from core.findings.engine import Finding
from core.findings.rules import RulesError, load_rules
from core.findings.sigma import (
    DEFAULT_MIN_LEVEL,
    DEFAULT_STATUSES,
    HINT,
    LEVELS,
    STATUSES,
    SigmaProgress,
    SigmaResult,
    rule_dirs,
    run_sigma,
)
from core.findings.sigma.report import coverage_lines, fields_json, flat, records
from core.findings.stored import findings_of
from core.model.event import iso_from_filetime
from core.model.text import md_text, one_line, printable
from core.report.export import csv_cell
from core.report.findings import TABLE_COLUMNS, builtin_json, builtin_row, source_paths


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "findings",
        help="run the findings rules (4688 monitoring recommendations and Sigma rules) over the inputs",
        description="Flag events with the configurable findings rules: images outside standard folders or in "
        "restricted ones, restricted substrings (mimikatz...), UAC token types, integrity levels, "
        "high-value / inactive / foreign / local accounts, restricted computers; and with Sigma rules "
        "(SigmaHQ's format). Sigma matches show their rule's author (Detection Rule License).",
    )
    add_input_args(parser)
    parser.add_argument(
        "--rules",
        metavar="FILE",
        default=None,
        help="rules TOML laid over the built-in defaults (default: the user config dir's rules.toml if any)",
    )
    add_sigma_args(parser)
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON list of findings")
    out.add_argument("--csv", action="store_true",
                     help="the findings as CSV, built-in and Sigma (an engine column; a Sigma rule's author)")
    out.add_argument("--md", action="store_true", help="the findings as a Markdown table, built-in and Sigma")
    parser.set_defaults(func=run)


def add_sigma_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sigma", metavar="DIR", action="append", default=None,
                        help="a folder of Sigma rules (repeatable; default: the user config dir's sigma folder)")
    parser.add_argument("--min-level", choices=LEVELS, default=DEFAULT_MIN_LEVEL,
                        help=f"least Sigma rule level run (default {DEFAULT_MIN_LEVEL})")
    parser.add_argument("--status", action="append", choices=STATUSES, default=None,
                        help="Sigma rule status run (repeatable; default: " + ", ".join(DEFAULT_STATUSES) + ")")


def _table(findings: Sequence[Finding], titles: dict[str, str]) -> str:
    lines = []
    for f in findings:
        when = iso_from_filetime(f.time) or "no time"
        lines.append(
            f"{when[:23]}Z  {f.severity:<8} {f.rule:<34} {one_line(f.computer, 24):<24} "
            f"rec {f.record_id}  {f.event_id}  {printable(f.message)}"
        )
    counts = Counter(f.rule for f in findings)
    lines.append(f"{len(findings)} finding(s)" + (":" if counts else ""))
    for rule_id, n in counts.most_common():
        lines.append(f"  {n:>6}  {rule_id}  ({titles.get(rule_id, '')})")
    return "\n".join(lines)


def _sigma_table(result: SigmaResult, terminal: bool) -> str:
    """The matches, one line each; the author, the last column, is cut only on a `terminal`
    (a file or pipe gets every author the license asks to show)."""
    lines = []
    for r in records(result):
        lines.append(
            f"{(r['time'] or 'no time')[:23]}Z  {r['level']:<8} {one_line(r['title'], 60):<60} "
            f"{one_line(r['computer'], 24):<24} rec {r['record_id']}  {r['event_id']}  "
            f"by {one_line(r['author'], 60 if terminal else None)}"
        )
    lines.extend(printable(line) for line in coverage_lines(result))
    return "\n".join(lines)


def _csv(rows: list[dict[str, Any]]) -> str:
    """The findings (`TABLE_COLUMNS`) as CSV with the exact data (as `export` writes: the matched
    fields one JSON object, like its `data` column): a terminal's stream escapes what reaches it
    (`cli.output`), a file or pipe gets the log's own characters."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    numbers = {"record_id", "event_id"}  # (the others hold text a log or a rule decides: no formula)
    for row in rows:
        cells = {k: v if k in numbers else csv_cell(v) for k, v in flat(row, TABLE_COLUMNS).items()}
        cells["fields"] = fields_json(row)  # (a JSON object, exact: starts with `{`, no formula)
        writer.writerow(cells)
    return buf.getvalue().rstrip("\n")


def _md(rows: list[dict[str, Any]]) -> str:
    cols = ("engine", "time", "level", "title", "tactics", "computer", "record_id", "event_id", "message", "author",
            "rule_file", "fields", "file")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = flat(row, TABLE_COLUMNS)
        lines.append("| " + " | ".join(md_text(one_line(cells[c])) for c in cols) + " |")  # (no link, HTML, column)
    return "\n".join(lines)


def sigma_folder_missing(args: argparse.Namespace, command: str) -> bool:
    """Whether a `--sigma` folder does not exist (a usage error: the first one is named)."""
    missing = [d for d in args.sigma or () if not Path(d).exists()]
    if missing:
        print(f"evtx-explorer {command}: no such Sigma rules folder: {printable(missing[0])}", file=sys.stderr)
    return bool(missing)


def sigma_for(args: argparse.Namespace, store: Any) -> SigmaResult | None:
    """The Sigma result of the command's options, or None (hint on stderr) without rules."""
    dirs = rule_dirs(args.sigma)
    if not dirs:
        print(f"evtx-explorer: {HINT}", file=sys.stderr)
        return None
    line = ProgressLine()  # a terminal only: a redirected stderr gets no progress lines

    def progress(p: SigmaProgress) -> None:
        line.show(p.text())

    try:
        return run_sigma(store, dirs, min_level=args.min_level, statuses=tuple(args.status or DEFAULT_STATUSES),
                         use_cache=not args.no_cache, progress=progress)
    finally:
        line.clear()


def run(args: argparse.Namespace) -> Exit:
    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(f"evtx-explorer findings: bad rules file: {printable(str(exc))}", file=sys.stderr)
        return Exit.USAGE
    if sigma_folder_missing(args, "findings"):
        return Exit.USAGE
    store = open_store(args)
    try:
        data = findings_of(store, rules)  # kept with the store: a second run reads them back
        sigma = sigma_for(args, store)
        paths = source_paths(store)
        rows = records(sigma, paths) if sigma is not None else []
        if args.json:
            print(dump_json([builtin_json(f, paths) for f in data.findings] + rows))
        elif args.csv or args.md:
            table = [builtin_row(f, data.titles.get(f.rule, f.rule), paths) for f in data.findings] + rows
            print(_csv(table) if args.csv else _md(table))
        else:
            print(_table(data.findings, data.titles))
            if sigma is not None:
                print(_sigma_table(sigma, sys.stdout.isatty()))
        if sigma is not None and (args.json or args.csv or args.md):
            print("\n".join(printable(line) for line in coverage_lines(sigma)[:1]), file=sys.stderr)
        return report_input_errors(store, args)
    finally:
        store.close()
