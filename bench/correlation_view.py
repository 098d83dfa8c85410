"""What `c` (the Correlation view) takes on a reopened log: from `c` to the tree (not a timed test).

    python -m bench.correlation_view [--lines 250000] [--db PATH]

Builds `bench/line_trees.py`'s synthetic log (`--lines` process handles, each a 4656, 4663,
4690 and 4658: 250,000 lines are a million events), writes its correlation tables as the app
does once a view has shown the model, then opens the Correlation view of a 4690 in a fresh
process, as a reopen does: once reading the tree stored with the log, once building the model
(what every reopen did before the trees were read from the store). Reports both times and the
peak RSS of each process. `--db` keeps the store there (built once, reused).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _build(db: Path, lines: int) -> dict[str, float]:
    from lxml import etree

    from bench.line_trees import events
    from core.store.store import Store
    from parsers.xml_to_event import event_from_element, safe_parser
    from tui.model_cache import ModelCache
    from tui.view_builders import all_view_builders

    t0 = time.perf_counter()
    xml_parser = safe_parser()
    with Store(db) as store:
        store.add_source("synthetic.xml", "xml")
        batch = []
        for number, doc in enumerate(events(lines), 1):
            batch.append(event_from_element(etree.fromstring(doc.encode(), xml_parser), source=0,
                                            record_number=number, locator=number))
            if len(batch) >= 50_000:
                store.add_events(batch)
                batch = []
        store.add_events(batch)
        store.build_indexes()
        store.set_meta("complete", "1")
    t1 = time.perf_counter()
    builders = all_view_builders()
    cache = ModelCache()
    for name in builders:
        cache.stored_view(db, True, name, builders, wait=True)
    return {"store_s": round(t1 - t0, 1), "tables_s": round(time.perf_counter() - t1, 1)}


async def _open(db: Path, store_id: int) -> dict[str, object]:
    from tests.app.story import Harness
    from tui.correlation import CorrelationScreen
    from tui.nav_tree import NavTree

    t0 = time.perf_counter()
    app = Harness(db, lambda ws: CorrelationScreen(ws, store_id))
    async with app.run_test(size=(160, 48)) as pilot:
        while True:
            status = str(app.screen.query_one("#view-status").render())
            tree = app.screen.query_one(NavTree)
            if not status.startswith(("reading", "building")) and not tree.filling:
                break
            if time.perf_counter() - t0 > 600:
                raise SystemExit("no tree after 600 s")
            await pilot.pause(0.01)
        return {"c_to_tree_s": round(time.perf_counter() - t0, 2), "status": status,
                "nodes": len(list(tree.walk())), "model_built": app.workspace.models.peek_model() is not None}


def _child(db: Path, store_id: int, model: bool) -> None:
    if model:  # as before: the stored tree is not looked at
        import tui.correlation

        tui.correlation.stored_correlation = lambda *_a: None
    out = asyncio.run(_open(db, store_id))
    # VmHWM, not ru_maxrss: Linux keeps the latter across exec (the parent's, when it built the store).
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    out["peak_rss_mb"] = round(int(hwm.split()[1]) / 1024)
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=250_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/evtx-correlation-view.sqlite"))
    parser.add_argument("--child", choices=("stored", "model"))
    parser.add_argument("--store-id", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        _child(args.db, args.store_id, args.child == "model")
        return 0
    from core.store.store import Store

    out: dict[str, object] = {}
    if not args.db.exists():
        out.update(_build(args.db, args.lines))
    with Store(args.db, readonly=True) as store:
        out["events"] = store.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        # A 4690 from the middle of the log.
        dups = [int(r[0]) for r in store.conn.execute("SELECT id FROM events WHERE event_id = 4690 ORDER BY id")]
    store_id = dups[len(dups) // 2]
    out["store_id"] = store_id
    for way in ("stored", "model"):
        run = subprocess.run([sys.executable, "-m", "bench.correlation_view", "--db", str(args.db), "--child", way,
                              "--store-id", str(store_id)], cwd=ROOT, capture_output=True, text=True, check=True)
        out[way] = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
