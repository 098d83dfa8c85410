"""A model's sessions held as columns once the scan is done (`core.correlate.session_frozen`): each
read equal to the session frozen as an object before (that freeze, kept here as the oracle), read
as a sequence the way a tuple of them was, and none held as an object by the built model."""

from __future__ import annotations

import gc
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from core.correlate import session_frozen
from core.correlate.indexes import Indexes, IndexesAt
from core.correlate.model import build_model, model_from_store
from core.correlate.refcolumn import RefColumn, RefSource
from core.correlate.session_columns import SessionColumns
from core.correlate.session_frozen import FrozenSessions, SessionsAt
from core.correlate.session_network import network_index, network_logons
from core.correlate.sessions import Session
from core.store.store import Store
from tests.correlate.events import load, s4624, xml
from tests.correlate.heap import reachable

SESSIONS = 120


def _frozen_as_objects(columns: SessionColumns, members: Mapping[int, Sequence[int]],
                       facts: RefSource) -> tuple[Session, ...]:
    """The sessions as `SessionTracker.finish` froze them before (one object each)."""
    out = []
    for idx in range(len(columns)):
        logoffs = columns.logoffs_at(idx) if columns.off_first[idx] >= 0 else None
        out.append(Session(columns.index[idx], columns.places[columns.place[idx]][1], columns.logon_id[idx],
                           columns.logon_at[idx], RefColumn(facts, logoffs) if logoffs else (),
                           columns.privileges_at[idx], *columns.said_of(idx),
                           Indexes(members[idx]) if idx in members else (), facts))
    return tuple(out)


def _log() -> list[str]:
    """Sessions with and without a 4624, 4672, logoffs (one, two) and processes, logon ids
    with the top bit set, on two computers."""
    docs = []
    rid = 0
    for i in range(SESSIONS):
        lid = f"0x{0x7a0000 + i:x}" if i % 17 else f"0x{(1 << 64) - 1 - i:x}"
        pc = "WS1" if i % 3 else "ws2.corp"
        sec = i * 0.5
        if i % 5:
            rid += 1
            docs.append(s4624(rid, sec, lid, user=f"user{i % 7}", computer=pc))
        if i % 4 == 0:
            rid += 1
            docs.append(xml(4672, rid, sec + 0.01, SubjectLogonId=lid, SubjectUserName=f"user{i % 7}",
                            SubjectDomainName="DOM", computer=pc))
        for k in range(i % 3):
            rid += 1
            docs.append(xml(4688, rid, sec + 0.02 + k / 100, SubjectLogonId=lid, SubjectUserName=f"user{i % 7}",
                            SubjectDomainName="DOM", NewProcessId=f"0x{4 * (rid + 100):x}",
                            NewProcessName=f"C:\\Windows\\p{k}.exe", ProcessId="0x4", computer=pc))
        for k in range(i % 3 if i % 2 else 0):
            rid += 1
            docs.append(xml(4634 if k else 4647, rid, sec + 0.3 + k / 100, TargetLogonId=lid,
                            TargetUserName=f"user{i % 7}", TargetDomainName="DOM", computer=pc))
    return docs


def test_sessions_read_equal_to_those_frozen_as_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    expected: list[tuple[Session, ...]] = []
    real = FrozenSessions.__init__

    def frozen(self: FrozenSessions, columns: SessionColumns, members: Mapping[int, Sequence[int]],
               facts: RefSource) -> None:
        expected.append(_frozen_as_objects(columns, members, facts))
        real(self, columns, members, facts)

    monkeypatch.setattr(FrozenSessions, "__init__", frozen)
    model = build_model(load(*_log()))
    (old,) = expected
    sessions = model.sessions
    assert isinstance(sessions, FrozenSessions) and len(sessions) == len(old) > SESSIONS * 3 // 4
    assert list(sessions) == list(old) and sessions == old and tuple(sessions) == old
    assert [sessions[i] for i in range(len(old))] == list(old)
    assert sessions[-1] == old[-1] and sessions[3:9] == old[3:9] and sessions[::-7] == old[::-7]
    with pytest.raises(IndexError):
        sessions[len(old)]
    # What the log holds, as the sessions say it.
    assert sum(1 for s in sessions if len(s.logoffs) == 2) > 5 and sum(1 for s in sessions if s.processes) > 50
    assert {s.computer for s in sessions} == {"WS1", "ws2.corp"}
    assert sessions[5] is sessions[5]  # read by index: kept made for the next reader


def test_sessions_kept_made_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_frozen, "MADE", 8)
    model = build_model(load(*_log()))
    sessions = model.sessions
    assert isinstance(sessions, FrozenSessions)
    read = [sessions[i] for i in range(len(sessions))]
    assert len(sessions._made) <= 8  # noqa: SLF001 - what it keeps
    assert list(sessions) == read


def test_a_built_model_holds_no_session_object(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    gc.collect()
    assert len(model.sessions) > 50
    held = reachable(model)
    assert len([o for o in held if isinstance(o, Session)]) < len(model.sessions) // 10
    assert not [o for o in held if isinstance(o, SessionColumns)]


def test_a_sessions_processes_are_read_in_place_equal_to_their_tuple() -> None:
    values = array("q", range(100, 200))
    at = IndexesAt(values, 10, 25)
    expected = tuple(range(110, 125))
    assert at == expected and at == list(expected) and at == Indexes(expected) and at == IndexesAt(values, 10, 25)
    assert hash(at) == hash(expected) and repr(at) == repr(expected) and len(at) == 15
    assert at[0] == 110 and at[-1] == 124 and tuple(at[2:5]) == (112, 113, 114) and list(reversed(at)) == [
        *reversed(expected)]
    assert at != IndexesAt(values, 10, 24) and at != (110,)
    with pytest.raises(IndexError):
        at[15]
    # Made again, a session holds its processes where the model holds them: nothing copied.
    model = build_model(load(*_log()))
    busy = next(s for s in model.sessions if len(s.processes) > 1)
    assert isinstance(busy.processes, IndexesAt)
    assert busy.processes._values is model.sessions[busy.index].processes._values  # type: ignore[attr-defined]  # noqa: SLF001


def test_network_logons_are_read_when_asked_for() -> None:
    docs = [xml(4624, i + 1, i * 0.5, TargetLogonId=f"0x{0x9000 + i:x}", TargetUserName=f"u{i % 3}",
                TargetDomainName="DOM", LogonType="3", IpAddress="10.1.2.3" if i % 4 else "::1")
            for i in range(40)]
    model = build_model(load(*docs))
    sessions = model.sessions
    index = network_index(sessions)
    shown = next(s for s in sessions if s.remote_ip)
    same = network_logons(sessions, shown, index)
    assert isinstance(same, SessionsAt) and len(same) == 29
    assert same == network_logons(sessions, shown) and list(same[2:5]) == list(network_logons(sessions, shown))[2:5]
    assert all(s.ip == "10.1.2.3" and s.index != shown.index for s in same)
