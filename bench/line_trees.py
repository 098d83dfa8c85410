"""What the Handles and Process access views' stored line trees cost (not a timed test).

    python -m bench.line_trees [--lines 20000]

`bench/table.py`'s synthetic store has no 4690 and no 4656 on a process, so its Handles and
Process access lists are empty and their line trees cost nothing there. This builds a store
whose lists are full instead: `--lines` process handles (4656 on a Process object, a 4663
through it, a 4690 duplicating it into another process, a 4658 closing it), opened by a
tenth as many processes (4688) to as many targets: the list views' 20,000-line cap is reached
with 80,000 correlation events. Then it writes every correlation table, as the app does once
the model is built, and reports the lines, the nodes their trees have, the nodes and bytes
stored for them (`core.store.event_trees`, deduplicated), what storing each line's tree as
its own nodes would take (the Sessions view's way, `corr_node`), the time the trees took
to write, and the time a line's tree takes to read (against building the model, which the view
needed before).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from core.store.store import Store  # noqa: E402
from parsers.xml_to_event import event_from_element, safe_parser  # noqa: E402

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
START = datetime(2024, 3, 1, tzinfo=UTC)
SUBJECT = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "HOST1$", "SubjectDomainName": "DOM",
           "SubjectLogonId": "0x3e7"}


def _xml(eid: int, rid: int, ms: int, data: dict[str, str]) -> str:
    when = (START + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    fields = "".join(f'<Data Name="{k}">{escape(v)}</Data>' for k, v in data.items())
    return (f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>'
            f'<EventID>{eid}</EventID><TimeCreated SystemTime="{when}"/><EventRecordID>{rid}</EventRecordID>'
            f'<Channel>Security</Channel><Computer>HOST1</Computer></System><EventData>{fields}</EventData></Event>')


def _image(n: int) -> str:
    return f"C:\\Program Files\\App{n % 97}\\tool{n}.exe"


def events(lines: int) -> Iterator[str]:
    """The synthetic log (see the module docstring), in time order."""
    procs = max(2, lines // 10)
    rid = ms = 0

    def nxt() -> tuple[int, int]:
        nonlocal rid, ms
        rid, ms = rid + 1, ms + 7
        return rid, ms

    for p in range(procs):
        r, t = nxt()
        yield _xml(4688, r, t, {**SUBJECT, "NewProcessId": hex(0x1000 + 4 * p), "NewProcessName": _image(p),
                                 "TokenElevationType": "%%1936", "ProcessId": "0x2c0",
                                 "CommandLine": f"{_image(p)} --job {p}", "ParentProcessName":
                                 "C:\\Windows\\System32\\services.exe", "MandatoryLabel": "S-1-16-16384"})
    for i in range(lines):
        src, dst = i % procs, (i * 7 + 1) % procs
        handle = hex(0x40 + 4 * (i // procs))
        common = {**SUBJECT, "ObjectServer": "Security", "HandleId": handle, "ProcessId": hex(0x1000 + 4 * src),
                  "ProcessName": _image(src)}
        r, t = nxt()
        yield _xml(4656, r, t, {**common, "ObjectType": "Process", "ObjectName": _image(dst),
                                 "AccessMask": "0x1010", "AccessList": "%%4484"})
        r, t = nxt()
        yield _xml(4663, r, t, {**common, "ObjectType": "Process", "ObjectName": _image(dst),
                                 "AccessMask": "0x10", "AccessList": "%%4484"})
        r, t = nxt()
        yield _xml(4690, r, t, {**SUBJECT, "SourceHandleId": handle, "SourceProcessId": hex(0x1000 + 4 * src),
                                 "TargetHandleId": hex(0x80000 + 4 * i), "TargetProcessId": hex(0x1000 + 4 * dst)})
        r, t = nxt()
        yield _xml(4658, r, t, common)


def _sizes(store: Store) -> dict[str, int]:
    return {str(name): int(size) for name, size in
            store.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    from core.correlate.model import model_from_store
    from tui import stored_views
    from tui.model_cache import ModelCache
    from tui.nav_tree import MAX_TREE_NODES, ViewNode
    from tui.view_builders import all_view_builders

    db = Path(tempfile.mkdtemp(prefix="evtx-line-trees-")) / "store.sqlite"
    try:
        xml_parser = safe_parser()
        with Store(db) as store:
            store.add_source("synthetic.xml", "xml")
            batch = []
            for number, doc in enumerate(events(args.lines), 1):
                batch.append(event_from_element(etree.fromstring(doc.encode(), xml_parser), source=0,
                                                record_number=number, locator=number))
            store.add_events(batch)
            store.build_indexes()
            store.set_meta("complete", "1")
        spent: dict[str, float] = {}
        real = stored_views.write_event_trees

        def timed(*a: Any) -> bool:
            t0 = time.perf_counter()
            try:
                return real(*a)
            finally:
                spent["trees_s"] = spent.get("trees_s", 0.0) + time.perf_counter() - t0

        stored_views.write_event_trees = timed  # type: ignore[assignment]  # (what write_views calls)
        builders = all_view_builders()
        t0 = time.perf_counter()
        cache = ModelCache()
        for name in builders:
            cache.stored_view(db, True, name, builders, wait=True)
        out: dict[str, Any] = {"events": len(batch), "tables_s": round(time.perf_counter() - t0, 1),
                               "event_trees_write_s": round(spent.get("trees_s", 0.0), 1)}
        model = cache.model(db, True)
        with Store(db) as store:
            sizes = _sizes(store)
            trees = ("corr_tnode", "corr_tedge", "corr_etree")
            lines = shown = 0
            naive: list[Any] = []
            for name in ("handles", "process_access"):
                built = builders[name](model)
                for row in built.rows or ():
                    stored = store.get(row.store_id) if row.store_id is not None else None
                    if stored is None:
                        continue
                    roots = built.event_tree(stored) if built.event_tree is not None else []
                    lines += 1
                    naive.append(ViewNode("line", children=tuple(roots)))
                    stack = list(roots)
                    while stack:
                        node = stack.pop()
                        shown += 1
                        stack.extend(node.children)
            out.update(lines=lines, nodes_in_line_trees=shown,
                       nodes_stored=store.conn.execute("SELECT count(*) FROM corr_tnode").fetchone()[0],
                       edges_stored=store.conn.execute("SELECT count(*) FROM corr_tedge").fetchone()[0],
                       event_trees_mb=round(sum(sizes.get(t, 0) for t in trees) / 1e6, 2),
                       all_correlation_tables_mb=round(
                           sum(v for k, v in sizes.items() if k.startswith("corr_")) / 1e6, 1),
                       store_mb=round(db.stat().st_size / 1e6, 1))
            every = max(1, lines // 400)
            sample = [row.store_id for name in ("handles", "process_access")
                      for row in (builders[name](model).rows or ())[::every] if row.store_id is not None]
            t0 = time.perf_counter()
            for store_id in sample:
                stored_views.load_event_tree(store, store_id, MAX_TREE_NODES)
            out["tree_read_ms_per_line"] = round((time.perf_counter() - t0) * 1000 / max(1, len(sample)), 2)
            t0 = time.perf_counter()
            model_from_store(store)
            out["model_build_s_instead"] = round(time.perf_counter() - t0, 1)
            before = _sizes(store).get("corr_node", 0)
            stored_views.write_views(store, {"naive_line_trees": stored_views.ViewRows(tree=iter(naive), rows=[])})
            out["as_one_tree_per_line_mb"] = round((_sizes(store).get("corr_node", 0) - before) / 1e6, 1)
    finally:
        shutil.rmtree(db.parent, ignore_errors=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
