"""SVG snapshots of the main screen at 80x24 and 160x48 (deterministic: UTC, fixed size, the
demo log, no clock on screen). Update with `pytest tests/app/test_app_snapshots.py --snapshot-update`
and look at the SVGs before committing them."""

from __future__ import annotations

from typing import Any

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
