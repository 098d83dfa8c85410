"""The model's process instances in columns (issue 18, 10M events): no object per instance is
kept, ~140 bytes of heap each instead of ~630, and each `Process` read back is the one the
scan froze as an object (every field, on a churn log whose pids are reused)."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from pathlib import Path
from typing import Any

import pytest

from core.correlate import disk_array, forest, process_order, process_table, processes
from core.correlate.forest import LazyForest
from core.correlate.handle_table import HandleTable
from core.correlate.indexes import Indexes
from core.correlate.model import CorrelationModel, build_model, model_from_store
from core.correlate.process_instance import CREATED_BY_4688, Process, SysmonView
from core.correlate.process_table import LIVE_MIN, RECENT, ProcessTable
from core.correlate.processes import ProcessTracker, Ref, make_process
from core.store.store import Store
from tests.correlate.events import load, p4688
from tests.correlate.heap import deep_size, given_back
from tests.correlate.sysmon_events import sysmon


class ObjectTable(list[Process]):
    """The processes as frozen objects, as the model held them before `ProcessTable`."""

    def __init__(self, facts: Any, directory: str | None = None) -> None:
        super().__init__()
        self.facts = facts

    def append(self, *fields: Any, index: int | None = None) -> None:
        assert index is None or index == len(self)  # in index order: nothing frozen during the scan
        (computer, pid, created_at, image, command_line, parent_pid, parent, user, user_sid, logon_id, elevation,
         integrity, exited_at, replaced_by_at, start_at, end_at, first_seen_at, pre_existing, confidence, reason,
         record, names_at, children, handles, sysmon) = fields
        super().append(make_process(
            len(self), computer, pid, created_at, image, command_line, parent_pid, parent, user, user_sid,
            logon_id, elevation, integrity, exited_at, replaced_by_at, start_at, end_at, first_seen_at,
            pre_existing, confidence, CREATED_BY_4688.format(record) if reason is None else reason, names_at,
            tuple(children), tuple(handles), sysmon, self.facts))

    def seal(self) -> None:
        pass

    def release(self) -> None:
        pass


def _model(db: Path) -> CorrelationModel:
    with Store(db, readonly=True) as store:
        return model_from_store(store)


def test_the_model_keeps_no_object_per_process(churn_db: Path) -> None:
    model = _model(churn_db)
    procs = model.processes
    assert len(procs) > 500
    shared: set[int] = set()
    deep_size(model._facts, shared)
    size, held = deep_size(procs, shared, Process)
    assert held <= RECENT  # no object per instance: only the last few read are remembered
    if isinstance(procs, ProcessTable):
        size -= deep_size(procs._recent, set(shared))[0]  # that bounded window, not per instance
    assert size / len(procs) < 200, size / len(procs)  # 137 here; 634 as `Process` objects


def test_each_process_reads_as_the_object_the_scan_froze(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(churn_db)  # its instances frozen into the table as the scan goes (`processes.STREAM`)
    monkeypatch.setattr(processes, "STREAM", False)  # all at the end of the scan instead, as objects
    finish = ProcessTracker.finish  # the model frozen as objects instead, everything else alike
    # `finish` types its table as the columns' (`ProcessTable`), though it freezes into any (it asks
    # `isinstance` before reading one as columns): this stand-in of objects is none.
    monkeypatch.setattr(ProcessTracker, "finish", lambda self, facts, _=None: finish(
        self, facts, ObjectTable(facts)))  # type: ignore[arg-type]
    objects = _model(churn_db)
    assert isinstance(objects.processes, ObjectTable)
    table = model.processes
    assert len(table) == len(objects.processes)
    for made, frozen in zip(table, objects.processes, strict=True):
        assert made == frozen and made.reason == frozen.reason and made.children == frozen.children
    assert [table[i] for i in range(len(table) - 1, -1, -3)] == list(objects.processes[::-3])
    assert table == objects.processes and table[-1] == objects.processes[-1]
    # Pids reused, inferred and exited instances, children and handles: the answers read them.
    assert {p.confidence for p in table} >= {"exact", "inferred"}
    assert len({(p.computer, p.pid) for p in table}) < len(table) - 10 and sum(bool(p.handles) for p in table) > 100
    assert sum(p.exited_at is not None for p in table) > 100 and sum(bool(p.children) for p in table) > 10
    assert sum(p.reason.startswith("created by 4688 record ") for p in table) > 100
    for p, q in zip(table, objects.processes, strict=True):
        assert (p.created, p.exited, p.start, p.end, p.names, p.label) == (q.created, q.exited, q.start, q.end,
                                                                            q.names, q.label)
    assert model.process_forest(table[0].computer) == objects.process_forest(table[0].computer)
    assert model.session_processes() == objects.session_processes()
    # The forest's order, read from the columns, is the one read from the objects.
    lazy, eager = LazyForest(model), LazyForest(objects)
    assert lazy.hosts() == eager.hosts() and len(lazy.hosts()) == 3
    assert (lazy._first, lazy._next, lazy.measure()) == (eager._first, eager._next, eager.measure())
    assert isinstance(table, ProcessTable)
    assert table.counts("children") == [len(p.children) for p in objects.processes]
    assert [table.said(i) for i in range(len(table))] == [(p.confidence, p.reason) for p in objects.processes]
    for name in ("computer", "parent", "logon_id", "image", "exited_at"):
        assert table.column(name) == [getattr(p, name) for p in objects.processes]


def test_any_value_reads_back_exactly(tmp_path: Path) -> None:
    """Values a slot cannot hold (None, a Sysmon event's `Ref`, a `(ts, order)` bound, ints past
    64 bits or equal to the marks) are kept aside and read back as they were."""
    ref = Ref(7, 70, 1, 1000, 5, -1)
    sysmon = SysmonView("{guid}", ref, None, "joined", (ref,))
    rows: list[tuple[Any, ...]] = [
        ("PC", 4, None, None, None, None, None, None, None, None, None, None, None, None, None, None, 3, True,
         "inferred", "pid 4 is System", None, None, (), (), None),
        ("pc", (1 << 64) - 1, ref, "C:\\a.exe", "a b", -(1 << 63), 0, "U", "S-1", (1 << 63) + 5, "%%1936",
         "High", 12, -(1 << 63) + 1, (1000, 5), (-(1 << 62), 0), ref, False, "exact", None, 70,
         (("a.exe", ref), ("b.exe", 12)), [0], [1, 2, 3], sysmon),
        ("PC", 8, 2, "x", None, 4, None, None, None, 0x3e7, None, None, None, 9, 2, 9, 2, False, "ambiguous",
         "several names", 5, None, [], [4], None),
    ]
    table = ProcessTable(_Facts(), str(tmp_path))
    expected: list[Process] = []
    for i, row in enumerate(rows):
        table.append(*row)
        (computer, pid, created_at, image, command_line, parent_pid, parent, user, user_sid, logon_id, elevation,
         integrity, exited_at, replaced_by_at, start_at, end_at, first_seen_at, pre_existing, confidence, reason,
         record, names_at, children, handles, sysmon_view) = row
        expected.append(make_process(
            i, computer, pid, created_at, image, command_line, parent_pid, parent, user, user_sid, logon_id,
            elevation, integrity, exited_at, replaced_by_at, start_at, end_at, first_seen_at, pre_existing,
            confidence, CREATED_BY_4688.format(record) if reason is None else reason, names_at, tuple(children),
            tuple(handles), sysmon_view, table.facts))
    table.seal()
    assert list(table) == expected and [table[i] for i in (2, 0, 1, -1)] == [expected[i] for i in (2, 0, 1, -1)]
    for made, want in zip(table, expected, strict=True):
        for name in Process.__slots__:
            if name in ("children", "handles") and getattr(want, name):  # held unboxed, equal to the tuple
                assert type(getattr(made, name)) is Indexes and getattr(made, name) == getattr(want, name), name
                continue
            assert type(getattr(made, name)) is type(getattr(want, name)), name
    assert table[1].reason == "created by 4688 record 70" and table[1].pre_existing is False
    with pytest.raises(IndexError):
        table[3]


class _Facts:
    """A facts table of no events (the rows above hold positions it is never asked for)."""

    def ref(self, pos: int) -> Ref:
        raise AssertionError(pos)

    def key(self, pos: int) -> tuple[int, int]:
        raise AssertionError(pos)

    def store_id(self, pos: int) -> int:
        raise AssertionError(pos)


def test_a_process_held_is_the_one_read_again(churn_db: Path) -> None:
    """Every holder shares the one `Process` of an instance alive (as they shared the frozen
    object): the lists of the views keep thousands, one made per read would hold each many times."""
    table = _model(churn_db).processes
    assert isinstance(table, ProcessTable)
    held = [table[i] for i in range(0, len(table), 2)]
    table._recent.clear()  # past the window of the last few made
    assert all(table[i] is p for i, p in zip(range(0, len(table), 2), held, strict=True))
    del held
    table._recent.clear()
    for _ in range(40):  # bounded: what nobody holds is swept from the live map
        for i in range(len(table)):
            table[i]
        table._recent.clear()
    assert len(table._live) <= max(LIVE_MIN, 2 * len(table))


def test_forgetting_the_instances_no_longer_held_survives_a_read_from_another_thread(churn_db: Path) -> None:
    # The views' workers, the count and the tables' writer read processes at once: a read that
    # adds to the live map while another thread forgets the dead ones raised "dictionary changed
    # size during iteration". Here the addition comes from inside the pass, deterministically.
    procs = _model(churn_db).processes
    assert isinstance(procs, ProcessTable)
    held = procs[0]

    class Reader:
        """A dead entry whose check reads another process (as a thread switching in would)."""

        def __call__(self) -> None:
            assert isinstance(procs, ProcessTable)
            procs._live[len(procs) - 1] = weakref.ref(held)

    procs._live[1] = Reader()  # type: ignore[assignment]  # on purpose: a callable standing in for a weakref
    procs._sweep()
    assert procs[0] is held and 1 not in procs._live


def test_values_read_at_random_give_their_pages_back_a_chunk_at_a_time(churn_db: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each instance read at random maps up to 64 KB of the columns (the kernel's fault-around):
    a long read counts each chunk of `LOOKUPS_CHUNK` instances, short reads count together,
    toward the give-back of every side file's pages (`disk_array.touched`), same values."""
    with Store(churn_db, readonly=True) as store:
        procs = model_from_store(store).processes
    assert isinstance(procs, ProcessTable)
    picked = list(range(len(procs) - 1, -1, -3))
    expected = {name: [procs.column(name)[i] for i in picked] for name in ("pid", "start_at", "image", "names_at")}
    monkeypatch.setattr(process_table, "LOOKUPS_CHUNK", 16)
    released = given_back(monkeypatch, 16)
    for name, values in expected.items():
        before = released.count
        assert procs.values(name, picked) == values
        assert released.count - before == len(picked) // 16
    # Short reads (a sweep asks for a few at a time) count together: given back every 16 read.
    monkeypatch.setattr(disk_array.PAGER, "_touches", 0)
    before = released.count
    for n in range(0, 64, 4):
        assert procs.values("pid", picked[n:n + 4]) == expected["pid"][n:n + 4]
    assert released.count - before == 4


