"""The `--where QUERY` option the commands share: compiled once for its syntax before the inputs
load (a typo exits 2 at once, not after a minute of parsing), and again against the store's
field names once they are known (`usr:alice` exits 2 naming `user`, instead of printing nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from typing import Any

from core.query.compile import Compiled, QueryError, compile_query


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


def compile_where(text: str, fields: Collection[str] | None = None) -> Compiled | None:
    """The compiled query, or None after printing the error and a caret under its position."""
    try:
        return compile_query(text, fields)
    except QueryError as exc:
        print_query_error(text, exc)
        return None


def print_query_error(text: str, exc: QueryError) -> None:
    print(f"evtx-explorer: bad query: {exc}", file=sys.stderr)
    print(f"  {text}\n  {' ' * exc.position}^", file=sys.stderr)
