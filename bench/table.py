"""Benchmark of the event table on a big store (not a timed test): open, jump to end, filter.

    python -m bench.table [--events 1000000] [--db PATH] [--sort COLUMN [--descending]] [--field NAME]
                          [--no-views]

Builds (once, reused when present) a synthetic store of N events, opens the app headless on
it and measures, for each action: the latency until the rows are on screen, and the longest
the UI thread stalled meanwhile (a 5 ms heartbeat timer on the app: the "UI time" a user
feels as a freeze). Also the process's peak RSS, to compare across N: it must not grow with
the row count (only the visible pages are in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model.rows import encode_tuples, new_postings, postings_text, store_id  # noqa: E402
from core.store import schema  # noqa: E402
from core.store.store import Store  # noqa: E402

BASE_TS = 133_500_000_000_000_000
KINDS = (
    (4688, [("NewProcessName", "C:\\Windows\\System32\\cmd.exe"), ("NewProcessId", "0x1a2c"),
            ("ProcessId", "0x2bc"), ("CommandLine", "cmd.exe /c whoami")]),
    (4689, [("ProcessName", "C:\\Windows\\System32\\cmd.exe"), ("ProcessId", "0x1a2c"), ("Status", "0x0")]),
    (4624, [("TargetUserName", "dadmin"), ("LogonType", "2"), ("IpAddress", "127.0.0.1")]),
    (4663, [("ObjectName", "C:\\secret.txt"), ("HandleId", "0x438"), ("ProcessId", "0x2bc")]),
)


def build_store(path: Path, n: int) -> None:
    """A store of `n` events written straight through SQL (fast), indexed like a real one."""
    if path.exists():
        return
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with Store(tmp) as store:
        store.add_source("bench/Security.evtx", "evtx")

        def events() -> Iterator[tuple[int, tuple[Any, ...]]]:
            for i in range(n):
                eid, data = KINDS[i % len(KINDS)]
                if i % 100_000 == 99_999:
                    data = [*data, ("Marker", "needle")]
                # Slightly out of order (as wrapped logs are): time jitters around file order.
                ts = BASE_TS + i * 10_000_000 + ((i * 7919) % 13) * 1_000_000
                fields = (0, i + 1, 1000 + i, ts, eid, 0, 0, 0, 0, "0x8020000000000000", "Security",
                          "Microsoft-Windows-Security-Auditing", "WS01.corp", 4, 8, None, tuple(data), i + 1)
                yield store_id(0, i + 1), fields

        batch: list[tuple[int, tuple[Any, ...]]] = []
        for item in events():
            batch.append(item)
            if len(batch) == 50_000:
                postings = new_postings()
                store.add_rows(encode_tuples(batch, postings), postings_text(postings))
                batch = []
        postings = new_postings()
        store.add_rows(encode_tuples(batch, postings), postings_text(postings))
        store.finish_source(0, records=n, parse_issues=0, error=None)
        store.build_indexes()
        store.set_meta("complete", "1")
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.rename(path)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def user_columns(sort: str | None, fields: list[str], descending: bool) -> None:
    """Start the app with these columns (`tui.column_settings`, a private config dir): a sort
    (a column key, `field:NAME` for an EventData field) and EventData field columns."""
    from tui import column_settings as cs

    os.environ["EVTX_EXPLORER_CONFIG_DIR"] = tempfile.mkdtemp(prefix="evtx-bench-config-")
    settings = cs.ColumnSettings()
    for name in fields:
        settings.add_field(name)
    if sort is not None:
        if cs.sort_of(sort, descending) is None:
            raise SystemExit(f"not a sortable column: {sort}")
        settings.sort_key, settings.descending = sort, descending
    cs.save(settings)


async def measure(db: Path, settle: bool = False, views: bool = True) -> dict[str, Any]:
    from tui.app import EvtxApp

    app = EvtxApp(["bench/Security.evtx"], store_path=db)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    results: dict[str, Any] = {}

    async def timed(name: str, action: Callable[[], Any], done: Callable[[], bool], pilot: Any,
                    shown: Callable[[], bool] | None = None) -> None:
        """Time `action` until `done` (and, as `first_rows_ms`, until `shown`, if given)."""
        await pilot.pause(0.2)
        gaps.clear()
        last[0] = t0 = time.perf_counter()
        result = action()
        if asyncio.iscoroutine(result):
            await result
        call_ms = (time.perf_counter() - t0) * 1000
        first: float | None = None
        while not done():
            if first is None and shown is not None and shown():
                first = time.perf_counter()
            await asyncio.sleep(0.001)
            if time.perf_counter() - t0 > 60:
                raise TimeoutError(name)
        end = time.perf_counter()
        latency = (end - t0) * 1000
        await pilot.pause(0.05)
        results[name] = {
            "action_ms": round(call_ms, 1),
            "rows_on_screen_ms": round(latency, 1),
            "max_ui_stall_ms": round(max(gaps, default=0) * 1000, 1),
            "peak_rss_mb": round(rss_mb(), 1),
        }
        if shown is not None:
            results[name]["first_rows_ms"] = round(((first or end) - t0) * 1000, 1)

    t_start = time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:
        app.set_interval(0.005, beat)
        table = app.table
        while table.row_at(0) is None:
            await asyncio.sleep(0.001)
        results["open"] = {"first_rows_ms_since_app_start": round((time.perf_counter() - t_start) * 1000, 1)}
        while table.total is None:
            await asyncio.sleep(0.001)
        total = table.total
        results["events"] = total
        if settle:  # measure with the background analysis (findings) finished
            t_settle = time.perf_counter()
            while not app.workspace.findings_ready:
                await asyncio.sleep(0.01)
            results["findings_s"] = round(time.perf_counter() - t_settle, 1)

        await timed("jump_to_end", table.action_bottom,
                    lambda: table.cursor == total - 1 and table.row_at(total - 1) is not None, pilot)
        await timed("jump_to_top", table.action_top, lambda: table.row_at(0) is not None
                    and table.cursor == 0, pilot)
        await timed("filter_eventid", lambda: app.set_filter("4689"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot,
                    shown=lambda: "event_id" in table.view.filter.sql and table.row_at(0) is not None)
        results["filter_eventid"]["matches"] = table.total
        await timed("filtered_jump_to_end", table.action_bottom,
                    lambda: table.total is not None and table.cursor == table.total - 1
                    and table.row_at(table.cursor) is not None, pilot)
        await timed("filter_free_text", lambda: app.set_filter("needle"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot)
        results["filter_free_text"]["matches"] = table.total
        # Free text held by half the events (`core.query.first_terms`: its first page before its set).
        await timed("filter_free_text_common", lambda: app.set_filter("cmd.exe"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot,
                    shown=lambda: "%cmd.exe%" in table.view.filter.params and table.row_at(0) is not None)
        results["filter_free_text_common"]["matches"] = table.total
        await timed("filter_field_rare", lambda: app.set_filter("Marker:needle"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot,
                    shown=lambda: "marker" in table.view.filter.params and table.row_at(0) is not None)
        results["filter_field_rare"]["matches"] = table.total
        # A value held by a quarter of the events: its first page comes before its id set
        # (`core.store.first_listed`), its count after.
        await timed("filter_field_common", lambda: app.set_filter("handle:0x438"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot,
                    shown=lambda: "handleid" in table.view.filter.params and table.row_at(0) is not None)
        results["filter_field_common"]["matches"] = table.total
        # The reader makes the view's marks while idle (core.query.marks: about one walk of the
        # store, 0.3-0.5 s per million events): a user's jump a few seconds after filtering.
        await pilot.pause(max(1.0, total / 2_000_000))
        await timed("filtered_jump_to_middle", lambda: table.move_to((table.total or 0) // 2),
                    lambda: table.row_at(table.cursor) is not None, pilot)
        # The same events as an EventID and a field (`core.query.first_terms`): each term an id set.
        await timed("filter_eventid_and_field", lambda: app.set_filter("4663 ObjectName:C:\\secret.txt"),
                    lambda: table.total is not None and table.row_at(0) is not None, pilot,
                    shown=lambda: "objectname" in table.view.filter.params and table.row_at(0) is not None)
        results["filter_eventid_and_field"]["matches"] = table.total
        await timed("clear_filter", lambda: app.set_filter(""),
                    lambda: table.total == total and table.row_at(0) is not None, pilot,
                    shown=lambda: table.view.matches_all and table.row_at(0) is not None)
        # A jump to one event (from a correlation tree, a mark, `n`): its page is read around it.
        target_pos = total * 3 // 10
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            target = conn.execute("SELECT id FROM events ORDER BY ts, record_id, id LIMIT 1 OFFSET ?",
                                  (target_pos,)).fetchone()[0]
        def on_target() -> bool:
            row = table.row_at(table.cursor)
            return row is not None and row.id == target

        await timed("jump_to_event", lambda: table.goto_event(target), on_target, pilot)
        await timed("jump_to_middle", lambda: table.move_to(total // 2),
                    lambda: table.row_at(table.cursor) is not None, pilot)
        await timed("page_down", lambda: table.action_page(1),
                    lambda: table.row_at(table.cursor) is not None, pilot)
        await timed("scroll_up_a_page", lambda: table.move_to(table.cursor - 64),
                    lambda: table.row_at(table.cursor) is not None, pilot)
        if table.sort is not None:  # the store sorts the view again, the other way round
            flipped = table.settings
            flipped.set_sort(flipped.sort_key or "time")
            await timed("sort_flip", lambda: table.set_settings(flipped),
                        lambda: table.row_at(table.cursor) is not None and table.total is not None, pilot)
            await timed("sorted_page_down", lambda: table.action_page(1),
                        lambda: table.row_at(table.cursor) is not None, pilot)
        results["columns"] = table.shown_columns
        if not views:
            results["peak_rss_mb"] = round(rss_mb(), 1)
            return results
        # The Processes view: the correlation model of every event, its process forest, the
        # tree filled; how long until it is all on screen, and the longest the UI stalled.
        from tui.nav_tree import NavTree

        gaps.clear()
        last[0] = t0 = time.perf_counter()
        app.action_view("2")

        def forest_shown() -> bool:
            trees = app.screen.query(NavTree)
            return bool(trees) and bool(trees.first().root.children) and not trees.first().filling

        while not forest_shown():
            await asyncio.sleep(0.01)
            if time.perf_counter() - t0 > 300:
                raise TimeoutError("processes view")
        results["processes_view"] = {
            "shown_s": round(time.perf_counter() - t0, 1),
            "max_ui_stall_ms": round(max(gaps, default=0) * 1000, 1),
            "peak_rss_mb": round(rss_mb(), 1),
        }
    results["peak_rss_mb"] = round(rss_mb(), 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="store to build/reuse (default: under /tmp)")
    parser.add_argument("--settle", action="store_true", help="measure after the findings rules have run")
    parser.add_argument("--sort", help="sort the table by this column (time, computer, eid, field:NAME, ...)")
    parser.add_argument("--descending", action="store_true", help="with --sort: descending")
    parser.add_argument("--field", action="append", default=[], help="show this EventData field as a column")
    parser.add_argument("--no-views", action="store_true", help="skip the Processes view (a short run)")
    args = parser.parse_args()
    db = args.db or Path(tempfile.gettempdir()) / f"evtx-explorer-bench-{args.events}-v{schema.SCHEMA_VERSION}.sqlite"
    t0 = time.perf_counter()
    build_store(db, args.events)
    built = time.perf_counter() - t0
    rss_before = rss_mb()
    os.environ.setdefault("EVTX_EXPLORER_DATA_DIR", tempfile.mkdtemp(prefix="evtx-bench-data-"))
    if args.sort or args.field:
        user_columns(args.sort, args.field, args.descending)
    results = asyncio.run(measure(db, args.settle, not args.no_views))
    results["store_build_s"] = round(built, 1)
    results["rss_before_app_mb"] = round(rss_before, 1)
    with sqlite3.connect(db) as conn:
        results["store_mb"] = round(os.path.getsize(db) / 1e6, 1)
        del conn
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
