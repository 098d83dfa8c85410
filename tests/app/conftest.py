"""Fixtures of the app tests: `story_store`, the views' hand-made log in a store."""

from __future__ import annotations

from pathlib import Path

import pytest

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
