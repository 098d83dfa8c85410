"""The session answers stay cheap per event where a logon id has many sessions or a session
many logoffs: a logon id logged on again and again gets a session per 4624 (SYSTEM's 0x3e7 had
one per service logon, 123,000 of 200,000 4624s on the replicated Security sample, before SYSTEM
became one session per boot; any other id still has one per logon), and a logon id logged off
again and again without a new 4624 keeps adding logoffs to one session (thousands on that log).
The build asks in time order; answers are checked against their definitions, in that order and
shuffled, and the work per answer is counted (searches, passes over a session's logoffs), not
timed."""

from __future__ import annotations

import bisect
import random
from types import SimpleNamespace
from typing import Any

import pytest

import core.correlate.session_columns as session_columns
import core.correlate.session_index as session_index
from core.correlate.model import build_model
from core.correlate.processes import Ref
from core.correlate.refcolumn import RefColumn
from core.correlate.session_columns import SessionColumns
from core.correlate.sessions import LOGON_WINDOW, SessionTracker
from tests.correlate.events import load, s4624, xml

TICK = 10_000_000  # one second in FILETIME ticks
HOST, COMPUTER = "pc", "PC"
#: A logon id with a session per 4624 (not a well-known one: SYSTEM's 0x3e7 is one session per
#: boot, its later 4624s logons into it).
REPEATED = 0x3F1A2
SESSIONS = 2_000


def _ref(record: int, eid: int, ts: int, order: int) -> Ref:
    return Ref(record, record, eid, ts, ts, order)


def _service_logons(n: int = SESSIONS) -> SessionTracker:
    """One logon id logged on every second (as a busy server logs its service logons)."""
    tracker = SessionTracker()
    for i in range(n):
        tracker.logon(HOST, COMPUTER, REPEATED, _ref(i, 4624, i * TICK, i), {"TargetUserName": "svc"}, at=i)
    tracker.finish_privileges()
    return tracker


def _expected_service(i: int, n: int = SESSIONS) -> tuple[int, tuple[int, int]]:
    """An event just after the i-th logon: that session, until the next one starts (the one
    after next is more than LOGON_WINDOW away only from the one after that)."""
    nxt = i + 1
    if nxt >= n:
        return i, (1 << 128, 0)
    bounds = [(nxt * TICK, nxt), (nxt * TICK - LOGON_WINDOW, -(1 << 64))]
    key = (i * TICK + 5, n + i)
    return i, min(b for b in bounds if b > key)


@pytest.mark.parametrize("shuffled", [False, True])
def test_many_sessions_of_one_id_get_their_answers_in_any_order(shuffled: bool) -> None:
    tracker = _service_logons()
    order = list(range(SESSIONS))
    if shuffled:
        random.Random(18).shuffle(order)
    for i in order:
        key = (i * TICK + 5, SESSIONS + i)
        choice, until = tracker.choose_span(HOST, COMPUTER, REPEATED, key, "NT SERVICE\\svc")
        session, expected_until = _expected_service(i)
        assert (choice.session, choice.reason) == (session, f"logon 4624 record {i}")
        assert until == expected_until


