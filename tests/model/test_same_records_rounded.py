"""A record loaded with a dump of its log that kept fewer digits of its time is the same record
(`core.model.same_records`): python-evtx's `evtx_dump` writes microseconds through a float (up
to 2.8 us off the FILETIME), the Rust dump and Winlogbeat truncate (microseconds, milliseconds).
The copy is not next to its record in time order, and its time differs: taken as another
record, every 4688 became two process instances (the second "reusing" the pid of the first),
a 4656's copy replaced its own handle and its 4658's copy closed a handle "opened before the
log begins". Only a copy from another input is taken at another time, only within the digits
one of the two times lost, and the findings and Sigma count it once too (`record_key`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.correlate import scan_reader
from core.correlate.model import CorrelationModel, model_from_store
from core.findings.engine import run_findings
from core.model.event import Event, datetime_to_filetime, parse_time
from core.model.rows import store_id
from core.model.same_records import MS_WITHIN, NEAR_IDS, US_WITHIN, CopyFilter, SameRecords, record_key, same_time
from core.store.ingest import load_paths
from core.store.store import Store, StoredEvent
from tests.cliutil import run_cli
from tests.correlate.events import d4690, h4656, h4658, h4663, p4688, p4689, s4624
from tests.findings.rule_events import USER_RUNDLL, defaults, ev
from tests.findings.sigma_helpers import CORRELATED, run_rules, write_rule
from tests.logs import write_events
from tests.shared import sample
from tests.stores import events_by_source

DRV = r"C:\Windows\System32\drvinst.exe"
SVC = r"C:\Windows\System32\svchost.exe"
T = 133_500_000_000_000_000  # a FILETIME at whole milliseconds
NIGHT = "evtx/attack/TA0004-Privilege Escalation__T1574-DLL side-loading__ID4688,6416,4648-SystemNightMare.evtx"

#: Events a few hundred nanoseconds apart (the copies' rounded times fall among the others').
LOG = [
    s4624(1, 0.0000007, "0x7777"),
    p4688(2, 0.5000003, "0x1dac", DRV, "0x280", SVC, logon="0x7777"),
    d4690(3, 1.0000001, "0x1dac", "0x1ac", "0x4", "0x1644"),
    h4658(4, 1.0000004, "0x1dac", "0x1644", DRV),
    h4656(5, 1.0000009, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", DRV),
    h4663(6, 1.2000006, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", DRV),
    h4658(7, 1.5000002, "0x1dac", "0x1ac", DRV),
    p4689(8, 2.0000005, "0x1dac", DRV),
    p4688(9, 2.0000008, "0x1dac", r"C:\Windows\System32\cmd.exe", "0x280", SVC),
    p4689(10, 3.0000009, "0x1dac", r"C:\Windows\System32\cmd.exe"),
]
_TIME = re.compile(r'SystemTime="([^"]+)"')


def _python_evtx(ticks: int) -> str:
    """The time as python-evtx renders it (`Evtx.BinaryParser.parse_filetime`: through a float)."""
    when = dt.datetime.fromtimestamp(float(ticks) * 1e-7 - 11644473600, dt.UTC)
    return when.isoformat(sep=" ")


def _dumped(doc: str, render: Any = _python_evtx) -> str:
    """An event's XML with its time as a dump writes it."""
    def one(m: re.Match[str]) -> str:
        ticks = parse_time(m.group(1))
        assert ticks is not None
        return f'SystemTime="{render(ticks)}"'
    return _TIME.sub(one, doc)


def _lines(node: Any, depth: int = 0) -> list[str]:
    out = [f"{'  ' * depth}[{node.confidence}] {node.label}"]
    for child in node.children:
        out += _lines(child, depth + 1)
    return out


def _stored(folder: Path, *logs: list[str]) -> Path:
    folder.mkdir()
    paths = [write_events(folder / f"log{i}.xml", log) for i, log in enumerate(logs)]
    db = folder / "store.db"
    with Store(db) as store:
        load_paths([str(p) for p in paths], store)
        store.set_meta("complete", "1")  # (a child may read it)
    return db


