"""Where the correlation build and its writer hold memory, step by step (not a timed test).

    python -m bench.build_steps --store X.sqlite --db /tmp/copy.sqlite [--top 8]

`--store` (a loaded store, e.g. one of `bench/out/big-100mb.evtx`; read, never written) is copied
to `--db`; the model is built from the copy as the app builds it (`model_from_store`), then the
correlation tables and every view are written as the app's background writer does
(`ModelCache._write_tables`). Everything runs under `tracemalloc`: per step (the scan's feed,
the 4672s, the session answers, the facts' index, `CorrelationModel(scan)`, the attached events,
the instances and links written, each view's rows made and written) the traced size after it and
its peak during it, in MB, with the `--top` lines holding most at the step's end. A step's peak
is what the app's RSS follows (tracemalloc slows the run about threefold: no times here).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _where(frame: tracemalloc.Frame) -> str:
    return f"{'/'.join(frame.filename.rsplit('/', 2)[-2:])}:{frame.lineno}"


def _mb(n: int) -> float:
    return round(n / 2**20, 1)


class Steps:
    """Notes the traced memory at the end of each wrapped call (and its peak since the last note)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.rows: list[dict[str, Any]] = []

    def note(self, step: str) -> None:
        now, peak = tracemalloc.get_traced_memory()
        row: dict[str, Any] = {"step": step, "after_mb": _mb(now), "peak_mb": _mb(peak)}
        if self.top:
            stats = tracemalloc.take_snapshot().statistics("lineno")[:self.top]
            row["top"] = [f"{s.size / 2**20:6.1f} MB {s.count:>9,} {_where(s.traceback[0])}" for s in stats]
        tracemalloc.reset_peak()
        self.rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    def wrap(self, owner: Any, name: str, step: str | Callable[..., str]) -> None:
        real = getattr(owner, name)

        @functools.wraps(real)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            self.note(step(*args, **kwargs) if callable(step) else step)
            return out

        setattr(owner, name, wrapper)


def run(db: Path, top: int) -> list[dict[str, Any]]:
    import tui.model_cache as mc
    from core.correlate import facts, model, scan, sessions
    from core.store import correlation_tables
    from tui.model_cache import ModelCache
    from tui.view_builders import all_view_builders

    steps = Steps(top)
    steps.wrap(scan.Scan, "feed", "scan's feed (Scan.feed)")
    steps.wrap(sessions.SessionTracker, "finish_privileges", "4672s attached (finish_privileges)")
    steps.wrap(facts.FactsTable, "assign_session_spans", "session answers (assign_session_spans)")
    steps.wrap(facts.FactsTable, "finish", "facts' store-id index (FactsTable.finish)")
    steps.wrap(model.CorrelationModel, "__init__", "CorrelationModel(scan)")
    steps.wrap(model.CorrelationModel, "attach_events", "attached events: the model held")
    steps.wrap(correlation_tables, "write_instances", "instances and links written (write_instances)")
    steps.wrap(mc, "write_views", lambda _store, built, *_: f"view {'/'.join(built)} rows made and written")
    tracemalloc.start(1)
    steps.note("start")
    cache = ModelCache()
    built = cache.model(db, True)
    cache._write_tables(db, all_view_builders())  # noqa: SLF001 - what the app's background writer runs
    steps.note("tables written (model still held)")
    del built
    return steps.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="a loaded store (read only)")
    parser.add_argument("--db", type=Path, required=True, help="the copy to build from and write into")
    parser.add_argument("--top", type=int, default=0, metavar="N", help="the N lines holding most per step")
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(args.store, args.db)
    rows = run(args.db, args.top)
    print(json.dumps([{k: v for k, v in r.items() if k != "top"} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
