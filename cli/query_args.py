"""The `--where QUERY` option the commands share: compiled once for its syntax before the inputs
load (a typo exits 2 at once, not after a minute of parsing), and again against the store's
field names once they are known (`usr:alice` exits 2 naming `user`, instead of printing nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from typing import Any

from cli.common import open_store, report_input_errors
from cli.exit_codes import Exit
from core.query.compile import QueryError, compile_query
from core.store.filter import Filter
from core.store.store import Store


class HelpQuery(argparse.Action):
    """`--help-query`: print the query language reference and exit 0, like `--help`."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from core.query.reference import query_reference

        print(query_reference())
        parser.exit(0)


def add_where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--where", default="", help="filter, e.g. '4688 image:*rundll32* -host:DC01' "
                        "(--help-query: the query language)")
    parser.add_argument("--help-query", action=HelpQuery, help="show the query language reference and exit")


def compile_where(text: str, fields: Collection[str] | None = None) -> Filter | None:
    """The compiled query, or None after printing the error and a caret under its position."""
    try:
        return compile_query(text, fields)
    except QueryError as exc:
        print_query_error(text, exc)
        return None


#: Characters of the query shown on each side of a bad query's culprit (a query may be 10,000).
QUERY_CONTEXT = 60


def print_query_error(text: str, exc: QueryError) -> None:
    """The error, then the query with a caret under the culprit: the part of it around the
    culprit when it is long (`...` where cut), so that a huge query is not echoed whole."""
    print(f"evtx-explorer: bad query: {exc}", file=sys.stderr)
    at = max(0, min(exc.position, len(text)))
    start, end = max(0, at - QUERY_CONTEXT), min(len(text), at + QUERY_CONTEXT)
    head = "..." if start else ""
    shown = f"{head}{text[start:end]}{'...' if end < len(text) else ''}"
    print(f"  {shown}\n  {' ' * (len(head) + at - start)}^", file=sys.stderr)


def load_filtered(args: argparse.Namespace, text: str) -> tuple[Store, Filter, Exit] | None:
    """The inputs loaded and the filter `text` compiled against their field names, with the
    status of the load (INPUT_UNREADABLE when an input could not be read); None after printing
    why the query is bad. The syntax is checked before anything loads: a typo must not cost a
    full parse, and a field name that is not there (`usr:alice`) once the store knows its names."""
    if compile_where(text) is None:
        return None
    store = open_store(args)
    status = report_input_errors(store, args)
    compiled = compile_where(text, store.field_names())
    return None if compiled is None else (store, compiled, status)
