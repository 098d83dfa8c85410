"""Benchmark of the model built ahead (`tui.prebuild`; not a timed test): how long after an
analyst's key the first correlation shows, with and without the prebuild.

    python -m bench.prebuild [--events 1000000] [--browse 30] [--every 1.0] [--modes prebuild,on-demand] [--stored]

Per mode, a fresh process runs the app headless on a fresh copy of the cached `bench/churn.py`
store (no correlation tables: a first open). Once the table shows its first rows, the analyst
"browses": one key (down) every `--every` seconds for `--browse` seconds; then presses `c` on the
selected event and waits for its correlation tree. Prints, per mode: when the findings and the
model were ready after the first rows (the model only with the prebuild), the correlation's
wait after `c`, the UI's longest stall and its 99th percentile while browsing (a 5 ms beat), each
browsing key's wait until the table's cursor moved onto a loaded row (median, worst), and the peak RSS.
With `--stored` the prebuild's app is then left alone until the views' tables are stored ahead
(`tables_stored_s` after the first rows), and a third process reopens the store and times each view,
then `c` on an event no list shows (its tree is not stored): until a tree shows and until the full one.
Read figures as comparisons within one run of both modes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import _base, _loadavg  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _run(db: Path, prebuild: bool, browse: float, every: float, stored: bool = False) -> dict[str, Any]:
    from textual import events

    from tui.app import EvtxApp
    from tui.correlation import CorrelationScreen
    from tui.nav_tree import NavTree

    app = EvtxApp(["bench/Security.evtx"], store_path=db, prebuild=prebuild)
    out: dict[str, Any] = {"prebuild": prebuild}
    gaps: list[float] = []
    last = [time.perf_counter()]
    started = [0.0]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if started[0]:
            if "findings_ready_s" not in out and app.workspace.findings_ready:
                out["findings_ready_s"] = round(now - started[0], 2)
            if "model_ready_s" not in out and app.workspace.models.peek_model() is not None:
                out["model_ready_s"] = round(now - started[0], 2)

    async with app.run_test(size=(160, 48)) as pilot:
        app.set_interval(0.005, beat)
        while app.table.row_at(0) is None or app.table.total is None:
            await asyncio.sleep(0.01)
        started[0] = time.perf_counter()
        gaps.clear()
        waits: list[float] = []
        while time.perf_counter() - started[0] < browse:
            before = app.table.cursor
            t0 = time.perf_counter()
            app.post_message(events.Key("down", None))  # as the terminal's driver does (Pilot waits for idle)
            while (app.table.cursor == before or app.table.selected_row() is None) and time.perf_counter() - t0 < 5:
                await asyncio.sleep(0.002)
            waits.append(time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - t0)))
        ordered = sorted(gaps)
        out["browse_max_ui_stall_ms"] = round(max(gaps, default=0) * 1000, 1)
        out["browse_p99_ui_stall_ms"] = round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1) if ordered else 0
        out["browse_key_ms_median"] = round(statistics.median(waits) * 1000, 1) if waits else None
        out["browse_key_ms_worst"] = round(max(waits) * 1000, 1) if waits else None
        out["browse_keys"] = len(waits)
        t0 = time.perf_counter()
        await pilot.press("c")
        while not (isinstance(app.screen, CorrelationScreen) and app.screen.query_one(NavTree).root.children):
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > 1800:
                raise TimeoutError("no correlation within 30 minutes")
        out["correlation_after_key_s"] = round(time.perf_counter() - t0, 2)
        out["model_ready_s"] = out.get("model_ready_s", round(time.perf_counter() - started[0], 2))
        if stored:  # the app left alone (the correlation screen open) until its tables are stored
            from tui.view_builders import STORED_VIEWS

            ws = app.workspace
            assert ws.store_path is not None
            while ws.models.writing or not ws.models.stored_all(ws.store_path, True, STORED_VIEWS):
                await asyncio.sleep(0.2)
                if time.perf_counter() - t0 > 3600:
                    raise TimeoutError("tables not stored within an hour")
            out["tables_stored_s"] = round(time.perf_counter() - started[0], 2)
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    return out


async def _reopen(db: Path) -> dict[str, Any]:
    """A second open of the store (no model built ahead): seconds each view took to show, then
    `c` on an event no list shows (`_unlisted`)."""
    from bench.view_ready import open_views
    from tui.app import EvtxApp

    app = EvtxApp(["bench/Security.evtx"], store_path=db, prebuild=False)
    async with app.run_test(size=(160, 48)) as pilot:
        while app.table.row_at(0) is None:
            await pilot.pause(0.01)
        views = await open_views(app)
        unlisted = await _unlisted(app, db)
    return {"views_s": views, **unlisted, "peak_rss_mb": round(_rss_mb(), 1)}


async def _unlisted(app: Any, db: Path) -> dict[str, Any]:
    """`c` on the store's last 4663 (no list shows a 4663: its tree is not stored) with the
    model not built: seconds until a tree shows (the links as stored, where the code shows them
    first) and until the full tree does (the model built for it)."""
    from core.store.store import Store
    from tui.correlation import CorrelationScreen
    from tui.nav_tree import NavTree

    with Store(db, readonly=True) as store:
        row = store.conn.execute("SELECT id FROM events WHERE event_id = 4663 ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return {}
    app.action_view("1")
    t0 = time.perf_counter()
    app.push_screen(CorrelationScreen(app.workspace, row[0]))
    out: dict[str, Any] = {}
    while time.perf_counter() - t0 < 1800:
        screen = app.screen
        if isinstance(screen, CorrelationScreen) and screen.query(NavTree):
            if "unlisted_first_tree_s" not in out and screen.query_one(NavTree).root.children:
                out["unlisted_first_tree_s"] = round(time.perf_counter() - t0, 3)
            if "enter: jump" in str(screen.query_one("#view-status").render()):
                out["unlisted_full_tree_s"] = round(time.perf_counter() - t0, 2)
                return out
        await asyncio.sleep(0.005)
    raise TimeoutError("no full correlation tree within 30 minutes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--browse", type=float, default=30.0, help="seconds of browsing before `c`")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between two browsing keys")
    parser.add_argument("--modes", default="prebuild,on-demand")
    parser.add_argument("--stored", action="store_true",
                        help="with the prebuild: wait until the views' tables are stored, then reopen the store "
                             "and time each view")
    parser.add_argument("--run", choices=("prebuild", "on-demand", "reopen"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "reopen":
        print(json.dumps(asyncio.run(_reopen(args.db))))
        return 0
    if args.run is not None:
        prebuild = args.run == "prebuild"
        print(json.dumps(asyncio.run(_run(args.db, prebuild, args.browse, args.every, prebuild and args.stored))))
        return 0
    shared, _ = _base(argparse.Namespace(uniform=False, base=None, events=args.events, seed=args.seed))
    out: dict[str, Any] = {"store": str(shared), "browse_s": args.browse, "every_s": args.every,
                           "loadavg_at_start": _loadavg()}
    os.environ.setdefault("EVTX_EXPLORER_DATA_DIR", tempfile.mkdtemp(prefix="evtx-bench-data-"))
    for mode in args.modes.split(","):
        db = Path(tempfile.gettempdir()) / f"evtx-explorer-bench-prebuild-{os.getpid()}.sqlite"
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        shutil.copyfile(shared, db)
        try:
            me = [sys.executable, str(Path(__file__).resolve()), "--db", str(db)]
            done = subprocess.run([*me, "--run", mode, "--browse", str(args.browse), "--every", str(args.every),
                                   *(["--stored"] if args.stored else [])],
                                  capture_output=True, text=True, cwd=ROOT, check=False)
            lines = done.stdout.strip().splitlines()
            out[mode] = json.loads(lines[-1]) if done.returncode == 0 and lines else {"failed": done.stderr[-1500:]}
            if args.stored and mode == "prebuild" and "failed" not in out[mode]:
                done = subprocess.run([*me, "--run", "reopen"], capture_output=True, text=True, cwd=ROOT, check=False)
                lines = done.stdout.strip().splitlines()
                out["reopen"] = (json.loads(lines[-1]) if done.returncode == 0 and lines
                                 else {"failed": done.stderr[-1500:]})
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        print(f"{time.strftime('%H:%M:%S')} {mode}: {json.dumps(out[mode])}", file=sys.stderr, flush=True)
    out["loadavg_at_end"] = _loadavg()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
