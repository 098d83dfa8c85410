"""Benchmark of the correlation views on a big store (not a timed test): first open, reopen.

    python -m bench.correlation_views [--events 1000000] [--db PATH]

Uses the synthetic store of `bench/table.py` (copied to `--db`, default under /tmp, so that the
correlation tables written into it never touch the store other runs share). Two runs, each a
fresh process with the app headless on the store:

* `first`: the store has no correlation tables: the Processes view builds the model (and, with
  stored views, writes them), then the Handles, Sessions and Process access views are opened;
* `reopen`: the same store opened again: every view as a reopened log shows it.

For each view: the wall time until it is on screen, the CPU time of the process meanwhile (the
machine is shared: CPU time says what the work costs whatever else runs), the longest UI
stall, and the process's peak RSS; where the code has them, the time spent building the model
and writing the tables. Read figures as comparisons within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import build_store  # noqa: E402
from core.store import schema  # noqa: E402

VIEWS = (("2", "processes"), ("3", "handles"), ("4", "sessions"), ("7", "process_access"))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timers() -> dict[str, float]:
    """Wrap the model build and the tables' writes (where this code has them) with timers."""
    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, key: str) -> None:
        real = getattr(owner, name, None)
        if real is None:
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spent[key] = round(spent.get(key, 0.0) + time.perf_counter() - t0, 2)

        setattr(owner, name, wrapper)

    import tui.model_cache as mc

    timed(mc, "build_model", "model_build_s")
    timed(mc.correlation_tables if hasattr(mc, "correlation_tables") else None, "write_instances",
          "write_instances_s")
    timed(mc, "write_views", "write_views_s")
    return spent


async def _run(db: Path) -> dict[str, Any]:
    from textual.widgets import Static

    from tui.app import EvtxApp
    from tui.nav_tree import NavTree

    spent = _timers()
    app = EvtxApp(["bench/Security.evtx"], store_path=db)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    def shown() -> bool:
        screen = app.screen
        if screen is app.screen_stack[0]:
            return False
        status = screen.query("#view-status")
        if status and str(status.first(Static).render()).startswith("building"):
            return False
        trees = screen.query(NavTree)
        if len(trees) == 1 and not screen.query("DataTable"):  # a tree view: filled
            return bool(status) and not trees.first().filling
        return bool(status)

    results: dict[str, Any] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        app.set_interval(0.005, beat)
        while app.table.row_at(0) is None or app.table.total is None:
            await asyncio.sleep(0.01)
        results["rss_before_views_mb"] = round(_rss_mb(), 1)
        first_asked = time.perf_counter()
        for key, name in VIEWS:
            await pilot.pause(0.2)
            gaps.clear()
            last[0] = t0 = time.perf_counter()
            cpu0 = _cpu()
            app.action_view(key)
            while not shown():
                await asyncio.sleep(0.005)
                if time.perf_counter() - t0 > 600:
                    raise TimeoutError(name)
            results[name] = {
                "shown_s": round(time.perf_counter() - t0, 2),
                "cpu_s": round(_cpu() - cpu0, 2),
                "max_ui_stall_ms": round(max(gaps, default=0) * 1000, 1),
                "peak_rss_mb": round(_rss_mb(), 1),
            }
            status = app.screen.query("#view-status")
            results[name]["status"] = str(status.first(Static).render())[:90] if status else ""
        # The tables are written in the background once the model is built: how long after the
        # first view was asked for they are complete (a run that quits before has none).
        models = app.workspace.models
        while getattr(models, "writing", False):
            await asyncio.sleep(0.05)
        if hasattr(models, "writing"):
            results["tables_written_s_after_first_view"] = round(time.perf_counter() - first_asked, 1)
    results.update(spent)
    results["peak_rss_mb"] = round(_rss_mb(), 1)
    results["cpu_total_s"] = round(_cpu(), 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="copy of the store to use (default: under /tmp)")
    parser.add_argument("--base", type=Path, default=None, help="the synthetic store to build/reuse (default: "
                        "bench/table.py's)")
    parser.add_argument("--phase", choices=("first", "reopen"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        print(json.dumps(asyncio.run(_run(args.db))))
        return 0
    default = Path(tempfile.gettempdir()) / f"evtx-explorer-bench-{args.events}-v{schema.SCHEMA_VERSION}.sqlite"
    shared = args.base or default
    build_store(shared, args.events)
    db = args.db or Path(tempfile.gettempdir()) / f"evtx-explorer-bench-views-{os.getpid()}.sqlite"
    shutil.copyfile(shared, db)
    os.environ.setdefault("EVTX_EXPLORER_DATA_DIR", tempfile.mkdtemp(prefix="evtx-bench-data-"))
    out: dict[str, Any] = {"events": args.events}
    try:
        for phase in ("first", "reopen"):
            run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
            done = run([sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--db", str(db)],
                       capture_output=True, text=True, check=False, cwd=ROOT)
            if done.returncode:
                raise SystemExit(f"the {phase} run failed:\n{done.stderr[-3000:]}")
            out[phase] = json.loads(done.stdout.strip().splitlines()[-1])
        out["store_mb"] = round(db.stat().st_size / 1e6, 1)
        out["store_mb_without_tables"] = round(shared.stat().st_size / 1e6, 1)
    finally:
        if args.db is None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
