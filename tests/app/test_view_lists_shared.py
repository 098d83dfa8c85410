"""The Handles and Process access screens and the background writer of the correlation tables
(which calls each view's builder) share one list per model (issue 18): the writer used to make
both lists a second time while the screen's copy was alive (1-4 s and a second copy at 1M)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.correlate import model as model_module
from core.correlate.model import CorrelationModel, build_model
from tests.correlate.access_events import chain
from tests.correlate.events import load
from tests.correlate.stored_tables import store_db
from tui.handles import HandlesScreen, handle_rows
from tui.model_cache import ModelCache
from tui.process_access import ProcessAccessScreen, stored_access_rows
from tui.view_builders import all_view_builders


def _counted(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> list[int]:
    real = getattr(target, name)
    calls: list[int] = []

    def wrapper(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(target, name, wrapper)
    return calls


def test_the_screen_and_the_table_writer_make_each_list_once(monkeypatch: pytest.MonkeyPatch) -> None:
    accesses = _counted(monkeypatch, model_module, "process_accesses")
    duplications = _counted(monkeypatch, CorrelationModel, "_make_duplications")
    model = build_model(load(*chain()))
    # The screens' `model_lines` (what they show) read only the model, not the screen.
    access_screen = object.__new__(ProcessAccessScreen)
    handles_screen = object.__new__(HandlesScreen)
    total, _ = access_screen.model_lines(model)  # the screen first
    stored = stored_access_rows(model)  # then the writer
    assert total == stored.total == 4
    stored_dups = handle_rows(model)  # the writer first
    total, _ = handles_screen.model_lines(model)
    assert total == stored_dups.total == 1
    assert (len(accesses), len(duplications)) == (1, 1)


def test_the_lists_go_once_the_tables_hold_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Once written to the store the views read their tables: the model stops holding the
    lists (40 MB at a million events), and makes them again only if asked."""
    db = store_db(tmp_path, load(*chain()))
    cache = ModelCache()
    model = cache.model(db, True)
    first = model.process_accesses()
    assert model.process_accesses() is first
    assert cache.stored_view(db, True, "process_access", all_view_builders(), wait=True)
    again = model.process_accesses()
    assert again is not first and [g.target for g in again] == [g.target for g in first]
