"""The build's usual steps without a call each: a handle's open and close are done in the
scan's loop (not `HandleTracker.open`/`close`), and a process's start and end that are its own
4688 and 4689 are their positions without looking them up in the facts table again."""

from __future__ import annotations

import marshal
from array import array
from collections import Counter
from typing import Any

import pytest

from core.correlate.facts import FactsTable
from core.correlate.handles import HandleTracker
from core.correlate.scan import Scan, stream
from core.store.store import KeyRow, Store

HANDLE = (("ProcessId", "0x10"), ("HandleId", "0x44"), ("ProcessName", "C:\\a.exe"))


def _rows() -> list[KeyRow]:
    events = [
        (4688, (("ProcessId", "0x4"), ("NewProcessId", "0x10"), ("NewProcessName", "C:\\a.exe"))),
        (4656, (*HANDLE, ("ObjectType", "File"), ("ObjectName", "C:\\x"))),
        (4663, HANDLE),
        (4658, HANDLE),
        (4689, (("ProcessId", "0x10"), ("ProcessName", "C:\\a.exe"))),
    ]
    return [(i, 1000 + i, i, eid, "PC", marshal.dumps(pairs)) for i, (eid, pairs) in enumerate(events)]


def _count(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, calls: Counter[str]) -> None:
    method = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_the_usual_open_and_close_make_no_tracker_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    _count(monkeypatch, HandleTracker, "open", calls)
    _count(monkeypatch, HandleTracker, "close", calls)
    scan = Scan()
    scan.run(stream([_rows()], Store.pairs_of))
    assert calls == Counter()  # before: one `open` and one `close`
    [handle] = scan.handles.finish()
    assert (handle.opened_at, handle.accesses_at, handle.closed_at, handle.close_note) == (1, array("q", [2]), 3, None)
    assert (handle.object_type, handle.object_name, scan.handles.seen[("pc", 4656)], scan.handles.seen[("pc", 4658)]) \
        == ("File", "C:\\x", 1, 1)


def test_a_process_bounds_by_its_own_events_are_not_looked_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    scan = Scan()
    scan.run(stream([_rows()], Store.pairs_of))
    calls: Counter[str] = Counter()
    _count(monkeypatch, FactsTable, "at_order", calls)
    parent, child = sorted(scan.procs.finish(scan.facts), key=lambda p: p.pid)
    # The scan's instances keep their events as positions: none looked up (before: its 4688 and
    # 4689 and the parent's first event; before that, two more: its start and end).
    assert calls["at_order"] == 0
    assert (child.created_at, child.exited_at, child.start_at, child.end_at) == (0, 4, 0, 4)
    assert child.start_at is child.created_at and child.end_at is child.exited_at
    assert parent.created_at is None and parent.start_at is None
