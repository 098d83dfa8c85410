"""The memory of a log with many logon sessions (the 1 GB replica of a real Security log holds
359,000 of them) does not hold a working copy per session: the tracker keeps columns while the
scan runs and drops its memos once every event has its answer, the model keeps a few arrays to
find sessions again, the links' writer remembers nothing per session, and the Sessions view
makes only the rows it lists. Sizes that users' memory depends on are asserted, not times."""

from __future__ import annotations

from pathlib import Path
from types import GeneratorType
from typing import Any

import pytest

import tui.session_rows as session_rows
import tui.sessions as sessions_view
from core.correlate import persist
from core.correlate.model import build_model, model_from_store
from core.correlate.processes import Ref
from core.correlate.scan import Scan, scan_events, time_order
from core.correlate.sessions import SessionTracker
from tests.correlate.events import by_record, load, s4624, xml
from tests.correlate.heap import reachable
from tui.session_detail import SessionRow

SESSIONS = 300


def _log(sessions: int = SESSIONS) -> list[str]:
    docs = []
    for i in range(sessions):
        lid = f"0x{0x7a0000 + i:x}"
        sec = i * 0.15
        docs.append(xml(4672, 3 * i + 1, sec, SubjectLogonId=lid, SubjectUserName=f"user{i % 5}",
                        SubjectDomainName="DOM"))
        docs.append(s4624(3 * i + 2, sec + 0.01, lid, user=f"user{i % 5}"))
        docs.append(xml(4634, 3 * i + 3, sec + 0.1, TargetLogonId=lid, TargetUserName=f"user{i % 5}",
                        TargetDomainName="DOM", LogonType="3"))
    # An event outside the scan (a 4648) linked to its session once the model is built.
    docs.append(xml(4648, 100_000, 7.52, SubjectLogonId=f"0x{0x7a0000 + 50:x}", SubjectUserName="user0",
                    SubjectDomainName="DOM", TargetServerName="srv"))
    return docs


def _scanned() -> Scan:
    scan = Scan()
    scan.feed(scan_events(time_order(load(*_log()))))
    return scan


def test_the_tracker_holds_no_ref_nor_object_per_session_while_the_scan_runs() -> None:
    scan = _scanned()
    held = reachable(scan.sessions)
    assert not [o for o in held if isinstance(o, Ref)]
    # Columns, not an object (with its Refs, ints and list of logoffs) per session: what remains per
    # session is its entry in the index the scan finds logoffs' sessions in, and its ints.
    assert len(held) <= 8 * SESSIONS


def test_the_answers_memo_goes_once_every_event_has_its_answer() -> None:
    scan = _scanned()
    scan.finish()
    tracker = scan.sessions
    assert not tracker._memo and not tracker._last and not tracker._answers
    assert len({id(f.session) for f in scan.facts if f.session is not None}) >= SESSIONS  # the answers themselves


def test_the_tracker_remembers_a_bounded_number_of_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SessionTracker, "REMEMBERED", 16)
    tracker = SessionTracker()
    tick = 10_000_000
    for i in range(200):
        tracker.logon("pc", "PC", 0x100 + i, Ref(i, i, 4624, i * tick, i * tick, i), {"TargetUserName": f"u{i}"}, at=i)
    tracker.finish_privileges()
    for i in range(200):
        choice = tracker.choose_at("pc", "PC", 0x100 + i, (i * tick + 5, 1000 + i), None)
        assert choice.session == i and choice.reason == f"logon 4624 record {i}"
        assert len(tracker._memo) <= 16 and len(tracker._last) <= 16 and len(tracker._answers) <= 16


def test_a_built_model_finds_sessions_without_a_dict_per_session() -> None:
    events = load(*_log())
    model = build_model(events)
    tracker = model._session_tracker
    held = reachable(tracker, skip=(model.sessions, model._facts))
    assert not [o for o in held if isinstance(o, (dict, list, tuple)) and len(o) >= SESSIONS]
    c = model.correlate(by_record(events, 100_000))  # found again after the build
    assert c.session is not None and c.session.session is model.sessions[50]
    assert (c.session.confidence, c.session.reason) == ("exact", f"logon 4624 record {3 * 50 + 2}")


def test_the_links_writer_remembers_nothing_per_session() -> None:
    model = build_model(load(*_log()))
    links = persist.links(model)
    rows = [next(links) for _ in range(len(model._facts) - 1)]
    assert isinstance(links, GeneratorType) and links.gi_frame is not None  # suspended in `links`
    words = links.gi_frame.f_locals["words"]
    assert all(len(held) < SESSIONS // 2 for held in vars(words).values() if isinstance(held, dict))
    assert rows[1] == (2, "session", "session", 0, "exact", "logon 4624 record 2")


def test_the_sessions_view_makes_its_rows_as_they_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model(load(*_log()))
    everything = sessions_view.session_rows(model)
    made: list[Any] = []
    real = SessionRow  # what `tui.session_rows` makes them with

    def counted(*args: Any) -> Any:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(session_rows, "SessionRow", counted)
    stored = sessions_view.stored_sessions(model)
    assert stored.total == SESSIONS and stored.rows is not None and len(stored.rows) == SESSIONS  # every one
    assert not [args for args in made if args[3]]  # none made with its processes up front
    made.clear()
    lines = [stored.rows[3], stored.rows[SESSIONS - 1]]
    assert len(made) == 2  # each row made when read
    assert [line.store_id for line in lines] == [everything[3].store_id, everything[-1].store_id]
    assert [c.plain for c in lines[0].cells] == [c.plain for c in sessions_view.row_cells(everything[3])]


def test_the_sessions_processes_are_held_unboxed(churn_db: Path) -> None:
    """Each session's processes are 8 bytes an index (as a tuple of ints: 40, 25 MB at ten
    million events), equal to the tuple of them."""
    from core.store.store import Store
    from tests.correlate.heap import deep_size

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    held = tuple(s.processes for s in model.sessions)
    indexes = sum(len(p) for p in held)
    assert indexes > 500
    assert deep_size(held, set())[0] <= 8 * indexes + 100 * len(held)
    for s in model.sessions:
        assert s.processes == tuple(s.processes) and hash(s.processes) == hash(tuple(s.processes))
        assert repr(s.processes) == repr(tuple(s.processes))


def test_the_stored_sessions_list_their_processes_as_json(churn_db: Path) -> None:
    """The sessions' table keeps each session's processes as the JSON list of their indexes,
    whether held as a tuple or unboxed."""
    import json

    from core.correlate.persist import tables_of
    from core.store.correlation_tables import SESSION_COLUMNS
    from core.store.store import Store

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    at = SESSION_COLUMNS.index("processes")
    rows = list(tables_of(model).sessions)
    assert len(rows) == len(model.sessions)
    for row, s in zip(rows, model.sessions, strict=True):
        assert json.loads(row[at]) == list(s.processes)
