"""SVG snapshots of the views on the demo log (fixed size, UTC times, no clock on screen).

Update after a deliberate change with `pytest tests/app/test_views_snapshots.py --snapshot-update`
and look at the new SVGs under `tests/app/__snapshots__/` before accepting them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.store.cache import open_inputs
from tests.app.story import Harness, tree_lines
from tests.apputil import DEMO, snapshot_ready
from tui.findings_view import FindingsScreen
from tui.handles import HandlesScreen, HandlesTable
from tui.nav_tree import NavTree
from tui.processes import ProcessesScreen


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not DEMO.exists():
        pytest.fail("demo/intrusion.xml is missing: run demo/make_demo.py")
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    return path


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_handles_view(snap_compare: Any, demo_store: Path, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        screen = pilot.app.screen
        table = screen.query_one(HandlesTable)
        tree = screen.query_one("#handles-tree", NavTree)
        await snapshot_ready(
            pilot, lambda: table.row_count > 0 and any("source process" in t for t in tree_lines(tree))
        )

    assert snap_compare(Harness(demo_store, HandlesScreen), terminal_size=size, run_before=ready)


def test_processes_view_100x30(snap_compare: Any, demo_store: Path) -> None:
    async def ready(pilot: Any) -> None:
        tree = pilot.app.screen.query_one(NavTree)
        await snapshot_ready(pilot, lambda: bool(tree.root.children))

    assert snap_compare(Harness(demo_store, ProcessesScreen), terminal_size=(100, 30), run_before=ready)


def test_findings_view_100x30(snap_compare: Any, demo_store: Path) -> None:
    async def ready(pilot: Any) -> None:
        tree = pilot.app.screen.query_one(NavTree)
        await snapshot_ready(pilot, lambda: bool(tree.root.children))

    assert snap_compare(Harness(demo_store, FindingsScreen), terminal_size=(100, 30), run_before=ready)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_sessions_view(snap_compare: Any, demo_store: Path, size: tuple[int, int]) -> None:
    from tui.sessions import SessionsScreen, SessionsTable

    async def ready(pilot: Any) -> None:
        screen = pilot.app.screen
        table = screen.query_one(SessionsTable)
        tree = screen.query_one("#sessions-tree", NavTree)
        await snapshot_ready(pilot, lambda: table.row_count > 0 and bool(tree_lines(tree)))
        await pilot.press("j", "j", "j")  # alice's session with her processes
        await snapshot_ready(pilot, lambda: any("processes: 12" in t for t in tree_lines(tree)))

    assert snap_compare(Harness(demo_store, SessionsScreen), terminal_size=size, run_before=ready)
