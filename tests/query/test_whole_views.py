"""A big view of id sets is stacked by a column, and drawn as a histogram, by walking the index
holding what is read (`core.query.view.whole_by_index`), with the same answer as looking its
events up (whose answers tests/query/test_stack.py and test_timeline.py hold to the events)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import quick_counts, view
from core.query import stack as stack_module
from core.query import timeline as timeline_module
from core.query.compile import compile_query
from core.query.stack import stack
from core.query.timeline import timeline
from core.store.store import Store
from tests.stores import indexed_store, statements

HOUR = 36_000_000_000
USERS = ["SYSTEM", "alice", "Bob", "bob", "carol"]


def _events() -> list[Event]:
    return [Event(
        source=0, record_number=i + 1, record_id=i + 1,
        filetime=None if i % 17 == 0 else 133_500_000_000_000_000 + (i * 7919 % 500) * HOUR // 10,
        event_id=(4624, 4634, 4688, 4672)[i % 4], channel="Security", provider="Microsoft-Windows-Security-Auditing",
        computer=("WS01", "ws01", "DC1.corp.local")[i % 3], pid=i % 9, tid=1,
        data=(("SubjectUserName", USERS[i % 5]), ("LogonType", str(2 + i % 3))),
    ) for i in range(400)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with indexed_store(Path(tmp_path_factory.mktemp("whole")) / "events.db", _events()) as st:
        yield st


def _answers(store: Store, where: str, walk: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    with monkeypatch.context() as m:
        if walk:
            m.setattr(view, "WHOLE_SHARE", 10**9)  # any view of id sets is big enough
        else:  # the events looked up, as before
            m.setattr(stack_module, "whole_by_index", lambda *args: False)
            m.setattr(timeline_module, "whole_by_index", lambda *args: False)
        compiled = compile_query(where)
        return (stack(store, compiled, "id", limit=None), stack(store, compiled, "computer", limit=None),
                stack(store, compiled, "user", limit=None), timeline(store, compiled),
                timeline(store, compiled, HOUR))


@pytest.mark.parametrize(("where", "walks"), [
    ("NOT SubjectUserName:SYSTEM", True), ("SubjectUserName:bob", True),
    ("LogonType:3 OR SubjectUserName:alice", False),  # its size is not known without reading events
    ("4624 LogonType:3", False), ("4688", False),  # they test columns
])
def test_a_big_view_of_id_sets_is_read_whole_through_an_index_with_the_same_answers(
        store: Store, monkeypatch: pytest.MonkeyPatch, where: str, walks: bool) -> None:
    # (a count's own choice of the EventID index aside: tests/query/test_quick_counts.py)
    monkeypatch.setattr(quick_counts, "RATIO", 0)
    looked_up = _answers(store, where, False, monkeypatch)
    with statements(store) as seen:
        walked = _answers(store, where, True, monkeypatch)
    assert walked == looked_up
    for index in ("events_eid", "events_computer", "events_time"):
        assert any(f"INDEXED BY {index}" in sql for sql in seen) == walks, index


def test_every_event_but_a_sets_is_always_walked_and_a_small_set_looked_up(store: Store) -> None:
    """`NOT term` made SQLite read the whole table (every event tested): its index is walked
    whatever the view's size; a set holding under 1/WHOLE_SHARE of the store is looked up."""
    for where, walks in (("NOT SubjectUserName:carol", True), ("SubjectUserName:carol", False)):
        with statements(store) as seen:
            timeline(store, compile_query(where))
        assert any("INDEXED BY events_time" in sql for sql in seen) == walks, where
