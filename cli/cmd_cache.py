"""`evtx-explorer cache [--clear]`: where the cache lives, how big it is; clear it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.exit_codes import Exit
from core.store.cache import cache_dir, clear_cache


def register(sub: Any) -> None:
    parser = sub.add_parser("cache", help="show or clear the parsed-log cache")
    parser.add_argument("--clear", action="store_true", help="delete every cached database")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    directory = cache_dir()
    if args.clear and (directory.is_dir() or not directory.exists()):
        clear_cache()
        print(f"cleared {directory}")
        return Exit.OK
    if directory.exists() and not directory.is_dir():
        print(f"evtx-explorer cache: {directory} is not a directory: the cache is not used", file=sys.stderr)
        return Exit.OUTPUT_FAILED if args.clear else Exit.OK
    # (a committed entry leaves a link at its first name: one database, counted once)
    dbs = sorted(p for p in directory.glob("*.sqlite") if not p.is_symlink()) if directory.exists() else []
    size = sum(p.stat().st_size for p in dbs)
    print(f"{directory}: {len(dbs)} databases, {size / 1e6:.1f} MB")
    return Exit.OK