def _answers(model: CorrelationModel, events: list[StoredEvent]) -> dict[int, list[str]]:
    return {se.event.record_id or 0: _lines(model.correlate(se).tree()) for se in events}


def test_python_evtx_times_are_off_by_less_than_the_tolerance() -> None:
    """The dump's times really differ from the log's (else the test below tests nothing), by less
    than `US_WITHIN`, on either side."""
    offsets = set()
    for doc in LOG:
        exact = parse_time(_TIME.findall(doc)[0])
        dumped = parse_time(_TIME.findall(_dumped(doc))[0])
        assert exact is not None and dumped is not None and dumped % 10 == 0
        offsets.add(dumped - exact)
    assert max(map(abs, offsets)) <= US_WITHIN and min(offsets) < 0 < max(offsets)


@pytest.mark.parametrize("order", ["log first", "dump first"])
@pytest.mark.parametrize("reader", ["in process", "child"])
def test_a_log_loaded_with_its_python_evtx_dump_is_correlated_as_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str, order: str) -> None:
    once = _stored(tmp_path / "once", LOG)
    dump = [_dumped(doc) for doc in LOG]
    twice = _stored(tmp_path / "twice", *((LOG, dump) if order == "log first" else (dump, LOG)))
    with Store(once, readonly=True) as store:
        single = model_from_store(store)
        expected = _answers(single, events_by_source(store)[0])
        counts = (len(single.processes), len(single.handles), len(single.sessions))
    if reader == "child":
        monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)
        monkeypatch.setattr(scan_reader, "cores", lambda: 2)
        monkeypatch.setattr(scan_reader, "stream", lambda *a: pytest.fail("read in process"))
    with Store(twice, readonly=True) as store:
        model = model_from_store(store)
        first, second = events_by_source(store)[0], events_by_source(store)[1]
        assert (len(model.processes), len(model.handles), len(model.sessions)) == counts
        # The first input's record is kept (its time came out later or earlier), the other one
        # answers as its copy.
        assert all(model.correlate(se).same_as is None for se in first)
        kept = {se.event.record_id: se for se in first}
        for se in second:
            c = model.correlate(se)
            assert c.same_as is not None and c.same_as.store_id == kept[se.event.record_id].id
        if order == "log first":  # the answers are the log's own (its exact times)
            assert _answers(model, first) == expected
        else:
            assert [len(lines) for lines in _answers(model, first).values()] == [
                len(lines) for lines in expected.values()]


def test_the_cli_answers_for_the_log_and_its_dump_as_for_the_log(tmp_path: Path) -> None:
    """The probe's case: the 4658 closing 0xaf8 was "no 4656 for it in this log" and the 4690
    said "the value 0xaf8 was reused by 4656 record 2183524" with the dump loaded too."""
    log = tmp_path / "night.evtx"
    shutil.copy(sample(NIGHT), log)
    evtx = pytest.importorskip("Evtx.Evtx")
    with evtx.Evtx(str(log)) as f:
        docs = [r.xml().replace('<?xml version="1.1" encoding="utf-8" standalone="yes" ?>', "") for r in f.records()]
    dump = write_events(tmp_path / "night_dump.xml", docs)
    assert 'SystemTime="2021-10-08 12:57:12.842651+00:00"' in dump.read_text(encoding="utf-8")
    answers = []
    for files in ([str(log)], [str(log), str(dump)]):
        status, out, err = run_cli("correlate", "--no-cache", *files, "--where", "id:4688 OR id:4690 OR id:4658",
                                   "--json")
        assert status == 0, err
        answers.append(json.loads(out))
    alone, both = answers
    assert len(both) == 2 * len(alone) > 0
    mine = {(a["event"]["record_id"], a["event"]["event_id"]): a for a in alone}
    for got in both:
        same = {k: v for k, v in got.items() if k not in ("event", "same_as")}
        assert same == {k: v for k, v in mine[got["event"]["record_id"], got["event"]["event_id"]].items()
                        if k not in ("event", "same_as")}
        if got["event"]["file"] == str(dump):
            assert got["same_as"] == {"record_id": got["event"]["record_id"], "event_id": got["event"]["event_id"],
                                      "file": str(log)}
        else:
            assert got["same_as"] is None
    close = next(a for a in both if a["event"]["record_id"] == 2183525 and a["event"]["file"] == str(log))
    assert close["source_handle"]["open_record_id"] == 2183524 and close["source_handle"]["confidence"] == "exact"


