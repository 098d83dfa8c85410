"""The model's handle instances in columns (issue 18, 10M events): no object per instance is
kept, ~75 bytes of heap each instead of ~380, nor during the scan an array of accesses per handle,
and each `Handle` read back is the one the scan froze."""

from __future__ import annotations

from array import array
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from core.correlate import disk_array, handle_table
from core.correlate.handle_table import RECENT, HandleTable
from core.correlate.handles import Handle, make_handle
from core.correlate.model import model_from_store
from core.correlate.roles import scanned_event_ids
from core.correlate.scan import Scan, scan_events, timed
from core.store.store import Store
from tests.correlate.heap import deep_size, given_back, reachable


def test_the_model_keeps_no_object_per_handle(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    shared: set[int] = set()
    deep_size(model._facts, shared, Handle)
    size, held = deep_size(model.handles, shared, Handle)
    assert len(model.handles) > 1000
    assert held == 0  # nothing read yet: no `Handle` made, none kept
    # 75 here; 185 with the texts in lists of strings (24 bytes a handle and their growth step),
    # 376 as `Handle` objects
    assert size / len(model.handles) < 120, size / len(model.handles)
    for i in range(0, len(model.handles), 7):
        model.handles[i]
    assert deep_size(model.handles, set(shared), Handle)[1] <= RECENT  # those read: a bounded few remembered


def _scanned(db: Path, *, streaming: bool) -> Scan:
    scan = Scan()
    scan.handles._streaming = streaming  # False: every instance held until `finish`, as before streaming
    with Store(db, readonly=True) as store:
        scan.run(scan_events(timed(store.iter_keys_of(scanned_event_ids()))))
    return scan


def test_each_handle_reads_as_the_scan_froze_it(churn_db: Path) -> None:
    scan = _scanned(churn_db, streaming=False)
    tracker = scan.handles
    # A (process, value) opened once keeps its one instance as an int, not a list of one.
    kept = list(tracker._all.values())
    assert all(isinstance(v, int) or len(v) > 1 for v in kept) and sum(isinstance(v, int) for v in kept) > 100
    assert all(h.accesses is None for h in tracker.handles.values())  # the scan keeps no array per handle...
    uses: dict[int, list[int]] = {}  # ...the facts table has each 4663/4660's handle
    for pos, found in enumerate(scan.facts):
        if found.ref.event_id in (4663, 4660) and found.source_handle is not None:
            uses.setdefault(found.source_handle, []).append(pos)
    assert len(uses) > 100
    assert list(tracker.handles) == list(range(tracker.count))
    frozen = [
        make_handle(h.index, h.computer, h.pid, h.handle_id, h.process, h.opened, h.duplicated_by, h.source,
                    h.object_type, h.object_name, h.access, array("q", uses[h.index]) if h.index in uses else None,
                    h.closed,
                    h.close_note if h.closed >= 0 else tracker._close_note(h),
                    array("q", h.duplications) if h.duplications else None, h.first_seen, scan.facts)
        for h in tracker.handles.values()
    ]
    table = tracker.finish()
    assert isinstance(table, HandleTable) and not tracker.handles
    assert len(table) == len(frozen) and list(table) == frozen
    assert [table[i] for i in range(len(frozen))] == frozen and table == tuple(frozen)
    assert table[-1] == frozen[-1] and table[2:5] == tuple(frozen[2:5])
    # The words of its links, read from the columns without a `Handle` made, are the Handle's.
    assert [table.said(i) for i in range(len(frozen))] == [(h.confidence, h.reason) for h in frozen]
    closed = [h for h in frozen if h.closed_at >= 0 or h.close_note is not None]
    assert len(closed) > 100
    assert [table.close_said(h.index) for h in closed] == [(h.closed_at, h.close_reason) for h in closed]
    some = next(h for h in table if h.accesses and h.closed is not None)
    assert list(some.accesses) == [scan.facts.ref(p) for p in frozen[some.index].accesses_at or ()]
    # Streamed (each instance written as soon as final, out of index order), the same table.
    streamed = _scanned(churn_db, streaming=True)
    assert len(streamed.handles.handles) < len(frozen) // 2  # most were written during the scan
    assert streamed.handles.finish() == frozen and streamed.handles.choices == tracker.choices


def test_values_that_do_not_fit_a_slot_read_back_exactly() -> None:
    class Facts:
        def ref(self, pos: int) -> Any:
            raise AssertionError

        def key(self, pos: int) -> tuple[int, int]:
            raise AssertionError

        def store_id(self, pos: int) -> int:
            raise AssertionError

    facts = Facts()
    table = HandleTable(facts)
    rows: list[tuple[Any, ...]] = [
        ("PC", 4, 0xFFFF_FFFF_FFFF_FFFC, 0, 3, -1, None, None, None, None, [5, 9], -1, "open at the end", None, 3),
        ("pc2", -(1 << 63), 8, 1, -1, 2, 0, "File", "C:\\x", "READ", None, 7, None, [4], 2),
        ("PC", 1 << 70, 12, 2, 10, -1, None, "Key", None, None, [], 11, None, [], 10),
    ]
    for row in rows:
        table.append(*row)
    for i, row in enumerate(rows):
        computer, pid, hid, proc, opened, dup, source, otype, oname, access, acc, closed, note, dups, first = row
        assert table[i] == Handle(i, computer, pid, hid, proc, opened, dup, source, otype, oname, access,
                                  array("q", acc) if acc else None, closed, note,
                                  array("q", dups) if dups else None, first, facts)
    with pytest.raises(IndexError):
        table[3]


def test_said_from_the_columns_reads_values_kept_aside() -> None:
    """`said`/`close_said` (the links' words, no `Handle` made) read positions that do not fit
    a slot as the `Handle` does, and refuse an index out of the table as indexing does."""
    class Facts:
        def ref(self, pos: int) -> Any:
            return SimpleNamespace(event_id=4656 if pos == 3 else 4663, record_id=pos * 2)

        def event_record(self, pos: int) -> tuple[int, int | None]:
            return 4656 if pos == 3 else 4663, pos * 2

    facts = cast(Any, Facts())
    table = HandleTable(facts)
    table.append("PC", 4, 8, 0, 3, -1, None, None, None, None, None, 1 << 70, None, None, 3)
    table.append("PC", 4, 12, 0, -1, 1 << 65, None, None, None, None, None, -1, "exited", None, 5)
    table.append("PC", 4, 16, 0, -1, -1, None, None, None, None, None, 9, None, None, -(1 << 63))
    for i in range(3):
        h = table[i]
        assert table.said(i) == (h.confidence, h.reason)
        if h.closed_at >= 0 or h.close_note is not None:
            assert table.close_said(i) == (h.closed_at, h.close_reason)
    assert table.said(1)[1] == f"created by 4690 record {(1 << 65) * 2}"
    assert table.close_said(0) == (1 << 70, f"closed by 4658 record {(1 << 70) * 2}")
    for wrong in (3, -1):
        with pytest.raises(IndexError):
            table.said(wrong)


def test_duplications_put_out_of_order_read_back_without_an_array_per_handle() -> None:
    """Each instance's 4690s are runs of one array, not an array per instance (26 MB at 10M
    events); put in any order, a later put of an instance's replacing the earlier."""
    table = HandleTable(cast(Any, None))
    n = 3_000
    given: dict[int, list[int]] = {}
    for i in [*range(1, n, 2), *range(0, n, 2), 10, 11]:  # odd first, then even; two put again
        dups = [i * 10 + k for k in range(i % 4)] if i not in given else [7, 8, 9]
        table.put(i, "PC", 4, i, 0, i, -1, None, None, None, None, -1, None, dups, i)
        if dups:
            given[i] = dups
    table.resize(n)
    assert [table.duplication_count(i) for i in range(n)] == [len(given.get(i, [])) for i in range(n)]
    assert sum(isinstance(o, array) for o in reachable(table)) < 12  # before any `Handle` is made
    for i in range(n):
        h = table[i]
        assert (list(h.duplications_at) if h.duplications_at is not None else []) == given.get(i, [])


def test_handles_made_give_the_pages_they_read_back_a_chunk_at_a_time(churn_db: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each handle made maps up to 64 KB of each column it reads (the kernel's fault-around): it
    counts toward the give-back of every side file's pages (`disk_array.touched`; at 10M events
    the Processes tree's rows kept up to 150 MB mapped between two passes of the pager)."""
    with Store(churn_db, readonly=True) as store:
        handles = model_from_store(store).handles
    assert isinstance(handles, HandleTable)
    released = given_back(monkeypatch, 16)
    handles._recent.clear()  # noqa: SLF001 - each read below makes its handle
    made = [handles[i] for i in range(0, len(handles), 3)]
    assert released.count == len(made) * handle_table.MADE_READS // 16
    handles._recent.clear()  # noqa: SLF001
    assert [handles[i] for i in range(0, len(handles), 3)] == made
    # The object names read without a handle made (the Process access list's sweep) count too.
    monkeypatch.setattr(disk_array.PAGER, "_touches", 0)
    before = released.count
    names = [handles.object_name(i) for i in range(0, len(handles), 3)]
    assert names == [h.object_name for h in made]
    assert released.count - before == len(made) // 16


def test_the_stored_rows_read_from_the_columns_are_those_of_the_handles(churn_db: Path) -> None:
    """The tables' writer reads the handles' rows from the columns (no `Handle` made): the same
    rows as from each `Handle` made, and the same words for each handle event's link."""
    from core.correlate.persist import _handle_rows, _LinkWords, _rows
    from core.store.correlation_tables import HANDLE_COLUMNS

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    table = model.handles
    assert isinstance(table, HandleTable) and len(table) > 1000
    fast = list(_handle_rows(table))
    assert fast == list(_rows(tuple(table), HANDLE_COLUMNS))
    assert sum(row[11] is not None for row in fast) > 100 and sum(row[5] is None for row in fast) > 10
    words, slow = _LinkWords(model), _LinkWords(model)
    slow._handles = tuple(table)  # a sequence of `Handle`s: each word made from its `Handle`
    for i in range(0, len(table), 3):
        h = table[i]
        assert words._said(i) == slow._said(i) == (i, h.confidence, h.reason)
        if h.closed_at >= 0:
            assert words._close(i) == slow._close(i) == (h.closed_at, h.close_reason)
            assert words.dup_target(0, i) == slow.dup_target(0, i)


def test_the_forest_reads_its_handle_lines_from_the_columns(churn_db: Path) -> None:
    """The Processes forest's handle lines (`forest_tail`) made from the columns are those made
    from each `Handle`, for every process of the churn store."""
    from types import SimpleNamespace as Model

    from core.correlate.tree import forest_tail

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    assert isinstance(model.handles, HandleTable)
    as_objects = cast(Any, Model(handles=tuple(model.handles), exits_logged=model.exits_logged))
    lines = 0
    for p in model.processes:
        fast = forest_tail(model, p)
        assert fast == forest_tail(as_objects, p)
        lines += len(fast)
    assert lines > len(model.processes) + 1000
