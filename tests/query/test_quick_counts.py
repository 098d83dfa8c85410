"""Compound filters counted without looking up their events (`core.query.quick_counts`): the same
counts as SQLite's own plan; EventIDs beside id sets through the EventID index only when it has
fewer entries to read than the smallest set has events, sets alone from their smallest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import quick_counts
from core.query.compile import compile_query
from core.query.quick_counts import count_by_event_ids, count_in_sets
from core.query.view import View, count_view, settled
from core.store.filter import Filter
from core.store.store import Store
from tests.stores import indexed_store, statements

BASE = 133_500_000_000_000_000


def _events() -> list[Event]:
    """3,000 events: EventID 4663 for most, 4656 for one in ten, 4689 for one in a hundred; a
    common object (half the events), a rare one (ten events), handles in both names."""
    out = []
    for i in range(3_000):
        eid = 4689 if i % 100 == 7 else 4656 if i % 10 == 3 else 4663
        data = [("ObjectName", "C:\\common.txt" if i % 2 else f"C:\\f{i % 37}.txt"), ("HandleId", hex(i % 5))]
        if i % 300 == 11:
            data.append(("Marker", "rare"))
        if i % 3 == 0:
            data.append(("TargetHandleId", hex(i % 5)))
        out.append(Event(source=0, record_number=i + 1, record_id=i + 1,
                         filetime=None if i % 211 == 0 else BASE + (i % 997) * 10_000_000, event_id=eid,
                         channel="Security", provider="Microsoft-Windows-Security-Auditing", computer="WS01",
                         data=tuple(data)))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with indexed_store(Path(tmp_path_factory.mktemp("eid")) / "events.db", _events()) as st:
        yield st


#: (query, whether the EventID index answers: its side under twice the smallest set)
CASES = [
    (r"4656 ObjectName:C:\common.txt", True),  # 300 entries of 4656, a set of 1,500
    (r"4689 ObjectName:C:\common.txt", True),
    (r"4656,4689 ObjectName:C:\common.txt", True),
    (r"(4656 OR 4689) ObjectName:C:\common.txt", True),
    (r"4656 before:2024-01-01 ObjectName:C:\common.txt", True),  # a time bound: in the index too
    (r"4656 after:2024-01-01 ObjectName:C:\common.txt", True),
    (r"4656 ObjectName:C:\common.txt NOT HandleId:0x1", True),  # a negated set: ids only
    (r"4656 ObjectName:C:\common.txt handle:0x2", True),  # two sets: the smaller decides
    (r"4663 ObjectName:C:\common.txt", True),  # 2,670 entries of 4663 against a set of 1,500
    ("4663 HandleId:0x1", False),  # 2,670 entries against 600 ids: the lookups
    ("4663 Marker:rare", False),  # ten ids: ten lookups
    ("4656 Marker:rare", False),
    (r"host:ws01 4656 ObjectName:C:\common.txt", False),  # a column the index has not
    (r"(4656 OR ObjectName:C:\common.txt) 4656", False),  # not a conjunction of such tests
    (r"NOT 4656 ObjectName:C:\common.txt", False),  # no EventID to read the index by
    (r"ObjectName:C:\common.txt", False),  # one term: counted from its set alone
    ("4656", False),
]


def _counted(store: Store, query: str) -> tuple[Filter, list[str]]:
    """The view of `query` counted as the table counts it, checked against SQLite's own count and
    the events themselves: its settled filter, and the statements the count ran."""
    view = View(compile_query(query))
    which = settled(store, view).filter
    expected = store.count(which)
    assert expected == sum(1 for _ in store.select(compile_query(query))), query
    with statements(store) as seen:
        got = count_view(store, view)
    assert got == expected, query
    return which, seen


@pytest.mark.parametrize(("query", "indexed"), CASES)
def test_counts_through_the_event_id_index_equal_sqlites_own(store: Store, query: str, indexed: bool) -> None:
    _, seen = _counted(store, query)
    assert any("INDEXED BY events_eid" in s for s in seen) == indexed, (query, seen)


def test_the_index_is_not_read_in_a_store_without_it(tmp_path: Path) -> None:
    """While a log loads its indexes are not built yet: SQLite's own plan then."""
    with indexed_store(tmp_path / "e.db", _events()) as st:
        which = settled(st, View(compile_query(r"4656 ObjectName:C:\common.txt"))).filter
        assert count_by_event_ids(st, which) == st.count(which)
        st.conn.execute("DROP INDEX events_eid")
        assert count_by_event_ids(st, which) is None


def test_the_event_id_side_is_read_no_further_than_it_decides(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The EventID side is counted up to RATIO times the smallest set, not to its end."""
    which = settled(store, View(compile_query("4663 Marker:rare"))).filter
    with statements(store) as seen:
        assert count_by_event_ids(store, which) is None
    limits = [s for s in seen if "LIMIT" in s]
    assert len(limits) == 1 and "e.event_id = 4663" in limits[0] and limits[0].endswith("LIMIT 20)")
    monkeypatch.setattr(quick_counts, "RATIO", 1_000)  # 10 ids stand for 10,000 entries: the index
    assert count_by_event_ids(store, which) == store.count(which) == 10


#: Filters of id sets alone (two or more; `NOT` ones among them), and some that are not.
SETS = [
    (r"ObjectName:C:\common.txt HandleId:0x1", True),
    (r"HandleId:0x1 ObjectName:C:\common.txt", True),
    (r"ObjectName:C:\common.txt handle:0x2 Marker:rare", True),
    (r"ObjectName:C:\common.txt NOT HandleId:0x1", True),
    (r"NOT HandleId:0x1 ObjectName:C:\common.txt NOT Marker:rare", True),
    (r"HandleId:0x3 TargetHandleId:0x3", True),  # one event may hold both: counted once
    (r"NOT HandleId:0x1 NOT Marker:rare", False),  # no set to read from
    (r"ObjectName:C:\common.txt OR HandleId:0x1", False),
    (r"ObjectName:C:\common.txt", False),
    (r"4656 ObjectName:C:\common.txt HandleId:0x1", False),  # an EventID too: the index, if any
]


@pytest.mark.parametrize(("query", "from_sets"), SETS)
def test_sets_alone_are_counted_from_the_smallest_without_reading_an_event(store: Store, query: str,
                                                                            from_sets: bool) -> None:
    which, seen = _counted(store, query)
    assert (count_in_sets(store, which) is not None) == from_sets, query
    if from_sets:
        read = [s for s in seen if "FROM events" in s and s != "SELECT max(id) FROM events"]  # (the store's end)
        assert not read and any(s.startswith("SELECT count(*) FROM idsets.") for s in seen), (query, seen)
