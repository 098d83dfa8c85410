"""The sessions' processes (`SessionTracker.assign`) read the process columns a chunk at a time
(`process_table.logons`: every instance's keys at once were +150 MB at ten million events): the
answer must not depend on where the chunks fall."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bench.churn import build_churn_store
from core.correlate import process_table
from core.correlate.model import model_from_store
from core.correlate.process_table import ProcessTable
from core.store.store import Store


def _members(db: Path) -> tuple[list[Sequence[int]], dict[tuple[str, int], tuple[int, ...]]]:
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
    assert isinstance(model.processes, ProcessTable)  # the columns' path, the one chunked
    orphans = model.session_processes()[1]
    return [s.processes for s in model.sessions], {key: tuple(p.index for p in procs) for key, procs in orphans.items()}


def test_sessions_processes_are_the_same_whatever_the_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "churn.sqlite"
    build_churn_store(db, 20_000, seed=11)
    whole, whole_orphans = _members(db)
    assert sum(map(len, whole)) > 500 and len(whole) > 50 and whole_orphans
    for chunk in (1, 7, 1000):
        monkeypatch.setattr(process_table, "LOGONS_CHUNK", chunk)
        assert _members(db) == (whole, whole_orphans)