def test_processes_made_give_the_pages_they_read_back_a_chunk_at_a_time(churn_db: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(churn_db, readonly=True) as store:
        procs = model_from_store(store).processes
    assert isinstance(procs, ProcessTable)
    released = given_back(monkeypatch, 16)
    made = [procs[i] for i in range(0, len(procs), 3)]  # held: each one made
    assert released.count == len(made) * process_table.MADE_READS // 16
    assert [p.index for p in made] == list(range(0, len(procs), 3))


def test_the_reads_of_every_table_count_toward_one_give_back(churn_db: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The Process access list's sweep reads the facts, process and handle tables by turns: each
    counted apart, 256 reads of each (64 KB mapped each) and the pager's lag behind busy threads
    let 82 MB of side files be mapped at once at ten million events; counted together, every
    side file's pages are given back once 16 reads add up here, whichever table they read."""
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    procs, handles = model.processes, model.handles
    assert isinstance(procs, ProcessTable) and isinstance(handles, HandleTable)
    released = given_back(monkeypatch, 16)
    starts = procs.column("start_at")
    for i in range(40):  # 4 reads a turn: a process's pid, a handle's object, two facts keys
        procs.values("pid", [i])
        handles.object_name(i)
        model._facts.keys([p for p in starts[i:i + 1] if p is not None] or [0])  # noqa: SLF001 - its table
    assert released.count == 40 * 4 // 16


def test_the_forest_order_is_sorted_without_objects_per_process(churn_db: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The Processes forest sorts every process by its start: as packed ints read a chunk at a
    time, the order of the (ts, order) tuples (ties in index order), with a third of the heap."""
    model = _model(churn_db)
    table = model.processes
    assert isinstance(table, ProcessTable)
    keys = table.start_keys()
    assert len(set(keys)) < len(keys)  # ties: processes first seen at the same event
    by_tuples = sorted(range(len(table)), key=keys.__getitem__)
    assert list(table.start_order()) == by_tuples
    with monkeypatch.context() as patched:
        patched.setattr(process_order, "_by_position", lambda _table: None)  # the keys sorted themselves
        assert list(table.start_order()) == by_tuples
        patched.setattr(process_order, "ORDER_BITS", 1)  # keys that do not pack: sorted as tuples
        assert list(table.start_order()) == by_tuples
    monkeypatch.setattr(process_order, "ORDER_CHUNK", 128)  # (chunks far smaller than the log, as at 10M)
    monkeypatch.setattr(forest, "_CHUNK", 128)
    LazyForest(model)
    gc.collect()
    tracemalloc.start()
    try:
        LazyForest(model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / len(table) < 180, peak / len(table)  # ~126; 278 with a tuple of ints per process


def test_a_process_made_holds_its_handles_and_children_unboxed(churn_db: Path) -> None:
    """A busy process's handles (the Handles list's lines hold the processes of each 4690: 33 MB
    of boxed ints at ten million events) are 8 bytes each, equal to the tuple of them."""
    from tests.correlate.heap import deep_size

    with Store(churn_db, readonly=True) as store:
        procs = model_from_store(store).processes
    assert isinstance(procs, ProcessTable)
    busiest = max(range(len(procs)), key=procs.counts("handles").__getitem__)
    p = procs[busiest]
    assert len(p.handles) > 50
    assert deep_size(p.handles, set())[0] <= 9 * len(p.handles) + 150  # an array's slack: 1/16th
    assert p.handles == tuple(p.handles) and hash(p.handles) == hash(tuple(p.handles))
    parent = max(range(len(procs)), key=procs.counts("children").__getitem__)
    assert deep_size(procs[parent].children, set())[0] <= 9 * len(procs[parent].children) + 150


def _as_rows_of_each_process(model: CorrelationModel) -> None:
    """The rows read from the columns equal the generic rows of each `Process` made."""
    from core.correlate.persist import _process_rows, _rows
    from core.store.correlation_tables import PROCESS_COLUMNS

    table = model.processes
    assert isinstance(table, ProcessTable)
    fast = list(_process_rows(table))
    assert fast == list(_rows(tuple(table), PROCESS_COLUMNS))


def test_the_stored_rows_read_from_the_columns_are_those_of_the_processes(churn_db: Path) -> None:
    """The tables' writer reads the processes' rows from the columns (no `Process` made): the
    same rows as from each `Process` made, on the churn store and on a log with Sysmon (its
    instances' GUIDs and Sysmon-held events)."""
    from core.correlate import persist

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    assert len(model.processes) > persist._PROCESS_CHUNK // 4
    _as_rows_of_each_process(model)
    a_exe, b_exe = "C:\\Windows\\System32\\a.exe", "C:\\Tools\\b.exe"
    events = load(
        sysmon(1, 1, 0.0, ProcessGuid="{A}", ProcessId="100", Image=a_exe),
        p4688(2, 0.01, "0x64", a_exe, "0x4"),
        sysmon(3, 3, 1.0, ProcessGuid="{A}", ProcessId="100", Image=a_exe),
        sysmon(1, 4, 2.0, ProcessGuid="{B}", ProcessId="100", Image=b_exe),
        sysmon(5, 5, 2.5, ProcessGuid="{B}", ProcessId="100", Image=b_exe),
        sysmon(1, 6, 3.0, ProcessGuid="{C}", ProcessId="300", Image=b_exe, ParentProcessId="100"),
    )
    model = build_model(events)
    assert any(g is not None for g in model.processes.guids(range(len(model.processes))))  # type: ignore[attr-defined]
    _as_rows_of_each_process(model)
