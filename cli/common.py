"""Pieces the headless commands share: input options, opening the store, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.store.cache import open_inputs
from core.store.store import Store


def add_input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".evtx, Event XML, JSON lines or .zip")
    parser.add_argument("--no-cache", action="store_true", help="parse again, do not read or write the cache")
    parser.add_argument("--jobs", type=int, default=None, help="EVTX decoding processes (default: one per core)")


def open_store(args: argparse.Namespace) -> Store:
    """Load (or reuse from the cache) the inputs named by the command line."""
    return open_inputs(args.files, use_cache=not args.no_cache, jobs=args.jobs)


def report_input_errors(store: Store) -> int:
    """Print each unreadable input's one-line error on stderr; 1 if there was any, else 0."""
    status = 0
    for src in store.sources():
        if src.error:
            print(f"evtx-explorer: {src.error}", file=sys.stderr)
            status = 1
    return status


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
