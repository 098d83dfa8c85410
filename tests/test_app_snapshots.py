"""SVG snapshots of the main screen at 80x24 and 160x48 (deterministic: UTC, fixed size, the
demo log, no clock on screen). Update with `pytest tests/test_app_snapshots.py --snapshot-update`
and look at the SVGs before committing them."""

from __future__ import annotations

import time
from typing import Any

from tests.apputil import DEMO
from tui.app import EvtxApp
from tui.screenshots import app_ready, footer_ready


async def _ready(pilot: Any) -> None:
    app: EvtxApp = pilot.app
    deadline = time.monotonic() + 20
    while not app_ready(app):
        if time.monotonic() > deadline:
            raise AssertionError("the demo did not load")
        await pilot.pause(0.02)
    await pilot.pause(0.1)
    while not footer_ready(app):  # a bindings change may rebuild the footer meanwhile
        if time.monotonic() > deadline:
            raise AssertionError("the footer did not settle")
        await pilot.pause(0.02)


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(80, 24), run_before=_ready)


def test_main_screen_160x48(snap_compare: Any) -> None:
    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(160, 48), run_before=_ready)


def test_filtered_hostile_row_160x48(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        await pilot.press("slash", *"cmd:*red*", "enter")
        app: EvtxApp = pilot.app
        deadline = time.monotonic() + 20
        while not (app.table.total == 1 and app.detail.store_id is not None):
            if time.monotonic() > deadline:
                raise AssertionError("filter did not apply")
            await pilot.pause(0.02)
        await pilot.pause(0.1)

    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=(160, 48), run_before=run_before)
