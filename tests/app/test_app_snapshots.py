"""SVG snapshots of the main screen at 80x24 and 160x48 (deterministic: UTC, fixed size, the
demo log, no clock on screen). Update with `pytest tests/app/test_app_snapshots.py --snapshot-update`
and look at the SVGs before committing them."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.apputil import DEMO, snapshot_ready
from tui.app import EvtxApp
from tui.screenshots import app_ready


async def _ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, EvtxApp)
    await snapshot_ready(pilot, lambda: app_ready(app))


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(80, 24), run_before=_ready)


def test_main_screen_160x48(snap_compare: Any) -> None:
    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(160, 48), run_before=_ready)


def test_filtered_hostile_row_160x48(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        await pilot.press("slash", *"cmd:*red*", "enter")
        app = pilot.app
        assert isinstance(app, EvtxApp)
        await snapshot_ready(pilot, lambda: app.table.total == 1 and app.detail.store_id is not None)

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(160, 48), run_before=run_before)


def test_detail_long_command_line_wrapped_80x24(snap_compare: Any) -> None:
    """The demo's 241-character cmd.exe -> PowerShell command line, wrapped in the detail pane
    with the cursor on it (no sideways scrolling)."""
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        app = pilot.app
        assert isinstance(app, EvtxApp)
        app.set_filter('cmd:"*cmd.exe*powershell*"')
        await snapshot_ready(pilot, lambda: app.table.total == 1 and app.detail.event is not None
                             and app.detail.event.get("CommandLine") is not None)
        await pilot.press("enter")
        from tui.detail import FieldTree

        tree = app.query_one(FieldTree)
        for _ in range(60):
            node = tree.cursor_node
            if node is not None and str(node.label).startswith("CommandLine: "):
                break
            await pilot.press("down")
        await pilot.press(*["down"] * 3)  # the command line's lines on screen
        await pilot.pause(0.1)

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(80, 24), run_before=run_before)


def test_jump_prompt_80x24(snap_compare: Any) -> None:
    """A jump from a correlation tree to an event the filter hides asks first (`tui.jump`)."""
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        app = pilot.app
        assert isinstance(app, EvtxApp)
        app.set_filter("4690")
        await snapshot_ready(pilot, lambda: app.table.total == 2 and app.detail.store_id is not None)
        from core.query.compile import compile_query
        from core.store.store import Store
        from tui.jump import JumpPrompt
        from tui.messages import JumpToEvent

        assert app.workspace.store_path is not None
        with Store(app.workspace.store_path, readonly=True) as store:
            target = store.select(compile_query("4688"), limit=1)[0]
        await pilot.press("c")
        await snapshot_ready(pilot)
        app.post_message(JumpToEvent(target.id))
        await snapshot_ready(pilot, lambda: isinstance(app.screen, JumpPrompt))

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_stack_panel(snap_compare: Any, size: tuple[int, int]) -> None:
    """`s` on the table's Image column: the stack panel, rarest first, over the demo."""
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        await pilot.press("right", "right", "right", "s")
        from tui.stack_panel import StackScreen

        app = pilot.app
        await snapshot_ready(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_timeline_strip(snap_compare: Any, size: tuple[int, int]) -> None:
    """`h`: the demo's histogram above the table, the selected event's bucket highlighted."""
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        await pilot.press("h")
        from tui.timeline_strip import TimelineStrip

        strip = pilot.app.query_one(TimelineStrip)
        await snapshot_ready(pilot, lambda: strip.result is not None)

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=size, run_before=run_before)
