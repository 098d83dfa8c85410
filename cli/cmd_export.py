"""`evtx-explorer export FILE... --where Q --format csv|jsonl|md --output PATH [--force]`
and `evtx-explorer export FILE... --marks [--case FILE] --output PATH`.

The headless twin of the app's `e`: the same rows as `query --format`, written atomically to a
file that is never overwritten unless `--force` is given; it says how many rows it wrote.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Any

from cli.common import add_input_args, open_store, os_message, report_input_errors, resolve_inputs
from cli.exit_codes import Exit, worst
from cli.query_args import compile_where


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="write the events matching a query (or the marked events) to a file",
        description="Export a filtered view as CSV, JSON lines or Markdown, or (--marks) the case's "
        "marked events with their notes as a Markdown report.",
    )
    add_input_args(parser)
    parser.add_argument("--where", default="", help="filter, e.g. '4688 image:*rundll32*'")
    parser.add_argument("--format", choices=("csv", "jsonl", "md"), default=None,
                        help="output format (default: from the file extension, else jsonl)")
    parser.add_argument("--output", "-o", required=True, metavar="PATH", help="file to write ('-': standard output)")
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.add_argument("--marks", action="store_true", help="export the marked events and notes (Markdown)")
    parser.add_argument("--case", default=None, metavar="FILE",
                        help="case file to read marks from (default: the one for these inputs)")
    parser.set_defaults(func=run)


def _format_for(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = str(args.output).lower().rsplit(".", 1)[-1] if "." in str(args.output) else ""
    return {"csv": "csv", "md": "md", "markdown": "md", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "jsonl")


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
    from core.report.export import check_target, export_marks, export_view, marks_report, write_view

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
            what = "marks"
        else:
            compiled = compile_where(args.where, store.field_names())  # now also: no such field
            if compiled is None:
                return Exit.USAGE
            if to_stdout:
                n = write_view(store, compiled, fmt, sys.stdout)
            else:
                n = export_view(store, compiled, fmt, args.output, overwrite=args.force)
            what = "rows"
    except BrokenPipeError:
        raise  # `-o - | head`: the reader has what it wanted (`cli.main`: status 0, as every command)
    except OSError as exc:
        print(f"evtx-explorer: {os_message(exc)}", file=sys.stderr)
        return worst(status, output_status(exc))
    print(f"wrote {n} {what} to {'stdout' if to_stdout else args.output}", file=sys.stderr)
    return status
