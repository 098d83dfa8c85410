"""A model build told to stop (its `progress` raises: the app's end) stops in the steps after the
reading too, not only while it reads: at ten million events those steps take 13 s, the longest
(the sessions' answers) 8 s, and the app's exit waits for the build's thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import core.correlate.facts as facts_module
import core.correlate.model as model_module
from core.correlate.model import model_from_store
from core.store.store import Store


class Stop(Exception):
    pass


def test_a_build_stops_within_the_sessions_answers(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts_module, "ROWS_CHUNK", 256)  # several chunks in this small store
    chunks: list[int] = []
    real = facts_module.FactsTable.assign_session_spans

    def counted(self: facts_module.FactsTable, choose: facts_module.SpanChooser,
                check: Callable[[], None] | None = None) -> None:
        def counting() -> None:
            chunks.append(1)
            if check is not None:
                check()
        real(self, choose, counting)

    monkeypatch.setattr(facts_module.FactsTable, "assign_session_spans", counted)
    made: list[int] = []
    init = model_module.CorrelationModel.__init__

    def making(self: model_module.CorrelationModel, scan: Any) -> None:
        made.append(1)
        init(self, scan)

    monkeypatch.setattr(model_module.CorrelationModel, "__init__", making)
    told: list[tuple[int, int]] = []

    def progress(read: int, total: int) -> None:
        told.append((read, total))
        if len(chunks) >= 3:  # the app ended while the sessions' answers were being made
            raise Stop

    with Store(churn_db, readonly=True) as store, pytest.raises(Stop):
        model_from_store(store, progress)
    assert len(chunks) == 3 and made == []  # stopped at that chunk: no model made
    total = told[0][1]
    assert total > 0 and told[-1] == (total, total)


def test_a_build_not_told_to_stop_is_the_same(churn_db: Path) -> None:
    told: list[tuple[int, int]] = []
    with Store(churn_db, readonly=True) as store:
        quiet = model_from_store(store)
        checked = model_from_store(store, lambda read, total: told.append((read, total)))
    assert len(quiet.processes) == len(checked.processes) > 0
    assert len(quiet.handles) == len(checked.handles) and len(quiet.sessions) == len(checked.sessions)
    total = told[0][1]
    assert told.count((total, total)) >= 6  # the last read, then each step after it


def test_a_build_stops_within_the_models_columns(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's columns (`CorrelationModel(scan)`, ~4 s at ten million events) are checked
    between their steps: a stop asked for while they are made ends the build there."""
    inside: list[int] = []
    init = model_module.CorrelationModel.__init__

    def making(self: model_module.CorrelationModel, scan: Any) -> None:
        inside.append(0)
        init(self, scan)
        inside.append(0)

    monkeypatch.setattr(model_module.CorrelationModel, "__init__", making)
    checks: list[int] = []

    def progress(read: int, total: int) -> None:
        if len(inside) == 1:  # within the model's columns
            checks.append(1)

    with Store(churn_db, readonly=True) as store:
        model_from_store(store, progress)
    assert len(checks) >= 4  # after the processes, the handles, the sessions; the pid index

    def stopping(read: int, total: int) -> None:
        if len(inside) == 3:  # the second build, within its columns
            raise Stop

    with Store(churn_db, readonly=True) as store, pytest.raises(Stop):
        model_from_store(store, stopping)
    assert len(inside) == 3  # the second model never made
