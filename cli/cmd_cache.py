"""`evtx-explorer cache [--clear]`: where the cache lives, how big it is; clear it."""

from __future__ import annotations

import argparse
from typing import Any

from cli.exit_codes import Exit
from core.store.cache import cache_dir, clear_cache


def register(sub: Any) -> None:
    parser = sub.add_parser("cache", help="show or clear the parsed-log cache")
    parser.add_argument("--clear", action="store_true", help="delete every cached database")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Exit:
    directory = cache_dir()
    if args.clear:
        clear_cache()
        print(f"cleared {directory}")
        return Exit.OK
    dbs = sorted(directory.glob("*.sqlite")) if directory.exists() else []
    size = sum(p.stat().st_size for p in dbs)
    print(f"{directory}: {len(dbs)} databases, {size / 1e6:.1f} MB")
    return Exit.OK
