"""`evtx-explorer`: the app (`evtx-explorer FILE...`) and the headless commands.

Each headless command lives in `cli/cmd_<name>.py` with `register(subparsers)` and
`run(args) -> int`, returning a `cli.exit_codes.Exit` (the statuses are defined and documented
there once, and shown by `--help`). Everything a command writes goes through
`cli.output.safe_streams`: escaped on a terminal, exact to a file or pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import re
import sys
from collections.abc import Iterator, Sequence

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
    demo = sub.add_parser("demo", help="open the terminal app on the bundled demo log (same as 'open demo')",
                          description="Open the terminal app on the bundled demo log (and any FILE named too).")
    cmd_open.configure(demo, demo=True)
    for choice in sub.choices.values():
        choice.epilog = EPILOG
        choice.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


#: The words that name a command (the app's own included); any other first word names a file.
COMMAND_WORDS = (*COMMANDS, "open", "demo")
#: A first word that reads as a mistyped command rather than a file name: no path separator, no
#: extension (`stat`, `querry`), which no log is named like.
_COMMAND_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def routed(words: list[str]) -> list[str] | str:
    """The command line with its command word in front (`open` for `evtx-explorer FILE...`), or
    the one-line error for a first word that is no command and no file but looks like a command:
    taken as a file name, `evtx-explorer stat FILE` opened the app on two inputs, one unreadable
    (and without a terminal, never returned)."""
    if not words:
        return ["open"]
    first = words[0]
    if first in (*COMMAND_WORDS, "-h", "--help"):
        return words
    if first.startswith("-") or os.path.lexists(first) or not _COMMAND_LIKE.fullmatch(first):
        return ["open", *words]
    close = difflib.get_close_matches(first, COMMAND_WORDS, n=1)
    hint = f"did you mean {close[0]}?" if close else f"commands: {', '.join(COMMAND_WORDS)}"
    return f"evtx-explorer: unknown command '{first}' ({hint})"


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every (sub)command parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # (an alias names a parser twice)
                yield from _parsers(sub)


def joined_queries(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """`words` with each query option's value that starts with `-` joined to it (`--where
    -host:DC01` -> `--where=-host:DC01`): argparse takes such a value for an option and refused
    a query that starts with a negation. A query option is any option whose value is stored as
    `where` (`--where` of every command); a value that is itself an option (`--where --limit`)
    and everything after `--` are left as they are."""
    queries: set[str] = set()
    options: set[str] = set()
    for each in _parsers(parser):
        for action in each._actions:
            options.update(action.option_strings)
            if action.dest == "where":
                queries.update(action.option_strings)
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            out.extend(words[i:])
            break
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in queries and value.startswith("-") and value != "--" and value.split("=", 1)[0] not in options:
            out.append(f"{word}={value}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def parse(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """The parsed command line; an unknown option is refused by the parser of the command it
    was given to, so that the usage shown is that command's (argparse's own `parse_args` has the
    top-level parser refuse it, with the top-level usage, which names none of the options)."""
    args, extra = parser.parse_known_args(words)
    if extra:
        chosen = parser
        while True:
            subs = [a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)]
            name = getattr(args, subs[0].dest, None) if subs else None
            if not subs or name not in subs[0].choices:
                break
            chosen = subs[0].choices[name]
        chosen.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    tune_allocator()  # the commands build models too: freed memory given back (`core.store.heap`)
    args_list = routed(list(sys.argv[1:] if argv is None else argv))
    with safe_streams():
        if isinstance(args_list, str):
            print(args_list, file=sys.stderr)
            return Exit.USAGE
        parser = build_parser()
        try:
            args = parse(parser, joined_queries(parser, args_list))
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
