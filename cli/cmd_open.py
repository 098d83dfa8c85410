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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="logs to open (a directory loads the logs inside it); 'demo' opens the bundled demo")
    parser.add_argument("--no-cache", action="store_true", help="parse again, do not read or write the cache")
    parser.add_argument("--jobs", type=int, default=None, help="EVTX decoding processes (default: one per core)")
    parser.add_argument("--case", default=None, metavar="FILE",
                        help="marks and notes file (default: one per set of inputs, under the user data dir)")
    parser.add_argument("--sigma", metavar="DIR", action="append", default=None,
                        help="a folder of Sigma rules for the Findings view (repeatable; default: the user config "
                        "dir's sigma folder)")
    parser.add_argument("--no-prebuild", action="store_true",
                        help="build the correlation model only when a view asks for it, not once the log is loaded")
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    if not args.files:
        print("usage: evtx-explorer FILE... (or 'evtx-explorer demo'); see --help", file=sys.stderr)
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