def _row(source: int, place: int, ts: int, rid: int, eid: int = 4663, computer: str = "HOST1",
         data: Any = (("A", "1"),)) -> tuple[Any, ...]:
    return (store_id(source, place), ts, rid, eid, computer, data)


def _kept(drop: CopyFilter, *batches: list[tuple[Any, ...]]) -> list[list[tuple[int, int]]]:
    """Each batch's kept rows as (source, place)."""
    return [[(r[0] >> 40, r[0] & 0xFFFFFFFFFF) for r in drop(b)] for b in batches]


def test_a_copy_within_the_digits_its_time_lost_is_found_among_other_records() -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: data)
    log = [_row(0, 1, T + 3, 1), _row(0, 2, T + 7, 2), _row(0, 3, T + 26, 3), _row(0, 4, T + 10_000_013, 4)]
    dump = [_row(1, 1, T - 20, 1), _row(1, 2, T + 10, 2), _row(1, 3, T + 30, 3), _row(1, 4, T + 10_000_000, 4)]
    rows = sorted(log + dump, key=lambda r: (r[1], r[2], r[0]))
    # Across a batch's end: the dump's record 1 comes first and is passed on before the log's
    # comes (it stays the record); in one batch the log's record is kept, however its time fell.
    assert _kept(drop, rows[:1], rows[1:]) == [[(1, 1)], [(0, 2), (0, 3), (0, 4)]]
    assert [found.first_of(r[0]) for r in log] == [store_id(1, 1), None, None, None]
    assert [found.first_of(r[0]) for r in dump] == [None, store_id(0, 2), store_id(0, 3), store_id(0, 4)]
    assert found.copies_of(store_id(0, 3)) == [store_id(1, 3)]


@pytest.mark.parametrize(("ts", "copy_ts", "why"), [
    (T + 3, T + 3 + US_WITHIN + 1, "further apart than a rendering at whole microseconds can be"),
    (T + 3, T + 9, "neither at whole microseconds: both keep the 100 ns"),
    (T + 13, T + MS_WITHIN - 1, "further than microseconds, and neither at whole milliseconds"),
    (T, T + MS_WITHIN + 1, "further apart than a rendering at whole milliseconds can be"),
])
def test_a_record_of_another_time_is_no_copy_past_the_digits_lost(ts: int, copy_ts: int, why: str) -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: data)
    rows = [_row(0, 1, ts, 1), _row(1, 1, copy_ts, 1)]
    assert len(drop(rows)) == 2, why
    assert not same_time(ts, copy_ts) and len(found) == 0


def test_only_the_same_record_of_another_input_is_a_copy_at_another_time() -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: tuple(sorted(data)))
    pairs = (("A", "1"), ("B", "2"))
    rows = [
        _row(0, 1, T + 3, 1, data=pairs),
        _row(1, 1, T + 10, 1, eid=4658, data=pairs),
        _row(1, 2, T + 10, 1, computer="HOST2", data=pairs),
        _row(1, 3, T + 10, 1, data=(("A", "1"), ("B", "3"))),
        _row(1, 4, T + 10, 1, computer="host1", data=(("B", "2"), ("A", "1"))),  # stored otherwise: a copy
    ]
    assert [r[0] for r in drop(rows)] == [r[0] for r in rows[:4]]
    assert found.first_of(rows[4][0]) == rows[0][0] and len(found) == 1
    # In one input every time has one precision: the same record there at another time is another.
    same_input = [_row(0, 1, T + 3, 1, data=pairs), _row(0, 2, T + 10, 1, data=pairs)]
    assert CopyFilter(found, lambda data: data)(same_input) is same_input


