"""`/` in a stored list (`core.store.correlation_tables.find_line`): the next line after the
cursor whose searched text holds the typed text, in any case (also beyond ASCII, as the view
compared them in Python), wrapping around, backwards with `N`, among the lines the view shows."""

from __future__ import annotations

import json
from pathlib import Path

from core.store import correlation_tables as tables
from core.store.store import Store


def _list(tmp_path: Path, searches: list[str]) -> Store:
    store = Store(tmp_path / "store.db")
    assert tables.write_instances(store, tables.CorrelationTables())
    lines = [(None, "[]", "[]", json.dumps({"search": text})) for text in searches]
    assert tables.write_views(store, {}, {"sessions": (lines, len(lines))})
    return store


def test_find_line_wraps_folds_case_and_goes_back(tmp_path: Path) -> None:
    store = _list(tmp_path, ["alice 0x1", "bob 0x2", "ÉLODIE 0x3", "alice 0x4", "carol"])
    find = tables.find_line
    assert find(store, "sessions", "search", "ALICE", after=0, limit=5) == 3
    assert find(store, "sessions", "search", "alice", after=3, limit=5) == 0  # wraps around
    assert find(store, "sessions", "search", "élodie", after=0, limit=5) == 2  # not ASCII: still any case
    assert find(store, "sessions", "search", "alice", after=3, forward=False, limit=5) == 0
    assert find(store, "sessions", "search", "alice", after=0, forward=False, limit=5) == 3  # wraps back
    assert find(store, "sessions", "search", "carol", after=0, limit=4) is None  # past the lines shown
    assert find(store, "sessions", "search", "dave", after=0, limit=5) is None
    assert find(store, "sessions", "search", "alice 0x1", after=0, limit=5) == 0  # only itself
    store.close()
