"""The sessions' processes (`SessionTracker.assign`) read the process columns a chunk at a time
(`process_table.logons`: every instance's keys at once were +150 MB at ten million events): the
answer must not depend on where the chunks fall, neither for the sessions' processes nor for the
processes whose logon id has no session (the orphans)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bench.churn import Generator, Host, build_churn_store
from bench.churn_values import MS
from core.correlate import process_table
from core.correlate.model import model_from_store
from core.correlate.process_table import ProcessTable
from core.model.rows import store_id
from core.store.store import Store


class _NoSystemLogons(Generator):
    """The churn log without the SYSTEM 4624s and 4672s of one computer (service logons not
    audited there): with no 4624 of SYSTEM's logon id in its boot no session is made for it, and
    its SYSTEM processes are orphans (elsewhere SYSTEM's session holds them, before its first 4624
    too). The events left out are counted, never written."""

    def emit(self, host: Host, eid: int, data: tuple[tuple[str, str], ...]) -> int:
        if host is self.hosts[1] and ((eid == 4624 and ("TargetLogonId", "0x3e7") in data)
                                      or (eid == 4672 and ("SubjectLogonId", "0x3e7") in data)):
            self.count += 1
            self.ts += MS
            return store_id(0, self.count)
        return super().emit(host, eid, data)


def _members(db: Path) -> tuple[list[Sequence[int]], dict[tuple[str, int], tuple[int, ...]]]:
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
    assert isinstance(model.processes, ProcessTable)  # the columns' path, the one chunked
    orphans = model.session_processes()[1]
    return [s.processes for s in model.sessions], {key: tuple(p.index for p in procs) for key, procs in orphans.items()}


def test_sessions_processes_are_the_same_whatever_the_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "churn.sqlite"
    monkeypatch.setattr(sys.modules["bench.churn"], "Generator", _NoSystemLogons)
    build_churn_store(db, 20_000, seed=11)
    whole, whole_orphans = _members(db)
    assert sum(map(len, whole)) > 500 and len(whole) > 50
    assert [(computer, lid) for computer, lid in whole_orphans] == [("WS01.corp.example.com", 0x3E7)]
    assert len(next(iter(whole_orphans.values()))) > 20
    for chunk in (1, 7, 1000):
        monkeypatch.setattr(process_table, "LOGONS_CHUNK", chunk)
        assert _members(db) == (whole, whole_orphans)
