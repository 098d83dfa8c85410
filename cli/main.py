"""`evtx-explorer`: the app (`evtx-explorer FILE...`) and the headless commands.

Each headless command lives in `cli/cmd_<name>.py` with `register(subparsers)` and
`run(args) -> int`, returning a `cli.exit_codes.Exit` (the statuses are defined and documented
there once, and shown by `--help`). Everything a command writes goes through
`cli.output.safe_streams`: escaped on a terminal, exact to a file or pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence

from cli.exit_codes import EPILOG, Exit
from cli.output import OutputFailed, safe_streams
from core.store.heap import tune_allocator

COMMANDS = (
    "stats", "query", "stack", "timeline", "correlate", "findings", "rules", "export", "cache", "convert", "fleet",
    "prepare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evtx-explorer",
        description="Triage Windows event logs (EVTX, Event XML, JSON lines) offline. "
        "Without a command, opens the terminal app on FILE... (a directory loads the logs inside it); "
        "'evtx-explorer demo' opens the app on the bundled demo log, and 'demo' names that log "
        "wherever a FILE is expected (e.g. 'evtx-explorer stats demo').",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        # Imported here, one by one, so that a command's heavy imports stay inside its `run`.
        importlib.import_module(f"cli.cmd_{name}").register(sub)
    app = sub.add_parser("open", help="open the terminal app (the default when no command is given)")
    from cli import cmd_open

    cmd_open.configure(app)
    sub.add_parser("demo", help="open the terminal app on the bundled demo log (same as 'open demo')")
    for choice in sub.choices.values():
        choice.epilog = EPILOG
        choice.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    tune_allocator()  # the commands build models too: freed memory given back (`core.store.heap`)
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in (*COMMANDS, "open", "-h", "--help"):
        args_list.insert(0, "open")  # `evtx-explorer FILE...` and `evtx-explorer demo`
    if not args_list:
        args_list = ["open"]
    with safe_streams():
        parser = build_parser()
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
            return int(exc.code or 0)
        try:
            return int(args.func(args))
        except BrokenPipeError:
            return Exit.OK
        except OutputFailed as exc:  # stdout on a full disk, an I/O error: one line (if stderr can take it)
            with contextlib.suppress(OSError, OutputFailed):
                print(f"evtx-explorer: cannot write the output: {exc}", file=sys.stderr, flush=True)
            return Exit.OUTPUT_FAILED
        except KeyboardInterrupt:
            return Exit.INTERRUPTED
        except Exception as exc:
            from core.store.cache_damage import is_damage, opened_any

            if not (is_damage(exc) and opened_any()):  # else a bug: its traceback is what to report
                raise
            return _damaged(exc)


def _damaged(exc: BaseException) -> int:
    """A cached store that does not read back (`core.store.cache_damage`): one line, its entries
    marked for a rebuild, status 1 (the inputs could not be read as cached)."""
    from core.model.text import printable
    from core.store.cache_damage import mark_opened

    again = "run the command again" if mark_opened() else "run the command again with --no-cache"
    with contextlib.suppress(OSError, OutputFailed):
        print(f"evtx-explorer: the cached copy of the logs is damaged ({printable(str(exc))[:200]}); "
              f"they will be parsed again: {again}", file=sys.stderr, flush=True)
    return Exit.INPUT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
