"""What the tests of the correlation views stored with a log share (the tables of
`core.store.correlation_tables` and the line trees of `core.store.event_trees`, read by
`tui.stored_views`): a loaded store of some events, the views' builders, trees as comparable
values, a model build made to fail (a reopen must not build it), whether a view's tables are
written, and the check that every Handles and Process access line's stored tree is the model's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text

import tui.stored_views as sv
from core.correlate.model import CorrelationModel, model_from_store
from core.store import correlation_tables
from core.store.store import Store, StoredEvent
from tui.model_cache import ModelCache
from tui.nav_tree import TreeItem, ViewNode, node_reason
from tui.stored_views import StoredNode, fetch_event_children, load_event_tree
from tui.view_builders import all_view_builders

BUILDERS = all_view_builders()
EVERYTHING = 10**9
#: The views whose lines show their event's tree.
LISTS = ("handles", "process_access")


def store_db(tmp_path: Path, events: list[StoredEvent]) -> Path:
    """A store of `events` in `tmp_path`, indexed and complete as a loaded log's: its path."""
    db = tmp_path / "store.db"
    with Store(db) as store:
        store.add_events(se.event for se in events)
        store.build_indexes()
        store.set_meta("complete", "1")
    return db


def text(label: Text | str) -> object:
    if isinstance(label, str):
        return ("str", label)
    return ("text", label.plain, str(label.style), [(s.start, s.end, str(s.style)) for s in label.spans],
            label.justify)


def shape(items: Sequence[TreeItem]) -> list[object]:
    """A tree as comparable values: what each node shows and where it jumps, recursively."""
    return [(text(n.label), n.confidence, n.store_id, node_reason(n), shape(n.children)) for n in items]


def no_model(store: Store, progress: Any = None) -> Any:
    raise AssertionError("the model was built")


def ready(db: Path, name: str) -> bool:
    with Store(db, readonly=True) as store:
        return correlation_tables.view_ready(store, name)


def _unfolded_event_tree(db: Path, items: list[TreeItem]) -> list[TreeItem]:
    """A paged event tree with every node unfolded, following the "more" lines."""
    out: list[TreeItem] = []
    for item in items:
        if isinstance(item, StoredNode) and item.more_after is not None:
            out.extend(_unfolded_event_tree(db, fetch_event_children(db, item.parent_id, item.more_after)))
            continue
        kids = list(item.children)
        if isinstance(item, StoredNode) and item.kids and not kids:
            kids = fetch_event_children(db, item.node_id)
        assert isinstance(item, ViewNode)  # read back from the store: no engine `Node`
        out.append(StoredNode(item.label, item.store_id, tuple(_unfolded_event_tree(db, kids)), item.confidence,
                              item.reason))
    return out


def line_trees_as_the_model_shows_them(tmp_path: Path, events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch,
                                       paged: bool = True) -> tuple[int, int, int]:
    """Every line's stored tree, read whole and (`paged`) page by page, is the model's tree
    of its event; (lines checked, nodes those trees have, nodes stored)."""
    db = store_db(tmp_path, events)
    if paged:
        monkeypatch.setattr(correlation_tables, "CHUNK", 7)  # written in many transactions
    cache = ModelCache()
    for name in BUILDERS:
        assert cache.stored_view(db, True, name, BUILDERS, wait=True)
    monkeypatch.setattr(sv, "PAGE", 2)  # small pages: the "more" lines are followed too
    lines = shown = 0
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        for name in LISTS:
            for row in BUILDERS[name](model).rows or ():
                assert row.store_id is not None
                event = store.get(row.store_id)
                assert event is not None
                expected = shape([model.correlate(event).tree()])
                whole = load_event_tree(store, row.store_id, EVERYTHING)
                assert whole is not None and shape(whole[0]) == expected, (name, row.store_id)
                if paged:
                    page = load_event_tree(store, row.store_id, 0)
                    assert page is not None and page[1] == whole[1]
                    assert shape(_unfolded_event_tree(db, page[0])) == expected, (name, row.store_id)
                lines += 1
                shown += whole[1]
        stored = store.conn.execute("SELECT count(*) FROM corr_tnode").fetchone()[0]
    return lines, shown, stored


def stored_links(model: CorrelationModel, se: StoredEvent) -> list[tuple[str, str, int | None, str, str]]:
    """The links `correlate` gives an event, as the store keeps them."""
    c = model.correlate(se)
    out: list[tuple[str, str, int | None, str, str]] = []
    for role, link in (("source process", c.source_process), ("target process", c.target_process)):
        if link is not None:
            out.append((role, "process", link.process.index if link.process else None, link.confidence, link.reason))
    for role, hlink in (("source handle", c.source_handle), ("target handle", c.target_handle)):
        if hlink is not None:
            out.append((role, "handle", hlink.handle.index if hlink.handle else None, hlink.confidence, hlink.reason))
    if c.session is not None:
        s = c.session
        out.append(("session", "session", s.session.index if s.session else None, s.confidence, s.reason))
    return out
