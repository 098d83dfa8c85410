"""The model build's fast paths give the answers of the plain ones: session answers remembered,
sessions assigned from the facts' columns, image names' keys remembered. (EventData decoded and
read once while it repeats: `test_scan_rows.py`.)"""

from __future__ import annotations

import pytest

from core.correlate import processes
from core.correlate.facts import Facts, FactsTable
from core.correlate.processes import EXACT, Ref
from core.correlate.sessions import SessionChoice, SessionTracker


def _ref(store_id: int, ts: int, event_id: int = 4663) -> Ref:
    return Ref(store_id, store_id, event_id, ts, ts, store_id)


def test_remembered_session_answers_are_those_made_afresh() -> None:
    tracker = SessionTracker()
    tick = 10_000_000  # a second
    tracker.logon("pc", "PC", 0x10, _ref(1, 100 * tick, 4624), {"TargetUserName": "bob"}, at=0)
    tracker.logoff("pc", "PC", 0x10, _ref(2, 200 * tick, 4634), {}, at=1)
    tracker.logon("pc", "PC", 0x10, _ref(3, 300 * tick, 4624), {"TargetUserName": "eve"}, at=2)
    tracker.logoff("pc", "PC", 0x20, _ref(4, 50 * tick, 4647), {}, at=3)
    tracker.privileged("pc", "PC", 0x30, _ref(5, 60 * tick, 4672), "alice", at=4)
    tracker.logon("pc", "PC", 0x40, _ref(6, 70 * tick, 4624), {}, at=5)  # no account: the event's
    tracker.finish_privileges()
    made = []
    for ts in range(0, 400 * tick, tick // 2):
        for lid in (0x10, 0x20, 0x30, 0x40, 0x3E7, 0x99):
            for user, adjacent in ((None, False), ("carol", False), ("carol", True), ("dave", False)):
                for host, computer in (("pc", "PC"), ("other", "OTHER"), ("other", "Other")):  # no 4624 on it
                    key = (ts, 1)
                    fresh = tracker._choose(host, computer, lid, key, user, adjacent)
                    got = tracker.choose_at(host, computer, lid, key, user, adjacent)
                    assert got == fresh
                    assert tracker.choose(host, computer, lid, _ref(1, ts), user, adjacent=adjacent) is got
                    made.append(got)
    assert len({id(c) for c in made}) == len(set(made))  # equal answers: one object


def test_sessions_assigned_from_the_columns_are_those_assigned_from_facts() -> None:
    def table() -> FactsTable:
        out = FactsTable()
        for i in range(50):
            found = Facts(Ref(1000 + i, 7 + i, 4672 if i % 7 == 0 else 4663, 500 + i, 500 + i, i),
                          f"ws{i % 3}.corp", f"WS{i % 3}.corp", logon_id=i % 4, user=f"u{i % 5}" if i % 6 else None)
            out.add(found)
        return out

    seen: list[tuple[object, ...]] = []

    def answer(host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, eid: int) -> SessionChoice:
        """An answer that says what it was asked (equal answers for equal questions)."""
        return SessionChoice(lid, key[1], EXACT, f"{host} {computer} {key} {eid}", user)

    def by_key(host: str, computer: str, lid: int, key: tuple[int, int], user: str | None,
               eid: int) -> SessionChoice | None:
        seen.append((host, computer, lid, key, user, eid))
        return answer(host, computer, lid, key, user, eid) if lid != 3 else None

    columns, objects = table(), table()
    columns.assign_sessions_at(by_key)
    objects.assign_sessions(lambda f: answer(f.host, f.computer, f.logon_id, f.ref.key, f.user, f.ref.event_id)
                            if f.logon_id and f.logon_id != 3 else None)
    assert [f.session for f in columns] == [f.session for f in objects]
    assert len(seen) == sum(1 for i in range(50) if i % 4)


def test_image_name_keys_are_remembered_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_NAME_KEYS", {})
    proc = processes._Proc(0, "pc", "PC", 4, _ref(0, 0))
    for i in range(processes.NAME_KEYS + 10):
        proc.add_name(f"C:\\Windows\\p{i % 3}.EXE", _ref(i, i))
    for name in (" - ", "", "C:\\x\\", "D:/tools/Cmd.exe"):
        proc.add_name(name, _ref(99, 99))
    proc.add_name(None, _ref(99, 99))
    assert isinstance(proc.names, dict)  # four names: kept by key
    assert list(proc.names) == ["p0.exe", "p1.exe", "p2.exe", "cmd.exe"]
    assert proc.names["cmd.exe"][0] == "D:/tools/Cmd.exe" and proc.image == "C:\\Windows\\p0.EXE"
    for i in range(processes.NAME_KEYS + 10):
        proc.add_name(f"n{i}", _ref(i, i))
    assert len(processes._NAME_KEYS) <= processes.NAME_KEYS
