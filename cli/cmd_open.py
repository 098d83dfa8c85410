"""`evtx-explorer [open] FILE...` and `evtx-explorer demo`: the terminal app.

The app's exit status follows the headless commands' (`cli.exit_codes`): after the user quits,
INPUT_UNREADABLE if an input could not be read (the app showed it in its issues panel), else OK.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import resolve_inputs
from cli.exit_codes import Exit

if TYPE_CHECKING:  # the headless commands never import textual
    from tui.app import EvtxApp


def configure(parser: argparse.ArgumentParser, *, demo: bool = False) -> None:
    """The app's options, for `open` and (`demo`) for `demo`, which opens the demo log beside
    the FILEs named (its `--help` shows its own usage, and these options, which it takes too)."""
    from cli.common import jobs_value

    what = "more logs to open beside the demo" if demo else "logs to open"
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=f"{what} (a directory loads the logs inside it); 'demo' opens the bundled demo")
    parser.add_argument("--no-cache", action="store_true", help="parse again, do not read or write the cache")
    parser.add_argument("--jobs", type=jobs_value, default=None,
                        help="EVTX decoding processes (default: one per core; at most 4 per core)")
    parser.add_argument("--case", default=None, metavar="FILE",
                        help="marks and notes file (default: one per set of inputs, under the user data dir)")
    parser.add_argument("--sigma", metavar="DIR", action="append", default=None,
                        help="a folder of Sigma rules for the Findings view (repeatable; default: the user config "
                        "dir's sigma folder)")
    parser.add_argument("--no-prebuild", action="store_true",
                        help="build the correlation model only when a view asks for it, not once the log is loaded")
    parser.set_defaults(func=run_demo if demo else run)


def resolve_files(files: list[str]) -> list[str]:
    """The paths the app opens: `demo` is the bundled demo log, a directory its logs."""
    return resolve_inputs(files)[0]


def make_app(files: list[str], args: argparse.Namespace) -> EvtxApp:
    """The app for `files` (a seam: tests run it headless)."""
    from tui.app import EvtxApp  # here, not at the top: the headless commands never import textual

    return EvtxApp(files, use_cache=not args.no_cache, jobs=args.jobs, case_file=args.case,
                   prebuild=not getattr(args, "no_prebuild", False))


def app_status(app: EvtxApp, problems: list[str]) -> Exit:
    """The status once the app has quit: an input it could not read (or a name that held no
    log) makes it INPUT_UNREADABLE, as for the headless commands."""
    unreadable = bool(problems) or app.error_count > 0
    unreadable = unreadable or any(s.error for s in app.workspace.sources.values())
    return Exit.INPUT_UNREADABLE if unreadable else Exit.OK


#: Logs of at least this many events whose correlation was not stored when the app quit get a
#: line saying how to store it (their next open builds the model again: 8 s at a million events).
PREPARE_HINT_EVENTS = 500_000
PREPARE_HINT = ("evtx-explorer: this log's correlation was not stored before the app closed, so its next "
                "open works it out again; `evtx-explorer prepare` with the same files stores it now")


def prepare_hint(app: EvtxApp) -> str | None:
    """PREPARE_HINT when the app quit before the correlation of a big, cached log was stored
    (its background writer is stopped with the app), else None."""
    ws = app.workspace
    path, loaded = getattr(ws, "store_path", None), getattr(ws, "loaded", False)
    if path is None or not loaded:
        return None
    from core.store.store import Store
    from tui.view_builders import STORED_VIEWS

    try:
        with Store(path, readonly=True) as store:
            if store.size() < PREPARE_HINT_EVENTS:
                return None
        return None if ws.models.stored_all(path, loaded, STORED_VIEWS) else PREPARE_HINT
    except Exception:  # noqa: BLE001 - a store gone with the app (no cache): nothing to say
        return None


def has_terminal() -> bool:
    """Whether standard input and output are both a terminal, which the app draws on and reads
    keys from. (A seam: the tests that run the app headless, under pytest's captured output,
    say yes.)"""
    from cli.output import is_terminal

    return all(is_terminal(stream) for stream in (sys.stdin, sys.stdout))


#: Said instead of starting the app without a terminal: it would draw its escapes into a file or
#: pipe and wait for keys that never come (a script that typed `evtx-explorer stat F` hung).
NO_TERMINAL = ("evtx-explorer: the app needs a terminal (standard input and output); "
               "in a script or pipe use the commands: stats, query, export, ... (see evtx-explorer --help)")


def run_demo(args: argparse.Namespace) -> int:
    """`evtx-explorer demo [FILE...]`: the app on the demo log (and the FILEs)."""
    args.files = ["demo", *args.files]
    return run(args)


def run(args: argparse.Namespace) -> int:
    if not args.files:
        print("usage: evtx-explorer FILE... (or 'evtx-explorer demo'); see --help", file=sys.stderr)
        return Exit.USAGE
    if not has_terminal():
        print(NO_TERMINAL, file=sys.stderr)
        return Exit.USAGE
    if args.sigma:  # the app and its child processes find them there (core.findings.sigma.ruleset.rule_dirs)
        os.environ["EVTX_EXPLORER_SIGMA"] = os.pathsep.join(str(Path(d).resolve()) for d in args.sigma)
    files, problems = resolve_inputs(list(args.files))
    for problem in problems:  # before the app takes the screen; said again by the status
        print(f"evtx-explorer: {problem}", file=sys.stderr)
    if not files:
        return Exit.INPUT_UNREADABLE
    app = make_app(files, args)
    app.run()
    crashed = app.return_code
    if crashed:  # Textual's own status for an app that died (it printed the traceback)
        return int(crashed)
    hint = prepare_hint(app)
    if hint is not None:
        print(hint, file=sys.stderr)
    status = app_status(app, problems)
    if status is Exit.INPUT_UNREADABLE:
        errors = [s.error for s in app.workspace.sources.values() if s.error]
        for error in errors or app.workspace.load_errors:
            print(f"evtx-explorer: {error}", file=sys.stderr)
    return status
