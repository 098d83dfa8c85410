"""The scan's process instances (`_Proc`, alive until the model freezes them) in less memory
(issue 18, 10M events): what they hold at the end of the scan is what the build's peak holds,
and pymalloc keeps that memory after they are freed. A name held without a dict, no list of
children until the first, bounds held as the events (`Ref`s) they are the keys of, no list of
instances per pid."""

from __future__ import annotations

import pytest

from bench.churn import build_churn_store
from core.correlate import processes
from core.correlate.facts import FactsTable
from core.correlate.processes import ProcessTracker, Ref
from core.correlate.roles import scanned_event_ids
from core.correlate.scan import Scan, scan_events, timed
from core.store.store import Store
from tests.correlate.heap import deep_size


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    db = tmp_path_factory.mktemp("churn") / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    made = Scan()
    with Store(db, readonly=True) as store, pytest.MonkeyPatch.context() as patch:
        patch.setattr(processes, "RELEASE_BATCH", 64)  # (1,024 by default: most of this small log)
        made.run(scan_events(timed(store.iter_keys_of(scanned_event_ids()))))
    return made


def test_the_scans_process_instances_cost_under_400_bytes_each(scan: Scan) -> None:
    """Measured at 20,000 churn events: 313 bytes per instance scanned with what only the
    tracker holds at the end of the scan (861 when every instance was held until then, with a
    `Ref` per event it keeps; 1,204 with a dict of names, a list of children and `(ts, order)`
    bounds each, and a list per pid). Most instances are frozen into the model's table as soon
    as their pid's next instance begins (`processes.STREAM`); those still held keep their events
    as positions in the facts table."""
    shared: set[int] = set()
    for other in (scan.facts, scan.handles, scan.sessions, scan.access, scan.procs._table):
        deep_size(other, shared)
    procs = scan.procs.procs
    # The handles' indices in `handles` lists: the handle tracker's too while it held every instance.
    shared.update(id(i) for p in procs if p is not None for i in p.handles)
    assert len(procs) > 1000
    per_instance = deep_size(scan.procs, shared)[0] / len(procs)
    assert per_instance < 400, per_instance
    held = [p for p in procs if p is not None]
    assert len(held) < 0.6 * len(procs)  # 498 of 1,128 here: the rest frozen during the scan
    assert sum(p.children is None for p in held) > len(held) // 2
    assert all(isinstance(p.names, tuple) for p in held)  # one name each in this log: no dict
    assert all(type(p.first_seen) is int and (p.end is None or type(p.end) is int) for p in held)


def test_names_and_bounds_read_as_before() -> None:
    tracker = ProcessTracker()
    first, second, third = (Ref(i, 10 + i, 4663, 1000 * i, 1000 * i, i) for i in (1, 2, 3))
    idx, _ = tracker.resolve("pc", "PC", 0x44, first, name="C:\\a.exe")
    tracker.resolve("pc", "PC", 0x44, second, name="C:\\Other\\A.EXE")  # the same key: not a new name
    proc = tracker.procs[idx]
    assert proc.names == ("a.exe", "C:\\a.exe", first) and proc.named() == (("C:\\a.exe", first),)
    # Only keys are looked up (`name_key`: a name equal to one is its own key).
    assert "a.exe" in proc.names and "b.exe" not in proc.names and "other" not in proc.names
    tracker.resolve("pc", "PC", 0x44, third, name="b.exe")
    assert proc.named() == (("C:\\a.exe", first), ("b.exe", third)) and "b.exe" in proc.names
    tracker.exit(idx, third)
    assert proc.end is third and proc.end.key == (3000, 3)
    (frozen,) = tracker.finish(FactsTable())  # holding none of these events: kept as themselves
    assert frozen.end == (3000, 3) and frozen.start is None and [n for n, _ in frozen.names] == ["C:\\a.exe", "b.exe"]
    assert frozen.children == () and frozen.confidence == "ambiguous"

