"""`evtx-explorer [open] FILE...` and `evtx-explorer demo`: the terminal app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_LOG = Path(__file__).resolve().parents[1] / "demo" / "intrusion.xml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="logs to open; 'demo' opens the bundled demo")
    parser.add_argument("--no-cache", action="store_true", help="parse again, do not read or write the cache")
    parser.add_argument("--jobs", type=int, default=None, help="EVTX decoding processes (default: one per core)")
    parser.add_argument("--case", default=None, metavar="FILE",
                        help="marks and notes file (default: one per set of inputs, under the user data dir)")
    parser.add_argument("--sigma", metavar="DIR", action="append", default=None,
                        help="a folder of Sigma rules for the Findings view (repeatable; default: the user config "
                        "dir's sigma folder)")
    parser.set_defaults(func=run)


def resolve_files(files: list[str]) -> list[str]:
    """`demo` stands for the bundled demo log (written by `demo/make_demo.py`)."""
    return [str(DEMO_LOG) if f == "demo" else f for f in files]


def run(args: argparse.Namespace) -> int:
    files = resolve_files(args.files)
    if not files:
        print("usage: evtx-explorer FILE... (or 'evtx-explorer demo'); see --help", file=sys.stderr)
        return 2
    if args.sigma:  # the app and its child processes find them there (core.sigma.ruleset.rule_dirs)
        import os

        os.environ["EVTX_EXPLORER_SIGMA"] = os.pathsep.join(str(Path(d).resolve()) for d in args.sigma)
    from tui.app import run_app  # here, not at the top: the headless commands never import textual

    return run_app(files, use_cache=not args.no_cache, jobs=args.jobs, case_file=args.case)
