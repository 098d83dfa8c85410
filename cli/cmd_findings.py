"""`evtx-explorer findings FILE... [--rules FILE] [--json]`: what the 4688 monitoring rules flag.

The rules come from `--rules FILE`, else the user's rules.toml, else the built-in defaults
(`core/findings/default_rules.toml`). A bad rules file is a usage error (exit 2) naming the line and
the reason; an unreadable input is reported and the others are still searched (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from cli.common import add_input_args, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit
from core.findings.engine import Finding, findings_json, store_findings
from core.findings.rules import RulesError, load_rules
from core.model.event import iso_from_filetime
from core.model.text import one_line, printable


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "findings",
        help="run the findings rules (4688 monitoring recommendations) over the inputs",
        description="Flag events with the configurable findings rules: images outside standard folders or in "
        "restricted ones, restricted substrings (mimikatz...), UAC token types, integrity levels, "
        "high-value / inactive / foreign / local accounts, restricted computers.",
    )
    add_input_args(parser)
    parser.add_argument(
        "--rules",
        metavar="FILE",
        default=None,
        help="rules TOML laid over the built-in defaults (default: the user config dir's rules.toml if any)",
    )
    parser.add_argument("--json", action="store_true", help="a JSON list of findings")
    parser.set_defaults(func=run)


def _table(findings: list[Finding], titles: dict[str, str]) -> str:
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


def run(args: argparse.Namespace) -> Exit:
    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(f"evtx-explorer findings: bad rules file: {printable(str(exc))}", file=sys.stderr)
        return Exit.USAGE
    store = open_store(args)
    try:
        data = store_findings(store, rules)
        if args.json:
            print(dump_json([findings_json(f) for f in data.findings]))
        else:
            print(_table(data.findings, data.titles))
        return report_input_errors(store, args)
    finally:
        store.close()
