"""`evtx-explorer`: the app (`evtx-explorer FILE...`) and the headless commands.

Each headless command lives in `cli/cmd_<name>.py` with `register(subparsers)` and
`run(args) -> int`. Exit status: 0 when every input loaded (parse issues inside a file are
reported, not fatal); 1 when an input could not be read at all (the others are still
processed); 2 for a usage error or a bad query.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("stats", "query", "correlate", "findings", "rules", "export", "cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evtx-explorer",
        description="Triage Windows event logs (EVTX, Event XML, JSON lines) offline. "
        "Without a command, opens the terminal app on FILE...",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cli.cmd_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cli.cmd_{name}":
                raise
            continue
        module.register(sub)
    app = sub.add_parser("open", help="open the terminal app (the default when no command is given)")
    from cli import cmd_open

    cmd_open.configure(app)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in (*COMMANDS, "open", "-h", "--help"):
        args_list.insert(0, "open")
    if not args_list:
        args_list = ["open"]
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
