"""Benchmark of the findings in the app (not a timed test): what holding them costs, and the view.

    python -m bench.findings_view --db STORE [--fresh] [--timeout 600]

Opens the app headless on STORE (a complete store, e.g. a copy of `bench/correlation_views.py`'s
churn store), opens no correlation view, and reports: when the table's finding markers are in
(`findings_shown_s`, from the app's start) with the process's RSS then and its peak; then `5`, the
Findings view: the time until its tree is on screen, and the RSS once it is; then `enter` on the
biggest rule's "more" line when it has one (the next page), and its time. `--fresh` removes
the findings kept with the store first (every format's), so that the rules run (in their child,
as on a first open); otherwise the findings kept by an earlier run are read back (a reopen).
One process per run: run old and new code alternately (`PYTHONPATH` for the old worktree).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import correlation_views  # noqa: E402


def _cpu(children: bool = False) -> float:
    return round(correlation_views._cpu(children), 2)


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _forget(db: Path) -> None:
    """Drop the findings kept with the store (any code's tables), so that the rules run."""
    with sqlite3.connect(db) as conn:
        for table in ("findings_rows", "findings_results"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()


async def _run(db: Path, timeout: float) -> dict[str, Any]:
    from textual.widgets import Static

    from tui.app import EvtxApp
    from tui.nav_tree import NavTree

    out: dict[str, Any] = {"code": str(Path(sys.modules["tui.app"].__file__ or "").parents[1])}
    app = EvtxApp(["bench/Security.evtx"], store_path=db)
    started = time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.workspace.findings_ready:
            await asyncio.sleep(0.01)
            if time.perf_counter() - started > timeout:
                raise TimeoutError("findings")
        out["findings_shown_s"] = round(time.perf_counter() - started, 2)
        out["cpu_s_until_findings"] = _cpu(children=True)
        out["rss_at_findings_mb"] = _rss_mb()
        out["peak_at_findings_mb"] = _peak_mb()
        out["flagged_events"] = len(app.table.findings)
        await pilot.pause(0.5)
        cpu0, t0 = _cpu(), time.perf_counter()
        app.action_view("5")
        while True:
            screen = app.screen
            status = screen.query("#view-status")
            text = str(status.first(Static).render()) if status else ""
            trees = screen.query(NavTree)
            if text and not text.startswith("running the findings") and trees and not trees.first().filling:
                break
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("findings view")
        out["findings_view_s"] = round(time.perf_counter() - t0, 2)
        out["findings_view_cpu_s"] = round(_cpu() - cpu0, 2)
        out["status"] = text[:100]
        tree = trees.first()
        out["tree_nodes"] = sum(1 for _ in tree.walk())
        await pilot.pause(0.3)
        out["rss_view_mb"] = _rss_mb()
        more = next((n for n in tree.walk() if str(n.label).startswith("... more")), None)
        if more is not None:
            parent = more.parent
            before = len(parent.children) if parent is not None else 0
            if parent is not None:
                parent.expand()
            await pilot.pause(0.2)
            tree.move_cursor(more)
            await pilot.pause(0.05)
            t0 = time.perf_counter()
            await pilot.press("enter")
            while parent is not None and len(parent.children) <= before:
                await asyncio.sleep(0.005)
                if time.perf_counter() - t0 > 30:
                    raise TimeoutError("more")
            out["next_page_s"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_mb"] = _peak_mb()
    out["cpu_total_s"] = _cpu()
    out["cpu_children_s"] = round(_cpu(children=True) - _cpu(), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--fresh", action="store_true", help="drop the kept findings first (the rules run)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with sqlite3.connect(args.db) as conn:  # what an earlier run kept may still be in the write-ahead log
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()
    if args.fresh:
        _forget(args.db)
    os.chdir(ROOT)
    load = " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    result = asyncio.run(_run(args.db, args.timeout))
    result["load_before"] = load
    result["load_after"] = " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
