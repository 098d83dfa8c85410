"""Where the first open's memory goes after the model build (not a timed test).

    python -m bench.first_peak --db /tmp/fp.sqlite [--events 1000000] [--trace 12]

The cached `bench/churn.py` store is copied to `--db`; the model is built, then the correlation
tables are written as the app's background writer does (`ModelCache._write_tables`, every view of
`tui.view_builders`). Prints the process's RSS (now and peak, from /proc) after the build and
after each view's rows are built and written, with what Python's small-object allocator holds
(`bench/small_objects.py`). `--trace N` also traces the allocations made
after the build (`tracemalloc`, started once the model is built: the build's own are not
counted) and prints, per phase, the traced size now and at its peak and the N lines holding
most at that moment.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import _base, sqlite_mb  # noqa: E402
from bench.small_objects import small_objects  # noqa: E402


def _status() -> dict[str, float]:
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):  # file: mapped side files
                out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return out


def run(db: Path, trace: int, trim: bool = False, threads: bool = False, frames: int = 1) -> list[dict[str, Any]]:
    import tui.model_cache as mc
    from tui.model_cache import ModelCache
    from tui.view_builders import all_view_builders

    phases: list[dict[str, Any]] = []

    def note(phase: str) -> None:
        row: dict[str, Any] = {"phase": phase, **_status(), "gc_objects": len(gc.get_objects()),
                               **sqlite_mb(reset_peak=True), "small_objects": small_objects(2)}
        if trim:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
            row["VmRSS_trimmed"] = _status()["VmRSS"]
        if tracemalloc.is_tracing():
            now, peak = tracemalloc.get_traced_memory()
            row.update(traced_mb=round(now / 2**20, 1), traced_peak_mb=round(peak / 2**20, 1))
            top = tracemalloc.take_snapshot().statistics("lineno")[:trace]
            row["top"] = [f"{s.size / 2**20:7.1f} MB {s.count:>9,} {s.traceback[0].filename.rsplit('/', 2)[-1]}:"
                          f"{s.traceback[0].lineno}" for s in top]
            tracemalloc.reset_peak()
        phases.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    cache = ModelCache()
    if threads:  # as in the app: the model built in one worker thread, the tables written in another
        worker = threading.Thread(target=cache.model, args=(db, True))
        worker.start()
        worker.join()
    model = cache.model(db, True)
    note("model built")
    if trace:
        tracemalloc.start(frames)
    real_write = getattr(mc, "write_views")  # noqa: B009

    def write_views(store: Any, built: dict[str, Any], check: Any = None) -> bool:
        note(f"{'/'.join(built)} rows built")
        done = bool(real_write(store, built, check))
        note(f"{'/'.join(built)} written")
        return done

    tables: Any = getattr(mc, "correlation_tables")  # noqa: B009
    real_instances = tables.write_instances

    def write_instances(store: Any, made: Any) -> bool:
        done = bool(real_instances(store, made))
        note("instances and links written")
        return done

    setattr(mc, "write_views", write_views)  # noqa: B010
    setattr(tables, "write_instances", write_instances)  # noqa: B010
    if threads:
        writer = threading.Thread(target=cache._write_tables, args=(db, all_view_builders()))  # noqa: SLF001
        writer.start()
        writer.join()
    else:
        cache._write_tables(db, all_view_builders())  # noqa: SLF001 - what the app's background writer runs
    note("tables written")
    del model
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--trace", type=int, default=0, metavar="N")
    parser.add_argument("--frames", type=int, default=1, help="frames of each traced allocation kept")
    parser.add_argument("--threads", action="store_true", help="build and write in threads, as the app does")
    parser.add_argument("--trim", action="store_true", help="also the RSS after glibc's malloc_trim at each phase")
    args = parser.parse_args()
    base, _ = _base(argparse.Namespace(uniform=False, base=None, events=args.events, seed=args.seed))
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(base, args.db)
    print(json.dumps(run(args.db, args.trace, args.trim, args.threads, args.frames), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
