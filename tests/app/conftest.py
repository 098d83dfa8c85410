"""Fixtures of the app tests: `story_store`, the views' hand-made log in a store; `demo_store`;
`churn_store`, a synthetic log with process, handle and logon churn (`bench.churn`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.churn import build_churn_store
from core.store.cache import open_inputs
from tests.app.story import story
from tests.apputil import DEMO
from tests.logs import write_events


@pytest.fixture
def story_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The story loaded into a store; returns the database path."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    log = write_events(tmp_path / "story.xml", story())
    store = open_inputs([str(log)])
    path = store.path
    store.close()
    return path


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled demo log loaded into a store of its own (the cache under `tmp_path`)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    return path


@pytest.fixture
def churn_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """20,000 events of `bench.churn` (pids and handle values reused) as a store of their own."""
    for name in ("CACHE", "DATA", "CONFIG"):
        monkeypatch.setenv(f"EVTX_EXPLORER_{name}_DIR", str(tmp_path / name.lower()))
    db = tmp_path / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    return db
