"""The Sessions list's rows hold no process object (issue 18): the model's processes are columns
(`ProcessTable`) whose `Process` is made when read, so a row keeping a tuple of its session's
processes kept every instance in a listed session as an object (35 MB at a million churn
events); each row reads them when shown (`ProcessesAt`), the same processes in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.churn import build_churn_store
from core.correlate.model import CorrelationModel, model_from_store
from core.correlate.process_table import ProcessTable
from core.correlate.processes import Process
from core.store.store import Store
from tests.correlate.heap import Calls, deep_size
from tui import session_rows as session_rows_module
from tui.session_detail import processes_node
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
    KB mapped a read): the pages are given back every RELEASE_EVERY sessions (the sort held 100
    MB of them at ten million events), and the order is the one of every session sorted at once."""
    monkeypatch.setattr(session_rows_module, "RELEASE_EVERY", 16)
    released = Calls(monkeypatch, model, "release_pages")
    rows = SessionRows(model)
    assert len(model.sessions) > 64
    assert released.count >= len(model.sessions) // 16
    assert rows._sessions == sorted(model.sessions, key=session_order)  # noqa: SLF001 - the order held
