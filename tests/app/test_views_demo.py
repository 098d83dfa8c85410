"""The correlation and findings views through the real app on the demo log (demo/intrusion.xml):
a 4690's source 4688 a keypress away, `c` on the selected event, the reused pid and the
pre-existing winlogon, the mimikatz-like tool's finding, the confidence words without colour,
the findings' level filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from tests.app.story import Harness, cursor_to, label_text, tree_lines, under
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.handles import HandlesScreen, HandlesTable
from tui.nav_tree import NavTree
from tui.processes import ProcessesScreen

MK64 = "C:\\Users\\alice\\AppData\\Local\\Temp\\mk64.exe"


@pytest.fixture
def demo_env() -> Path:
    """The demo log (tests/conftest.py writes it if missing and gives every test its own cache,
    data and config directories)."""
    return DEMO


def demo_app() -> EvtxApp:
    return EvtxApp([str(DEMO)])


async def view_tree(pilot: Pilot[Any], app: EvtxApp, key: str, screen: type[Screen[Any]]) -> NavTree:
    """Press `key`, wait for the view `screen` and for its tree's first lines: the tree."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, screen))
    tree = app.screen.query_one(NavTree)
    await wait_for(pilot, lambda: bool(tree.root.children), timeout=10)
    return tree


@sync
async def test_real_app_handles_view_jumps_to_the_source_4688(demo_env: Path) -> None:
    app = demo_app()
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, HandlesScreen))
        screen = app.screen
        table = screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: table.row_count > 0, timeout=10)
        first = [cell.plain for cell in table.get_row_at(0)]
        assert first[6] == "48235" and first[1] == "mk64.exe 0x1f40" and first[3] == "System 0x4"
        tree = screen.query_one("#handles-tree", NavTree)
        await wait_for(pilot, lambda: any(MK64 in t for t in tree_lines(tree)))
        # lsass.exe is pre-existing (no 4688): the handle's object names it.
        assert any("lsass.exe" in t and "source handle: handle 0x2c4" in t for t in tree_lines(tree))
        await pilot.press("enter")
        await cursor_to(pilot, tree, "source process: mk64.exe")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await wait_for(
            pilot,
            lambda: (
                (picked := app.selected_event()) is not None
                and picked.event.record_id == 48232
            ),
        )
        selected = app.selected_event()
        assert selected is not None
        assert selected.event.event_id == 4688 and selected.event.get("NewProcessName") == MK64


@sync
async def test_real_app_correlate_key_opens_the_selected_events_correlation(demo_env: Path) -> None:
    app = demo_app()
    async with opened(app, (100, 30)) as pilot:
        selected = app.selected_event()
        assert selected is not None
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        assert isinstance(app.screen, CorrelationScreen)
        assert app.screen.store_id == selected.id
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


@sync
async def test_demo_processes_reused_pid_and_pre_existing_winlogon(demo_env: Path) -> None:
    app = demo_app()
    async with opened(app, (100, 30)) as pilot:
        tree = await view_tree(pilot, app, "2", ProcessesScreen)
        ws = next(n for n in tree.root.children if label_text(n).plain.startswith("WS01"))
        lines = [label_text(n).plain for n in tree.walk() if under(n, ws)]
        reused = [t for t in lines if "0x1f40 (8000)" in t and " created " in t]
        assert len(reused) == 2 and any("mk64.exe" in t for t in reused)
        assert any("SearchProtocolHost.exe" in t for t in reused)
        # winlogon.exe 0x25c has no 4688 (it was running before the log): inferred, marked.
        winlogon = next(t for t in lines if t.split()[1:3] == ["winlogon.exe", "0x25c"])
        assert winlogon.startswith("inferred") and "pre-existing" in winlogon
        # ... and its child userinit.exe hangs under it.
        node = next(n for n in tree.walk() if label_text(n).plain.split()[1:3] == ["winlogon.exe", "0x25c"])
        assert any("userinit.exe 0x1e0c" in label_text(c).plain for c in node.children)


@sync
async def test_demo_findings_lists_restricted_substring_for_the_mimikatz_like_tool(demo_env: Path) -> None:
    from tui.findings_view import FindingsScreen

    app = demo_app()
    async with opened(app, (100, 30)) as pilot:
        tree = await view_tree(pilot, app, "5", FindingsScreen)
        groups = [label_text(n).plain for n in tree.root.children]
        rule = next(g for g in groups if " restricted-substring " in g)
        assert rule.startswith("high") and " restricted-substring (3) " in rule
        # Most severe first: no lower severity sorts above a high one.
        levels = ("critical", "high", "medium", "low", "info")
        order = [g.split()[0] for g in groups if g.split()[0] in levels]  # the rest: the Sigma hint
        assert order == sorted(order, key=levels.index)
        await cursor_to(pilot, tree, "restricted-substring")
        await pilot.press("enter")  # unfold the rule
        await cursor_to(pilot, tree, "record 48232")
        assert tree.cursor_node is not None
        assert "sekurlsa::" in label_text(tree.cursor_node).plain
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await wait_for(
            pilot, lambda: (picked := app.selected_event()) is not None and picked.event.record_id == 48232
        )


@sync
async def test_no_color_still_shows_confidence_words_and_the_cursor(
    story_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = Harness(story_store, HandlesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one("#handles-tree", NavTree)
        await wait_for(pilot, lambda: any("source process" in t for t in tree_lines(tree)))
        await pilot.pause(0.1)
        svg = app.export_screenshot()
        assert app.no_color
        for word in ("exact", "inferred"):
            assert f">{word}" in svg.replace("&#160;", " ")
        # The cursor row is drawn reversed (no colour needed to see it).
        assert tree.get_component_rich_style("tree--cursor").reverse
        table = app.screen.query_one(HandlesTable)
        assert table.get_component_rich_style("datatable--cursor").reverse


@sync
async def test_findings_level_filter_shows_only_the_chosen_severity_and_up(demo_env: Path) -> None:
    """`l` raises the lowest severity shown; after `critical` it shows everything again."""
    from tui.findings_view import FindingsScreen

    levels = ("critical", "high", "medium", "low", "info")
    app = demo_app()
    async with opened(app, (100, 30)) as pilot:
        tree = await view_tree(pilot, app, "5", FindingsScreen)

        def shown() -> list[str]:
            return [w for w in (label_text(n).plain.split()[0] for n in tree.root.children) if w in levels]

        everything = shown()
        assert {"high", "medium"} <= set(everything)  # the demo fires rules of several severities
        for _ in range(3):  # low, medium, high
            await pilot.press("l")
        await wait_for(pilot, lambda: set(shown()) <= {"high", "critical"})
        assert shown() == [w for w in everything if w in ("high", "critical")]
        assert "showing high and up" in str(app.screen.query_one("#view-status").render())
        await pilot.press("l", "l")  # critical, then everything again
        await wait_for(pilot, lambda: shown() == everything)
