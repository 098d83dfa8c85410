"""`evtx-explorer export FILE... --where Q --format csv|jsonl|json|md --output PATH [--force]`
and `evtx-explorer export FILE... --marks [--case FILE] --output PATH`.

The headless twin of the app's `e`: the same rows as `query --format`, written atomically to a
file that is never overwritten unless `--force` is given; it says how many rows it wrote, and in
which format. `json` is the JSON lines rows as one JSON array (`JsonArray`), for a reader that
wants one document: a file named `.json` got JSON lines, which such a reader refuses.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Any

from cli.common import add_input_args, counted, open_store, os_message, report_input_errors, resolve_inputs
from cli.exit_codes import Exit, worst
from cli.query_args import compile_where
from core.store.filter import Filter
from core.store.store import Store


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="write the events matching a query (or the marked events) to a file",
        description="Export a filtered view as CSV, JSON lines, a JSON array or Markdown, or (--marks) the case's "
        "marked events with their notes as a Markdown report.",
    )
    add_input_args(parser)
    parser.add_argument("--where", default="", help="filter, e.g. '4688 image:*rundll32*'")
    parser.add_argument("--format", choices=tuple(FORMAT_NAMES), default=None,
                        help="output format: csv, JSON lines, one JSON array, Markdown (default: from the file "
                        "extension, else jsonl)")
    parser.add_argument("--output", "-o", required=True, metavar="PATH", help="file to write ('-': standard output)")
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.add_argument("--marks", action="store_true", help="export the marked events and notes (Markdown)")
    parser.add_argument("--case", default=None, metavar="FILE",
                        help="case file to read marks from (default: the one for these inputs)")
    parser.set_defaults(func=run)


#: The export formats, as the "wrote N rows" line names them.
FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON lines", "json": "a JSON array", "md": "Markdown"}
#: The format an output's extension picks when `--format` is not given (else jsonl).
SUFFIX_FORMATS = {"csv": "csv", "md": "md", "markdown": "md", "jsonl": "jsonl", "ndjson": "jsonl", "json": "json"}


def _format_for(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = str(args.output).lower().rsplit(".", 1)[-1] if "." in str(args.output) else ""
    return SUFFIX_FORMATS.get(suffix, "jsonl")


class JsonArray:
    """A text stream that takes JSON lines (one event document a line, as `write_rows` writes
    them) and writes them on as the elements of one JSON array, `[`, an element a line, `]`.
    Streamed: a line is held only until its newline comes (JSON escapes the newlines inside
    its strings), so memory stays bounded whatever the count. `finish` closes the array."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.pending = ""
        self.count = 0

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self.out.write(("[\n" if not self.count else ",\n") + line)
            self.count += 1
        return len(text)

    def finish(self) -> None:
        if self.pending:  # (write_rows ends each line: never, unless it changes)
            self.write("\n")
        self.out.write("\n]\n" if self.count else "[]\n")


def write_json(store: Store, which: Filter, out: Any) -> int:
    """The events `which` keeps as one JSON array (`JsonArray`); how many."""
    from core.report.export import write_view

    array = JsonArray(out)
    n = write_view(store, which, "jsonl", array)
    array.finish()
    return n


def output_status(exc: OSError) -> Exit:
    """OUTPUT_EXISTS when the target is in the way (a script may retry with --force), else
    OUTPUT_FAILED: never the unreadable-input status."""
    return Exit.OUTPUT_EXISTS if isinstance(exc, FileExistsError) else Exit.OUTPUT_FAILED


def _is_stdout(name: str) -> bool:
    """Whether `name` is this process's standard output (`/dev/stdout`, `/dev/fd/1`, its
    terminal's device): then written as `-` is, escaped on a terminal."""
    try:
        named, out = os.stat(name), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return (named.st_dev, named.st_ino) == (out.st_dev, out.st_ino)


def run(args: argparse.Namespace) -> Exit:
    from core.report.export import (
        check_target,
        export_marks,
        export_view,
        marks_report,
        write_atomically,
        write_view,
    )

    fmt = _format_for(args)
    if args.marks and fmt != "md":
        print("evtx-explorer: --marks writes a Markdown report (--format md)", file=sys.stderr)
        return Exit.USAGE
    if args.marks and args.where:
        print("evtx-explorer: --marks exports the marked events; --where does not apply", file=sys.stderr)
        return Exit.USAGE
    compiled = None
    if not args.marks:
        compiled = compile_where(args.where)  # a typo fails before the inputs load
        if compiled is None:
            return Exit.USAGE
    to_stdout = args.output == "-" or _is_stdout(args.output)
    try:
        if not to_stdout:
            check_target(Path(args.output), args.force)  # before the slow load
    except OSError as exc:
        print(f"evtx-explorer: {os_message(exc)}", file=sys.stderr)
        return output_status(exc)
    store = open_store(args)
    status = report_input_errors(store, args)
    try:
        if args.marks:
            from core.report.case import Case

            case = Case.for_inputs(resolve_inputs(list(args.files))[0], args.case)
            case.autosave = False  # exporting never rewrites the case
            for warning in case.warnings:
                print(f"evtx-explorer: {warning}", file=sys.stderr)
            if to_stdout:
                text, n = marks_report(case, store)
                sys.stdout.write(text)
            else:
                n = export_marks(case, store, args.output, overwrite=args.force)
            what = "mark"
        else:
            compiled = compile_where(args.where, store.field_names())  # now also: no such field
            if compiled is None:
                return Exit.USAGE
            if fmt == "json" and to_stdout:
                n = write_json(store, compiled, sys.stdout)
            elif fmt == "json":
                which = compiled
                n = write_atomically(args.output, lambda fh: write_json(store, which, fh), overwrite=args.force)
            elif to_stdout:
                n = write_view(store, compiled, fmt, sys.stdout)
            else:
                n = export_view(store, compiled, fmt, args.output, overwrite=args.force)
            what = "row"
    except BrokenPipeError:
        raise  # `-o - | head`: the reader has what it wanted (`cli.main`: status 0, as every command)
    except OSError as exc:
        print(f"evtx-explorer: {os_message(exc)}", file=sys.stderr)
        return worst(status, output_status(exc))
    print(f"wrote {counted(n, what)} to {'stdout' if to_stdout else args.output} as {FORMAT_NAMES[fmt]}",
          file=sys.stderr)
    return status
