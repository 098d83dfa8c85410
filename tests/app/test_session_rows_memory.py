"""The Sessions list's rows hold no process object (issue 18): the model's processes are columns
(`ProcessTable`) whose `Process` is made when read, so a row keeping a tuple of its session's
processes kept every instance in a listed session as an object (35 MB at a million churn
events); each row reads them when shown (`ProcessesAt`), the same processes in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.churn import build_churn_store
from core.correlate import session_frozen
from core.correlate.model import CorrelationModel, model_from_store
from core.correlate.process_table import ProcessTable
from core.correlate.processes import Process
from core.correlate.session_frozen import FrozenSessions
from core.correlate.sessions import Session
from core.store.store import Store
from tests.correlate.heap import Calls, deep_size, given_back
from tui.session_detail import linked_index, processes_node
from tui.session_rows import SessionRows, session_order
from tui.sessions import session_rows


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> CorrelationModel:
    db: Path = tmp_path_factory.mktemp("churn") / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    with Store(db, readonly=True) as store:
        return model_from_store(store)


def test_session_rows_hold_no_process_object(model: CorrelationModel) -> None:
    rows = [row for row in session_rows(model, 20_000) if row.session is not None]
    assert len(rows) > 50 and sum(len(row.processes) for row in rows) > 500
    if isinstance(model.processes, ProcessTable):
        model.processes._recent.clear()  # the last few made, remembered: not what the rows hold
    shared: set[int] = set()
    deep_size(model, shared)
    assert deep_size(rows, shared, Process)[1] == 0
    for row in rows:
        assert row.session is not None
        expected = [model.processes[i] for i in row.session.processes]
        assert list(row.processes) == expected and row.processes == tuple(expected)
        assert list(row.processes[1:3]) == expected[1:3] and len(row.processes) == len(expected)
    busy = max(rows, key=lambda row: len(row.processes))
    assert processes_node(busy.processes) == processes_node(tuple(busy.processes))


def test_the_sessions_order_gives_the_pages_it_read_back(model: CorrelationModel,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorting the sessions reads each one's start from the facts' side file at its own place (64
    KB mapped a read): the reads count toward the give-back of the pages, a chunk at a time (the
    sort held 100 MB of them at ten million events), and the order is the one of every session
    sorted at once by `session_start`, which makes a `Ref` each (most of the Sessions view's wait
    at 359,000 sessions, so not how it is read)."""
    from core.correlate import facts as facts_module

    monkeypatch.setattr(facts_module, "LOOKUPS_CHUNK", 16)
    released = given_back(monkeypatch, 32)  # two reads (time, order) a session
    refs = Calls(monkeypatch, model._facts, "ref")  # noqa: SLF001 - what the sort makes
    rows = SessionRows(model)
    assert len(model.sessions) > 64
    assert released.count >= len(model.sessions) // 16 - 1
    assert refs.count <= sum(1 for s in model.sessions if s.logon_at < 0 and s.privileges_at < 0)
    assert rows._sessions == sorted(model.sessions, key=session_order)  # noqa: SLF001 - the order held


def test_the_sessions_list_holds_no_session_object(model: CorrelationModel,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The model makes a session when read (`FrozenSessions`, which keeps the last few made): the
    list keeps its order as indexes, not a session object each (15 MB at ten million churn events)."""
    monkeypatch.setattr(session_frozen, "MADE", 4)
    assert isinstance(model.sessions, FrozenSessions)
    model.sessions._made.clear()  # noqa: SLF001 - those kept made so far
    rows = SessionRows(model)
    shared: set[int] = set()
    deep_size(model, shared)
    assert len(rows) > 50
    assert deep_size(rows, shared, Session)[1] == 0
    assert [row.session for row in rows if row.session is not None] == sorted(model.sessions, key=session_order)


def test_the_sessions_view_reads_its_counts_and_order_without_making_every_session(
        model: CorrelationModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its walks through every session (processes per session, starts, computers, linked logons)
    read the model's columns: a session made for each took the view 1.7 s at 53,000 sessions."""
    from tui import sessions as view
    from tui.session_rows import session_counts

    assert isinstance(model.sessions, FrozenSessions)
    made = Calls(monkeypatch, FrozenSessions, "_make")
    _lines, total, computers, unreadable = view._made(model)  # noqa: SLF001 - what the view's worker runs
    assert total == len(model.session_processes()[1]) + len(model.sessions) > 50 and computers >= 1
    assert made.count < len(model.sessions) // 10
    assert session_counts(model) == (total, computers, unreadable) and unreadable == model.unreadable_logons
    # The same answers as a walk through the sessions made.
    assert computers == len({s.computer.casefold() for s in model.sessions} | {
        c.casefold() for c, _ in model.session_processes()[1]})
    assert model.session_processes()[0] == {s.index: [model.processes[i] for i in s.processes]
                                            for s in model.sessions if s.processes}
    wanted = {(s.computer.casefold(), s.linked_logon_id) for s in model.sessions if s.linked_logon_id is not None}
    expected: dict[tuple[str, int], list[Session]] = {}
    for s in model.sessions:
        if (s.computer.casefold(), s.logon_id) in wanted:
            expected.setdefault((s.computer.casefold(), s.logon_id), []).append(s)
    assert linked_index(model) == expected
