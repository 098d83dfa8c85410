"""The same record loaded twice (a log and its copy, two collections of a host that overlap) is
correlated once: each copy gets its first copy's answer and says so, and nothing is listed twice
or taken for a reuse of itself. Fed twice, a 4688 said its pid was "reused by 4688 record 1" (its
own copy), the copy of a 4656 replaced its own handle ("the value 0x40 was reused by 4656 record
2") and the copy of a 4658 closed a handle "opened before the log begins"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from core.correlate import scan_reader
from core.correlate.model import CorrelationModel, build_model, model_from_store
from core.correlate.persist import links
from core.model.same_records import GROUP_HELD, CopyFilter, SameRecords
from core.store.ingest import load_paths
from core.store.store import Store, StoredEvent
from tests.cliutil import cached_twice, run_cli
from tests.correlate.events import d4690, h4656, h4658, h4663, load, p4688, p4689, s4624, xml
from tests.correlate.hand_made_logs import family_log
from tests.correlate.sysmon_events import sysmon
from tests.logs import write_events
from tests.stores import events_by_source

DRV, SVC = r"C:\Windows\System32\drvinst.exe", r"C:\Windows\System32\svchost.exe"


def _use(rid: int, sec: float, pid: str) -> str:
    """A 4673 (outside the model: attached to its process and session)."""
    return xml(4673, rid, sec, SubjectUserSid="S-1-5-21-1", SubjectUserName="alice", SubjectDomainName="DOM",
               SubjectLogonId="0x7777", ObjectServer="Security", Service="-", PrivilegeList="SeTcbPrivilege",
               ProcessId=pid, ProcessName=DRV)


#: A process with a handle duplicated into System, used, closed, its pid reused, a logon and a
#: privilege use, a Sysmon process creation.
LOG = [
    s4624(1, 0.0, "0x7777"),
    p4688(2, 0.5, "0x1dac", DRV, "0x280", SVC),
    d4690(3, 1.0, "0x1dac", "0x1ac", "0x4", "0x1644"),
    h4658(4, 1.0000004, "0x1dac", "0x1644", DRV),
    h4656(5, 1.0000013, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", DRV),
    h4663(6, 1.2, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", DRV),
    _use(7, 1.3, "0x1dac"),
    h4658(8, 1.5, "0x1dac", "0x1ac", DRV),
    p4689(9, 2.0, "0x1dac", DRV),
    p4688(10, 3.0, "0x1dac", r"C:\Windows\System32\cmd.exe", "0x280", SVC),
    sysmon(1, 11, 3.5, ProcessGuid="{c}", ProcessId=str(0x900), Image=r"C:\t\c.exe", CommandLine="c",
           ParentProcessGuid="{p}", ParentProcessId=str(0x1dac)),
]


def _lines(node: Any, depth: int = 0) -> list[str]:
    out = [f"{'  ' * depth}[{node.confidence}] {node.label}"]
    for child in node.children:
        out += _lines(child, depth + 1)
    return out


def _answers(model: CorrelationModel, events: list[StoredEvent]) -> list[list[str]]:
    return [_lines(model.correlate(se).tree()) for se in events]


def _stored(tmp_path: Path, *logs: list[str]) -> Path:
    tmp_path.mkdir()
    paths = [write_events(tmp_path / f"log{i}.xml", log) for i, log in enumerate(logs)]
    db = tmp_path / "store.db"
    with Store(db) as store:
        load_paths([str(p) for p in paths], store)
        store.set_meta("complete", "1")  # (as the cache marks a store fully loaded: a child may read it)
    return db


@pytest.mark.parametrize("log", ["drvinst", "families"])
@pytest.mark.parametrize("reader", ["in process", "child"])
def test_a_log_loaded_twice_is_correlated_as_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  reader: str, log: str) -> None:
    docs = LOG if log == "drvinst" else family_log(parents=4, children=3)
    once = _stored(tmp_path / "once", docs)
    # The second input holds the log from its third record on (a copy taken later, say).
    twice = _stored(tmp_path / "twice", docs, docs[2:])
    with Store(once, readonly=True) as store:
        single = model_from_store(store)
        expected = {se.event.record_id: _lines(single.correlate(se).tree()) for se in events_by_source(store)[0]}
        counts = (len(single.processes), len(single.handles), len(single.sessions))
    if reader == "child":
        monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)
        monkeypatch.setattr(scan_reader, "cores", lambda: 2)
        monkeypatch.setattr(scan_reader, "stream", lambda *a: pytest.fail("read in process"))
    with Store(twice, readonly=True) as store:
        model = model_from_store(store)
        first = {se.event.record_id: se for se in events_by_source(store)[0]}
        second = events_by_source(store)[1]
        assert (len(model.processes), len(model.handles), len(model.sessions)) == counts
        assert {rid: _lines(model.correlate(se).tree()) for rid, se in first.items()} == expected
        assert len(second) == len(docs) - 2
        rows = list(links(model))
        for se in second:
            c = model.correlate(se)
            got = _lines(c.tree())
            same = first[se.event.record_id]
            assert c.same_as is not None and c.same_as.store_id == same.id
            named = ("Sysmon " if "Sysmon" in se.event.channel else "") + str(se.event.event_id)
            assert got[1].startswith(f"  [exact] same record as {named} record {se.event.record_id} at ")
            assert c.tree().children[0].store_id == same.id
            assert [got[0], *got[2:]] == expected[se.event.record_id]
            # The stored links: a copy's are its first copy's.
            assert [r[1:] for r in rows if r[0] == se.id] == [r[1:] for r in rows if r[0] == same.id]
        assert any(r[0] == second[0].id for r in rows)


def test_the_copy_of_an_event_outside_the_model_is_listed_once() -> None:
    docs = [s4624(1, 0.0, "0x7777"), p4688(2, 0.5, "0x1dac", DRV, "0x280"), _use(3, 1.0, "0x1dac")]
    events = [StoredEvent(se.id, dataclasses.replace(se.event, source=1) if se.id > len(docs) else se.event)
              for se in load(*docs, *docs)]
    model = build_model(events)
    (proc,) = model.instances("HOST1", 0x1DAC)
    assert [a.ref.record_id for a in model.by_process[proc.index]] == [3]
    (session,) = [s for s in model.sessions if s.logon_id == 0x7777]
    assert [a.ref.record_id for a in model.by_session[session.index]] == [3]
    copy = model.correlate(events[5])
    assert copy.same_as is not None and copy.same_as.store_id == events[2].id
    assert copy.source_process == model.correlate(events[2]).source_process


def _row(sid: int, ts: int, rid: int, eid: int = 4663, computer: str = "HOST1",
         data: Any = (("A", "1"),)) -> tuple[Any, ...]:
    return (sid, ts, rid, eid, computer, data)


def test_copies_are_found_across_batches_and_only_for_the_same_record() -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: data)
    batches = [
        [_row(1, 10, 1), _row(2, 10, 1, computer="HOST2"), _row(3, 10, 1, data=(("A", "2"),))],
        [_row(4, 10, 1, computer="host1"), _row(5, 10, 1, eid=4658), _row(6, 11, 1)],
        [_row(7, 11, 2), _row(8, 11, 1)],  # not next to its first (another record between): kept
    ]
    kept = [[r[0] for r in drop(b)] for b in batches]
    assert kept == [[1, 2, 3], [5, 6], [7, 8]]
    assert [found.first_of(i) for i in range(1, 9)] == [None, None, None, 1, None, None, None, None]
    assert found.copies_of(1) == [4] and found.copies_of(2) == []
    assert batches[2] is not None and drop(batches[2]) is batches[2]  # no copy: the batch itself


def test_the_cli_names_the_first_copy(tmp_path: Path) -> None:
    a = write_events(tmp_path / "a.xml", LOG)
    b = write_events(tmp_path / "b.xml", LOG[4:])
    status, out, _ = run_cli("correlate", "--record", "6", "--json", str(a), str(b))
    assert status == 0
    first, copy = json.loads(out)
    assert first["same_as"] is None and first["event"]["file"] == str(a)
    assert copy["same_as"] == {"record_id": 6, "event_id": 4663, "file": str(a)}
    assert {k: v for k, v in copy.items() if k not in ("event", "same_as")} == {
        k: v for k, v in first.items() if k not in ("event", "same_as")}
    text = cached_twice("correlate", "--record", "6", str(a), str(b))
    assert text.count("same record as 4663 record 6 at 2021-10-08T12:57:01.2000000Z (loaded twice)") == 1


def test_copies_noted_out_of_store_order_are_found() -> None:
    found = SameRecords()
    pairs = [(50, 7), (20, 9), (40, 7), (30, 1), (10, 9)]
    found.extend(pairs)
    assert [found.first_of(c) for c, _ in pairs] == [f for _, f in pairs]
    assert found.first_of(7) is None and found.first_of(60) is None
    assert (found.copies_of(7), found.copies_of(9), found.copies_of(1), found.copies_of(50)) == (
        [40, 50], [10, 20], [30], [])
    assert found.drain() and len(found) == 0 and found.first_of(50) is None


def test_a_crafted_crowd_at_one_time_and_record_id_is_compared_in_bounded_work() -> None:
    """More distinct events at one (time, record id) than are remembered, then a copy of each
    stored alike and two stored otherwise: a copy of a remembered one is found (by its stored
    data, else decoded, each row decoded once at most), one of a later one is kept as an event."""
    decoded: list[object] = []

    def decode(data: Any) -> Any:
        decoded.append(data)
        return tuple(sorted(data))

    found = SameRecords()
    drop = CopyFilter(found, decode)
    n = GROUP_HELD + 10
    rows = [_row(i, 10, 1, data=(("N", str(i)), ("M", "x"))) for i in range(n)]
    alike = [_row(n + i, 10, 1, data=(("N", str(i)), ("M", "x"))) for i in range(n)]
    otherwise = [_row(2 * n + i, 10, 1, data=(("M", "x"), ("N", str(i)))) for i in (0, n - 1)]
    kept = drop(rows + alike + otherwise)
    assert [r[0] for r in kept] == [*range(n), *range(n + GROUP_HELD, 2 * n), 3 * n - 1]
    assert found.first_of(2 * n) == 0 and found.first_of(n + 5) == 5 and found.first_of(2 * n - 1) is None
    assert len(decoded) <= 2 * n + 2
