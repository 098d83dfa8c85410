"""The Handles lines the background writer stores are made as they are written, none kept
(issue 18: all 20,000 made at once held 70 MB at the first open of a million-event log), and
each once: the stored list is the one the view shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tui.handles as handles_module
from core.correlate.model import Duplication
from core.store.store import Store
from tests.correlate.events import d4690, h4656, load, p4688
from tests.correlate.stored_tables import store_db
from tui import stored_views
from tui.model_cache import ModelCache
from tui.stored_views import load_list
from tui.view_builders import all_view_builders

LINES = 30


def _events() -> list[str]:
    docs = [p4688(1, 1.0, "0x100", r"C:\Windows\explorer.exe", "0x4"),
            p4688(2, 2.0, "0x200", r"C:\Tools\dumper.exe", "0x100")]
    for n in range(LINES):
        rid = 10 + 2 * n
        docs.append(h4656(rid, 10.0 + n, "0x200", hex(0x1000 + 4 * n), r"\Device\X", otype="Process"))
        docs.append(d4690(rid + 1, 10.5 + n, "0x200", hex(0x1000 + 4 * n), "0x100", hex(0x2000 + 4 * n)))
    return docs


def test_handles_lines_are_made_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = store_db(tmp_path, load(*_events()))
    made: list[int] = []
    alive_at_write: list[int] = []
    real_row = handles_module.handle_row

    def counted(dup: Duplication) -> handles_module.HandleRow:
        made.append(1)
        return real_row(dup)

    monkeypatch.setattr(handles_module, "handle_row", counted)
    real_write = stored_views.write_views

    def write(
        store: Store, built: dict[str, stored_views.ViewRows], check: Callable[[], None] | None = None
    ) -> bool:
        if "handles" in built:
            alive_at_write.append(len(made))  # the list is built: how many lines exist yet
        return real_write(store, built, check)

    monkeypatch.setattr("tui.model_cache.write_views", write)
    cache = ModelCache()
    builders = all_view_builders()
    assert cache.stored_view(db, True, "handles", builders, wait=True)
    assert alive_at_write == [0]  # none made before the writer reads them
    assert len(made) == LINES  # each made once, as it was written
    with Store(db, readonly=True) as store:
        total, lines, rows = load_list(store, "handles", 100)
    assert (total, lines) == (LINES, LINES)
    model = cache.peek_model()
    assert model is not None
    shown = [real_row(dup) for dup in model.handle_duplications()]
    assert [row.store_id for row in rows] == [row.store_id for row in shown]
    assert [[c.plain for c in row.cells] for row in rows] == [[c.plain for c in row.cells] for row in shown]
    assert [row.why.plain for row in rows] == [row.why.plain for row in shown]