def test_questions_in_time_order_search_the_sessions_a_few_times_only(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = _service_logons()
    searches = 0

    def counted(name: str) -> Any:
        real = getattr(bisect, name)

        def search(*args: Any, **kwargs: Any) -> int:
            nonlocal searches
            searches += 1
            return int(real(*args, **kwargs))
        return search

    monkeypatch.setattr(session_index, "bisect", SimpleNamespace(
        bisect_left=counted("bisect_left"), bisect_right=counted("bisect_right")))
    for i in range(SESSIONS):
        choice, _ = tracker.choose_span(HOST, COMPUTER, REPEATED, (i * TICK + 5, SESSIONS + i), None)
        assert choice.session == i
    # Each answer starts where the last one was found: a search of its own each was two to three
    # bisections of the id's 2,000 sessions (over 4,000 in all).
    assert searches <= 10


class _Counted(list[tuple[tuple[int, int], int, int | None]]):  # what `SessionColumns.logoffs` returns
    """A session's logoffs that count the passes made over them."""

    passes = 0

    def __iter__(self) -> Any:
        _Counted.passes += 1
        return super().__iter__()


LOGOFFS = 3_000
LID = 0x5000


def _logged_off_again_and_again(monkeypatch: pytest.MonkeyPatch) -> SessionTracker:
    tracker = SessionTracker()
    tracker.logon(HOST, COMPUTER, LID, _ref(0, 4624, 0, 0), {"TargetUserName": "u"}, at=0)
    for j in range(1, LOGOFFS + 1):
        tracker.logoff(HOST, COMPUTER, LID, _ref(j, 4634, j * TICK, j), {"TargetUserName": "u"}, at=j)
    tracker.finish_privileges()
    real = SessionColumns.logoffs
    monkeypatch.setattr(SessionColumns, "logoffs", lambda self, idx: _Counted(real(self, idx)))
    _Counted.passes = 0
    return tracker


def test_a_session_with_thousands_of_logoffs_answers_without_a_pass_over_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = _logged_off_again_and_again(monkeypatch)
    for j in range(LOGOFFS):
        key = (j * TICK + 5, LOGOFFS + 10 + j)
        choice, until = tracker.choose_span(HOST, COMPUTER, LID, key, "u")
        assert choice.session == 0
        if j == 0:
            assert choice.reason == "logon 4624 record 0"
        else:  # after the first logoff: the earliest is named
            assert choice.reason == "used after its logoff (4634 record 1)"
        # Before the first logoff the answer holds until just after it (where it is no longer
        # after this event); past it, until the next logoff, a logoff of its own session (not
        # "used after its logoff").
        assert until == ((j + 1) * TICK, j + 2 if j == 0 else j + 1)
    assert _Counted.passes == 0


def test_logoffs_are_kept_in_time_order() -> None:
    columns = SessionColumns()
    idx = columns.add(HOST, COMPUTER, LID, (0, 0), 0, 0)
    for ts, order in [(5, 3), (2, 1), (9, 4), (2, 0)]:  # fed out of order
        columns.logoff(idx, (ts, order), 4634, order, order)
    assert [r[0] for r in columns.logoffs(idx)] == [(2, 0), (2, 1), (5, 3), (9, 4)]


def test_a_built_models_session_with_many_logoffs_is_read_once_for_many_links(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Events outside the scan (a 4648...) are linked to their sessions after the build: each
    # link read the session's logoffs, one `Ref` made per logoff, every time.
    docs = [s4624(1, 0.0, "0x5000", user="u")]
    docs += [xml(4634, 1 + j, float(j), TargetLogonId="0x5000", TargetUserName="u", TargetDomainName="DOM",
                 LogonType="3") for j in range(1, 301)]
    model = build_model(load(*docs))
    logon = model.sessions[0].logon
    assert logon is not None
    passes = 0
    real = RefColumn.__iter__

    def counted(self: RefColumn) -> Any:
        nonlocal passes
        passes += 1
        return real(self)

    monkeypatch.setattr(RefColumn, "__iter__", counted)
    for j in range(200):
        ref = Ref(10_000 + j, 10_000 + j, 4648, None, logon.ts + int((j + 0.5) * TICK), -1)
        link = model.session_link("HOST1", 0x5000, ref, "DOM\\u")
        assert link.session is model.sessions[0]
        assert link.reason == ("logon 4624 record 1" if j == 0 else "used after its logoff (4634 record 2)")
    assert passes <= 1


def test_the_logoffs_remembered_are_bounded_in_number_not_only_in_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_columns, "LOGOFFS_HELD", 120)
    columns = SessionColumns()
    for s in range(10):
        idx = columns.add(HOST, COMPUTER, LID + s, (s, s), s, s)
        for j in range(50):
            columns.logoff(idx, (100 + j, 100 * s + j), 4634, j, j)
    for idx in range(10):
        assert len(columns.logoffs(idx)) == 50
        assert sum(map(len, columns._logoffs.values())) <= 120 + 50


#: A service's virtual account (its logons are not SYSTEM's well-known one).
SERVICE_SID = "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"


def test_a_service_logon_logged_over_and_over_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = SessionTracker()
    reads = 0
    real = SessionTracker._text

    def counted(self: SessionTracker, value: str | None) -> str | None:
        nonlocal reads
        reads += 1
        return real(self, value)

    monkeypatch.setattr(SessionTracker, "_text", counted)
    service: dict[str, str | None] = {
        "TargetDomainName": "NT SERVICE", "TargetUserName": "MSSQLSERVER", "TargetUserSid": SERVICE_SID,
        "LogonType": "5", "LogonProcessName": "Advapi  ", "AuthenticationPackageName": "Negotiate",
        "ElevatedToken": "%%1842", "TargetLinkedLogonId": "0x0", "IpAddress": "-"}
    for i in range(1_000):
        tracker.logon(HOST, COMPUTER, REPEATED, _ref(i, 4624, i * TICK, i), service, at=i)
    other = dict(service, TargetUserName="svc", LogonType="4", TargetLinkedLogonId="0x99")
    tracker.logon(HOST, COMPUTER, 0x77, _ref(2_000, 4624, 2_000 * TICK, 2_000), other, at=2_000)
    assert reads <= 2 * 7  # one read of each of the two distinct logons' seven texts
    columns = tracker._columns
    assert columns is not None
    assert [columns.said_of(i)[:4] for i in (0, 999)] == [("NT SERVICE\\MSSQLSERVER", SERVICE_SID, "5", None)] * 2
    assert columns.said_of(0)[7:] == ("Advapi", True, None)
    assert columns.said_of(1_000)[:3] == ("NT SERVICE\\svc", SERVICE_SID, "4")
    assert columns.said_of(1_000)[7:] == ("Advapi", True, 0x99)


def test_what_logons_said_is_remembered_for_a_bounded_number_of_value_sets() -> None:
    from core.correlate import sessions

    tracker = SessionTracker()
    for i in range(3 * sessions._SAID_KEPT):
        tracker.logon(HOST, COMPUTER, 0x1000 + i, _ref(i, 4624, i * TICK, i), {"TargetUserName": f"u{i}"}, at=i)
        assert len(tracker._said) <= sessions._SAID_KEPT
    columns = tracker._columns
    assert columns is not None and columns.said_of(3 * sessions._SAID_KEPT - 1)[0] == f"u{3 * sessions._SAID_KEPT - 1}"
