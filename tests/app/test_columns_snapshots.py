"""SVG snapshots of the columns dialog (`C`) at 80x24 and 160x48: CommandLine added as a column
and the table sorted by it (`tui.screenshots.columns_dialog`, the README's picture). Update with
`pytest tests/app/test_columns_snapshots.py --snapshot-update` and look at the SVGs first."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.apputil import DEMO, snapshot_ready
from tui.app import EvtxApp
from tui.columns_dialog import ColumnsScreen
from tui.screenshots import columns_dialog


async def _ready(pilot: Pilot[Any]) -> None:
    await columns_dialog(pilot)
    app = pilot.app
    assert isinstance(app, EvtxApp)
    await snapshot_ready(pilot, lambda: isinstance(app.screen, ColumnsScreen) and app.table.sort is not None)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_columns_dialog(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(EvtxApp([str(DEMO)]), terminal_size=size, run_before=_ready)
