"""A value whose declared size contradicts its type is a bad value, never a silently wrong one.

Why: python-evtx reads a fixed-width value at its type's width whatever its declared size
(within 4 bytes), into the next value's bytes. A hostile-input probe found its readings kept
as they were: a uint32 of 3 bytes shown as 1963131393 (its last byte the next value's `u`), a
SizeT of 3 bytes as 8791141923277701633, an EventID of 0 bytes as EventID 72 (the `H` of the
next value "HOST"), with no parse issue. Now a record our decoder keeps with a stand-in for a
bad value carries a parse issue naming it, and python-evtx's reading of a record holding one is
refused (an issue naming the value): the EventID never comes from another value's bytes.

The logs are built here (`build_log`: file header, chunks, records each with a resident
template: `<Event><System><EventID/><Computer/></System><EventData><Data Name=.../></EventData>`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from parsers.evtx.chunk import ChunkDecoder
from parsers.evtx.errors import BinXmlError
from tests.parsers.evtx_logs import build_log, chunk, event_values, split, wide


def _bad_log(tmp_path: Path) -> Path:
    rows = [
        event_values(data=wide("fine")),
        event_values(data=(0x08, b"\x01\x02\x03"), name="ProcessId"),  # a uint32 of 3 bytes
        [(0x06, b""), wide("HOST"), wide("x"), wide("EventIdOfNoBytes")],  # an EventID of 0 bytes
        event_values(data=(0x10, b"\x01\x02\x03"), name="Size"),  # a SizeT of 3 bytes
    ]
    return build_log(tmp_path / "bad.evtx", [chunk(rows)])


@pytest.fixture
def python_evtx_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our decoder rejects every record: python-evtx reads them all (the fallback path)."""

    def refuse(*_args: object, **_kw: object) -> object:
        raise BinXmlError("refused by the test")

    monkeypatch.setattr(ChunkDecoder, "decode_tuple", refuse)
    monkeypatch.setattr(ChunkDecoder, "encode_row", refuse)


def test_python_evtx_reading_past_a_bad_value_is_refused(tmp_path: Path, python_evtx_only: None) -> None:
    path = _bad_log(tmp_path)
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert [(e.record_number, e.event_id) for e in events] == [(1, 4688)]
    reasons = {i.offset: i.reason for i in issues}
    assert len(issues) == 3
    texts = sorted(reasons.values())
    assert texts[0].startswith("bad value: substitution 0 (uint16, 0 bytes; 2 expected): python-evtx reads past")
    assert texts[1].startswith("bad value: substitution 2 (SizeT, 3 bytes; 8 expected)")
    assert texts[2].startswith("bad value: substitution 2 (uint32, 3 bytes; 4 expected)")
    assert all("record not taken from it (fast: BinXmlError: refused by the test)" in t for t in texts)
    # the store ingest (rows, not events) refuses the same readings
    with Store(":memory:") as store:
        [info] = load_paths([str(path)], store, jobs=1)
        assert (info.records, len(info.parse_issues)) == (1, 3)
        assert sorted(i.reason for i in info.parse_issues) == texts


def test_bad_values_are_stand_ins_with_an_issue_and_never_an_event_id(tmp_path: Path) -> None:
    path = _bad_log(tmp_path)
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    by_number = {e.record_number: e for e in events}
    assert sorted(by_number) == [1, 2, 4]  # the record whose EventID is bad is not an event
    assert all(e.event_id == 4688 for e in events)  # never 72, the next value's "H"
    assert dict(by_number[2].data)["ProcessId"] != "1963131393"  # not read past its 3 bytes
    assert dict(by_number[4].data)["Size"] != "8791141923277701633"
    assert len(issues) == 3
    first, second, third = issues
    # a kept record's issue comes before it and names the value, its type and its size
    assert first.reason.startswith("bad value kept as a stand-in: ") and "(uint32, 3 bytes)" in first.reason
    assert "uint16, 0 bytes" in second.reason and "bad value" in second.reason
    assert third.reason.startswith("bad value kept as a stand-in: ") and "(SizeT, 3 bytes)" in third.reason
    items = list(evtx.iter_events(str(path), 0, jobs=1))
    assert isinstance(items[1], ParseIssue) and isinstance(items[2], Event) and items[2].record_number == 2
    with Store(":memory:") as store:
        [info] = load_paths([str(path)], store, jobs=1)
        assert (info.records, len(info.parse_issues)) == (3, 3)
        assert [i.reason for i in info.parse_issues] == [i.reason for i in issues]
