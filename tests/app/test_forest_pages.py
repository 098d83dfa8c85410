"""The Processes forest of a first open read a page at a time from the model
(`tui.forest_pages`): every page, every count and every `/` answer as the store gives them once
the tables are written (the same ids), so the view reads either alike."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

import tui.stored_views as sv
from core.correlate.model import build_model
from tests.correlate.events import load
from tests.correlate.hand_made_logs import family_log, hand_made
from tests.correlate.stored_tables import BUILDERS, store_db
from tui.forest_pages import ComputerBranch, ForestPages
from tui.model_cache import ModelCache
from tui.processes import computer_branches
from tui.stored_views import StoredNode, search_stored, tree_rows

BIG = 10**9


def _pages(docs: list[str]) -> tuple[ForestPages, list[ComputerBranch]]:
    model = build_model(load(*docs))
    branches = cast(list[ComputerBranch], computer_branches(model))
    return ForestPages(branches), branches


def test_every_page_is_the_written_tree_s() -> None:
    for docs in (family_log(), hand_made()):
        pages, branches = _pages(docs)
        rows = list(tree_rows(branches))
        assert pages.count() == len(rows)
        for parent in [0, *(row.id for row in rows if row.kids)]:
            kids = [row for row in rows if row.parent == parent]
            assert pages.children(parent, limit=BIG) == kids
            if len(kids) > 3:  # a page after one child, before another
                assert pages.children(parent, after=kids[0].id, before=kids[3].id, limit=BIG) == kids[1:3]
                assert pages.children(parent, after=kids[0].id, limit=1) == kids[1:2]


def test_the_first_page_cuts_with_a_more_line(monkeypatch: pytest.MonkeyPatch) -> None:
    pages, _branches = _pages(family_log())
    tops = pages.tops()
    assert [str(top.label).split()[0] for top in tops] == ["HOST1", "HOST2"]
    assert len(tops[0].children) == 1  # System, its children when unfolded
    monkeypatch.setattr(sv, "PAGE", 5)
    assert isinstance(tops[0], StoredNode)
    system = pages.children(tops[0].node_id)[0]
    page = pages.page(system.id)
    assert len(page) == 6 and str(page[-1].label).startswith("... more")


def test_slash_walks_the_forest_to_what_the_stored_search_finds(tmp_path: Path) -> None:
    docs = family_log(parents=4, children=3)
    db = store_db(tmp_path, load(*docs))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    pages, _branches = _pages(docs)
    for text, after, forward in (("CHILD2", 0, True), ("child2", 40, True), ("child2", 40, False),
                                 ("big.exe", BIG, True), ("exact", 3, False), ("no such", 0, True),
                                 ("HOST2", 0, True), ("still running", 1, True)):
        assert pages.search(text, after, forward) == search_stored(db, "processes", text, after, forward), text
