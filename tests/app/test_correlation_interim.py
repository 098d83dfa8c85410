"""`c` on a reopened log's event whose tree is not stored (no list shows it): the model must be
built for its full tree (minutes at ten million events), so the event's links as stored show at
once, then the full tree replaces them; if the analyst moved in the links meanwhile, they stay
until `r`. The model build is held on a gate here so that each step is seen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tui.model_cache as model_cache
from core.correlate.model import model_from_store
from core.store.store import Store
from tests.app.story import Harness, label_text, tree_lines
from tests.apputil import opened, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.correlation import INTERIM_NOTE, CorrelationScreen, correlation_roots, stored_correlation
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree, node_label


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[int]]]:
    """Model builds wait for the gate (then run for real), and are counted; the gate opens at the
    test's end whatever happened (a build left waiting would hold the app's exit)."""
    opened_gate, builds = threading.Event(), []
    real = model_cache.build_model

    def gated(store: Any, progress: Any = None) -> Any:
        builds.append(1)
        assert opened_gate.wait(20)  # a failing test ends its app within that
        return real(store, progress)

    monkeypatch.setattr(model_cache, "build_model", gated)
    yield opened_gate, builds
    opened_gate.set()


def _handle_use(db: Path) -> tuple[int, str]:
    """A 4663 of the stored log (no list shows it, so its tree is not stored) and the first
    line of its full tree as the model gives it."""
    with Store(db, readonly=True) as store:
        row = store.conn.execute("SELECT id FROM events WHERE event_id = 4663 ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        stored = store.get(row[0])
        assert stored is not None
        assert stored_correlation(store, True, stored.id) is None
        model = model_from_store(store)
        root = correlation_roots(model, stored)[0]
    return stored.id, node_label(root).plain


def _status(app: Harness) -> str:
    return str(app.screen.query_one("#view-status").render())


@pytest.fixture
def reopened(demo_store: Path) -> Path:
    """The demo log with every correlation table and the links stored, as a first open's
    background writer leaves them."""
    ModelCache()._write_tables(demo_store, dict(BUILDERS))  # noqa: SLF001 - as the app's background writer
    return demo_store


@sync
async def test_the_links_as_stored_show_at_once_then_the_full_tree_replaces_them(
        reopened: Path, gate: tuple[threading.Event, list[int]]) -> None:
    store_id, full_head = _handle_use(reopened)
    release, builds = gate
    app = Harness(reopened, lambda ws: CorrelationScreen(ws, store_id))
    async with opened(app, (140, 40), ready=False) as pilot:  # `settle` would wait for the gated build
        await wait_for(pilot, lambda: bool(app.screen.query(NavTree)))
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree_lines(tree)) and tree_lines(tree)[0].startswith(INTERIM_NOTE))
        lines = tree_lines(tree)
        assert "4663 record " in lines[1], lines
        assert any("handle: handle " in line for line in lines), lines
        assert any("process: " in line for line in lines), lines
        assert any(" access: " in line for line in lines) and not any("%%" in line for line in lines), lines
        assert any("created: 4688 record " in line and " at 2024-" in line for line in lines), lines
        await pilot.pause(0.3)
        assert _status(app).startswith(CorrelationScreen.BUILDING_BESIDE.rstrip(".")), _status(app)
        assert tree.cursor_line == 0
        assert builds == [1] and app.workspace.models.peek_model() is None
        release.set()
        await wait_for(pilot, lambda: "enter: jump to the node's event" in _status(app), timeout=30)
        lines = tree_lines(tree)
        assert lines[0] == full_head and not any(INTERIM_NOTE in line for line in lines)
        assert isinstance(app.screen, CorrelationScreen) and not app.screen.interim


@sync
async def test_links_the_analyst_moved_in_stay_until_r_shows_the_full_tree(
        reopened: Path, gate: tuple[threading.Event, list[int]]) -> None:
    store_id, full_head = _handle_use(reopened)
    release = gate[0]
    app = Harness(reopened, lambda ws: CorrelationScreen(ws, store_id))
    async with opened(app, (140, 40), ready=False) as pilot:  # `settle` would wait for the gated build
        await wait_for(pilot, lambda: bool(app.screen.query(NavTree)))
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree_lines(tree)) and tree_lines(tree)[0].startswith(INTERIM_NOTE))
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: tree.cursor_line == 2)
        reading = tree_lines(tree)
        release.set()
        await wait_for(pilot, lambda: _status(app) == CorrelationScreen.FULL_READY, timeout=30)
        assert tree_lines(tree) == reading and tree.cursor_line == 2  # nothing moved under the analyst
        await pilot.press("r")
        await wait_for(pilot, lambda: "enter: jump to the node's event" in _status(app))
        assert label_text(tree.root.children[0]).plain == full_head


@sync
async def test_with_the_model_built_the_full_tree_shows_without_the_links(
        reopened: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_id, full_head = _handle_use(reopened)
    app = Harness(reopened, lambda ws: CorrelationScreen(ws, store_id))
    seen: list[str] = []
    real_show = CorrelationScreen._show  # noqa: SLF001 - every tree the screen shows

    def show(screen: CorrelationScreen, message: CorrelationScreen.Ready) -> None:
        seen.append("interim" if message.interim else "full")
        real_show(screen, message)

    monkeypatch.setattr(CorrelationScreen, "_show", show)
    app.workspace.models.model(reopened, True)  # in memory, as after a build ahead
    async with opened(app, (140, 40)) as pilot:
        await wait_for(pilot, lambda: "enter: jump to the node's event" in _status(app), timeout=30)
        assert seen == ["full"]
        assert tree_lines(app.screen.query_one(NavTree))[0] == full_head


@sync
async def test_a_failed_build_keeps_the_links_and_says_why(reopened: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_id, _full_head = _handle_use(reopened)

    def failing(store: Any, progress: Any = None) -> Any:
        raise OSError("disk gone")

    monkeypatch.setattr(model_cache, "build_model", failing)
    app = Harness(reopened, lambda ws: CorrelationScreen(ws, store_id))
    async with opened(app, (140, 40)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: "disk gone" in _status(app), timeout=30)
        assert _status(app).endswith("(the links as stored are shown)")
        assert tree_lines(tree)[0].startswith(INTERIM_NOTE)
