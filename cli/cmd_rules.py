"""`evtx-explorer rules list|check|update`: the Sigma rules the findings run.

`list` names the rules that would run (level, status, title, author, file) from `--sigma DIR`
or the user's sigma folder; `check DIR...` parses rule files and lists those that do not parse
with the reason, and how many rules each logsource gets (exit 1 if any file is refused);
`update [--from URL|ZIP]` installs a SigmaHQ release zip into the user's sigma folder (the one
network access of the program, and only when asked); a zip that cannot be downloaded, read or
installed from is an input that could not be read (exit 1), a folder it cannot write exit 5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.cmd_findings import add_sigma_args
from cli.exit_codes import Exit
from core.findings.sigma import DEFAULT_STATUSES, HINT, compile_dirs, rule_dirs
from core.findings.sigma.report import coverage_lines, level_rank
from core.findings.sigma.ruleset import default_dir, load_rules
from core.findings.sigma.update import DEFAULT_URL, UpdateError, fetch, install
from core.model.text import one_line, printable


def register(sub: Any) -> None:
    parser = sub.add_parser("rules", help="list, check or install Sigma rules",
                            description="Sigma rules for `findings` (SigmaHQ's format).")
    cmds = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    lst = cmds.add_parser("list", help="the rules that run, with level, status, title and author")
    add_sigma_args(lst)
    lst.set_defaults(func=run_list)
    check = cmds.add_parser("check", help="parse rule folders; list files that do not parse and why")
    check.add_argument("dirs", nargs="+", metavar="DIR")
    check.set_defaults(func=run_check)
    update = cmds.add_parser("update", help="install a SigmaHQ release zip into the user's sigma folder")
    update.add_argument("--from", dest="source", metavar="URL|ZIP", default=DEFAULT_URL,
                        help=f"where the zip comes from (default: {DEFAULT_URL})")
    update.add_argument("--dir", default=None, help=argparse.SUPPRESS)  # tests: somewhere else than the config dir
    update.set_defaults(func=run_update)


def run_list(args: argparse.Namespace) -> int:
    dirs = rule_dirs(args.sigma)
    if not dirs:
        print(f"evtx-explorer: {HINT}", file=sys.stderr)
        return 0
    loaded = load_rules(dirs, min_level=args.min_level, statuses=tuple(args.status or DEFAULT_STATUSES))
    for meta, _spec in sorted(loaded.rules, key=lambda r: (level_rank(r[0].level), r[0].title)):
        print(f"{meta.level:<9} {meta.status:<12} {one_line(meta.title, 70):<70} by {one_line(meta.author, 50)}"
              f"  {printable(meta.path)}")
    print(f"{len(loaded.rules)} rule(s)", file=sys.stderr)
    return 0


def run_check(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.dirs]
    missing = [d for d in dirs if not d.exists()]
    if missing:
        print(f"evtx-explorer rules check: no such folder: {printable(str(missing[0]))}", file=sys.stderr)
        return 2
    compiled = compile_dirs(dirs, min_level="informational", statuses=("stable", "test", "experimental",
                                                                       "deprecated", "unsupported"))
    from core.findings.sigma.engine import SigmaResult

    summary = SigmaResult(rules=compiled.rules, ran=dict(compiled.ran), errors=compiled.errors,
                          skipped={k: dict(v) for k, v in compiled.skipped.items()}, missing=dict(compiled.missing))
    lines = coverage_lines(summary, ran="can run")
    lines[0] = f"{len(compiled.rules)} rule(s) can run, {len(compiled.errors)} file(s) did not parse"
    print("\n".join(printable(line) for line in lines))
    return 1 if compiled.errors else 0


def run_update(args: argparse.Namespace) -> int:
    target = Path(args.dir) if args.dir else default_dir()
    try:
        fetched = fetch(args.source)
    except UpdateError as exc:
        print(f"evtx-explorer rules update: {printable(str(exc))}", file=sys.stderr)
        return Exit.INPUT_UNREADABLE  # (the zip, its one input: `cli.exit_codes`)
    try:
        count = install(fetched, target)
    except UpdateError as exc:
        print(f"evtx-explorer rules update: {printable(str(exc))}", file=sys.stderr)
        return Exit.INPUT_UNREADABLE  # (the zip, its one input: `cli.exit_codes`)
    except OSError as exc:  # the rules folder cannot be written (a file in its place, read-only, full)
        print(f"evtx-explorer rules update: cannot write {printable(str(target))}: "
              f"{printable(exc.strerror or str(exc))}", file=sys.stderr)
        return Exit.OUTPUT_FAILED
    print(f"installed {count:,} rule file(s) into {printable(str(target))}")
    return 0