def test_millisecond_dumps_truncated_or_rounded_up_are_copies() -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: data)
    exact = [_row(0, i, T + i * 30_000 + 6_007, i) for i in range(1, 4)]  # 3 ms apart
    truncated = [_row(1, i, r[1] - r[1] % 10_000, i) for i, r in enumerate(exact, 1)]  # (before the record)
    rounded = [_row(2, i, round(r[1], -4), i) for i, r in enumerate(exact, 1)]  # (after it)
    assert any(r[1] > e[1] for r, e in zip(rounded, exact, strict=True))
    rows = sorted(exact + truncated + rounded, key=lambda r: (r[1], r[2], r[0]))
    assert [r[0] for r in drop(rows)] == [r[0] for r in exact]
    assert all(found.first_of(r[0]) == e[0] for r, e in zip(truncated + rounded, exact + exact, strict=True))


def test_a_dense_run_is_remembered_in_bounded_memory() -> None:
    found = SameRecords()
    drop = CopyFilter(found, lambda data: data)
    rows = [_row(0, i, T + 7 * i, i) for i in range(1, 3 * NEAR_IDS)]  # 700 ns apart: one run
    last = rows[-1][1]
    copy = _row(1, 1, last - last % 10 + 10, rows[-1][2])
    assert drop(rows) is rows
    near = drop._near
    assert near is not None and NEAR_IDS // 8 < len(near) <= NEAR_IDS
    assert drop([copy]) == [] and found.first_of(copy[0]) == rows[-1][0]


def test_record_key_takes_a_rounded_copy_for_the_same_record() -> None:
    data = (("A", "1"),)
    key = record_key("HOST1", "Security", T + 7, 9, 4688, data)
    assert key == record_key("host1", "security", T + 10, 9, 4688, data)
    assert hash(key) == hash(record_key("host1", "security", T - 10_000, 9, 4688, data))
    assert key != record_key("HOST1", "Security", T + 7 + 41, 9, 4688, data)
    assert key != record_key("HOST1", "Security", T + 10, 8, 4688, data)
    assert key != record_key("HOST1", "Security", T + 10, 9, 4688, (("A", "2"),))
    assert record_key("HOST1", "Security", None, 9, 4688, data) != key
    assert len({key, record_key("HOST1", "Security", T + 10, 9, 4688, data)}) == 1


def test_findings_and_sigma_keep_one_match_for_a_record_and_its_dump(tmp_path: Path) -> None:
    first = ev(USER_RUNDLL, rid=7, NewProcessName="C:\\Tools\\nc.exe")
    assert first.filetime is not None and first.filetime % 10
    dumped = dataclasses.replace(first, source=1, filetime=first.filetime - first.filetime % 10)
    events = [StoredEvent(1, first), StoredEvent(store_id(1, 1), dumped)]
    assert [f.store_id for f in run_findings(events, defaults())] == [1]

    write_rule(tmp_path, "brute", CORRELATED)
    minute = 60 * 10_000_000

    def failed(i: int) -> Event:
        return Event(0, i, i, T + i * minute + 3, 4625, channel="Security",
                     data=(("TargetUserName", "bob"), ("IpAddress", "10.0.0.9")))

    def dump(e: Event) -> Event:
        assert e.filetime is not None
        return dataclasses.replace(e, source=1, filetime=datetime_to_filetime(
            dt.datetime.fromisoformat(_python_evtx(e.filetime))))
    log = [failed(1), failed(2)]
    twice = run_rules([tmp_path], [*log, *map(dump, log)])
    assert twice.matches == [] and twice.copies == 2  # 2 < 3 failures: no brute force
