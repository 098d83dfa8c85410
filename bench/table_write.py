"""Benchmark of the correlation tables' writer (not a timed test): what a first open writes in
the background once the model is built.

    python -m bench.table_write --db /tmp/tw.sqlite [--events 1000000] [--profile 30] [--digest] [--store X]

The cached `bench/churn.py` store of `--events` events (built once, like
`bench/correlation_views.py` does) is copied to `--db` (never written itself); the model is built
from the copy (not timed as the writer's), then `ModelCache._write_tables` writes every
correlation table and every view of `tui.view_builders`, as the app's background writer does.
Prints the writer's wall and CPU time and its parts: the instance rows (`write_instances`),
per view the building of its rows and their writing (`write_views`: in all, and per view), then
the links (`write_links`), and the time the cyclic garbage collector took meanwhile, per generation.
`--profile N` prints the N functions of most own time (cProfile: slower, so its figures are not
the run's). `--digest` prints a digest of every correlation table and of the tables' `meta` keys
(rows in key order), so that a change to the writer can show it writes the same bytes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import pstats
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import _base  # noqa: E402

#: The tables the writer fills, and how their rows are ordered for the digest.
DIGESTED = {
    "corr_process": "idx", "corr_handle": "idx", "corr_session": "idx", "corr_reason": "id",
    "corr_link": "rowid", "corr_node": "tree, id", "corr_row": "list, pos", "corr_tnode": "id",
    "corr_tedge": "parent, pos", "corr_etree": "store_id",
}


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def digests(db: Path) -> dict[str, str]:
    """A digest of each correlation table's rows (and of the writer's `meta` keys), in key order."""
    out: dict[str, str] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        queries = {name: f"SELECT {'rowid, ' if order == 'rowid' else ''}* FROM {name} ORDER BY {order}"
                   for name, order in DIGESTED.items()}
        queries["meta"] = "SELECT key, value FROM meta WHERE key LIKE 'correlation%' ORDER BY key"
        for name, sql in queries.items():
            h = hashlib.blake2b(digest_size=8)
            rows = 0
            for row in conn.execute(sql):
                h.update(repr(row).encode())
                rows += 1
            out[name] = f"{h.hexdigest()} ({rows:,} rows)"
    return out


def run(db: Path, profile: int, profile_out: Path | None = None) -> dict[str, Any]:
    import tui.model_cache as mc
    from core.store import correlation_links, correlation_tables
    from tui.model_cache import ModelCache
    from tui.stored_views import write_views
    from tui.view_builders import all_view_builders

    spent: dict[str, float] = {}

    def timed(key: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = _clock()
            try:
                return real(*args, **kwargs)
            finally:
                w1, c1 = _clock()
                spent[f"{key}_s"] = round(spent.get(f"{key}_s", 0.0) + w1 - w0, 2)
                spent[f"{key}_cpu_s"] = round(spent.get(f"{key}_cpu_s", 0.0) + c1 - c0, 2)
        return wrapper

    cache = ModelCache()
    w0, c0 = _clock()
    model = cache.model(db, True)
    w1, c1 = _clock()
    out: dict[str, Any] = {"model_events": model.size, "model_build_s": round(w1 - w0, 1),
                           "model_build_cpu_s": round(c1 - c0, 1)}
    setattr(correlation_tables, "write_instances", timed("instances", correlation_tables.write_instances))  # noqa: B010
    def views_write(store: Any, rows: dict[str, Any], *args: Any, **kwargs: Any) -> Any:  # the total, and per view
        return timed(f"view_{'_'.join(rows)}_write", timed("views_write", write_views))(store, rows, *args, **kwargs)

    setattr(mc, "write_views", views_write)  # noqa: B010
    setattr(correlation_links, "write_links", timed("links", correlation_links.write_links))  # noqa: B010
    builders = {name: timed(f"view_{name}_build", build) for name, build in all_view_builders().items()}
    collected: dict[str, float] = {}
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:  # the cyclic collector's time, by generation
        if phase == "start":
            started[0] = time.perf_counter()
            return
        key = f"gc_gen{info['generation']}"
        collected[f"{key}_s"] = round(collected.get(f"{key}_s", 0.0) + time.perf_counter() - started[0], 3)
        collected[f"{key}_runs"] = collected.get(f"{key}_runs", 0) + 1

    gc.callbacks.append(on_gc)
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    w0, c0 = _clock()
    cache._write_tables(db, builders)  # noqa: SLF001 - what the app's background writer runs
    w1, c1 = _clock()
    if prof is not None:
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
        if profile_out is not None:
            prof.dump_stats(profile_out)
    gc.callbacks.remove(on_gc)
    out.update({"tables_written_s": round(w1 - w0, 1), "tables_written_cpu_s": round(c1 - c0, 1), **spent,
                **collected})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="the copy of the store to write into")
    parser.add_argument("--events", type=int, default=1_000_000, help="the churn store's size")
    parser.add_argument("--seed", type=int, default=18, help="the churn store's seed")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N top functions")
    parser.add_argument("--profile-out", type=Path, default=None, help="also save the profile there (pstats)")
    parser.add_argument("--digest", action="store_true", help="print a digest of every correlation table")
    parser.add_argument("--store", type=Path, default=None,
                        help="copy this loaded store (e.g. of bench/out/big-100mb.evtx) instead of the churn store")
    args = parser.parse_args()
    base = args.store or _base(argparse.Namespace(uniform=False, base=None, events=args.events, seed=args.seed))[0]
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(base, args.db)
    out = {"store": str(base), **run(args.db, args.profile, args.profile_out)}
    if args.digest:
        out["digests"] = digests(args.db)
    print(json.dumps(out, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
