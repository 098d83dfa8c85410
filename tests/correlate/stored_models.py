"""The model of a hand-made log built as the app builds it: from a store, its scan rows read in
process or by the reading child (`core.correlate.scan_reader`), for tests that check an answer
both ways (a child's frames carry what the in-process scan works out itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.correlate import scan_reader
from core.correlate.model import CorrelationModel, model_from_store
from core.correlate.persist import links
from core.store.ingest import load_paths
from core.store.store import Store, StoredEvent
from tests.cliutil import run_cli
from tests.correlate.events import by_record
from tests.logs import write_events

READERS = ("in process", "child")


def stored_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs: list[str],
                 reader: str) -> tuple[CorrelationModel, list[StoredEvent]]:
    """The model of the log `docs` (Event XML) built from a store, its rows read by `reader`
    (one of READERS: "child" makes any store read by the child, and fails a read in process),
    and the store's events."""
    path = write_events(tmp_path / "log.xml", docs)
    db = tmp_path / "store.db"
    with Store(db) as store:
        load_paths([str(path)], store)
        store.set_meta("complete", "1")  # (as the cache marks a store fully loaded: a child may read it)
    if reader == "child":
        monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)
        monkeypatch.setattr(scan_reader, "cores", lambda: 2)
        monkeypatch.setattr(scan_reader, "stream", lambda *a: pytest.fail("read in process"))
    with Store(db, readonly=True) as store:
        return model_from_store(store), list(store.iter_events())


def correlate_json(tmp_path: Path, docs: list[str], record: int) -> dict[str, Any]:
    """`correlate --json` of the event `record` in a log of `docs`: its one answer."""
    path = write_events(tmp_path / "cli.xml", docs)
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", str(record), "--json")
    assert status == 0, err
    (doc,) = json.loads(out)
    return doc  # type: ignore[no-any-return]


def record_links(model: CorrelationModel, events: list[StoredEvent], record: int) -> dict[str, tuple[str, str]]:
    """The stored links of the event `record`: role -> (confidence, reason)."""
    sid = by_record(events, record).id
    return {row[1]: (row[4], row[5]) for row in links(model) if row[0] == sid}
