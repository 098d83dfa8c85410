"""`=` on the Image column: the column shows the image's base name, but `image:` compares whole
values, so the pivot filtered to `image:userinit.exe` and showed no event at all. It filters to
the whole value of the field the column shows (`tui.pivots.image_field`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from core.model import summary
from tests.app.applogs import count
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.pivots import IMAGE_COLUMN_FIELDS


def test_the_pivot_reads_the_fields_the_image_column_shows() -> None:
    assert IMAGE_COLUMN_FIELDS == summary._IMAGE_FIELDS


async def _to_image_column(pilot: Pilot[Any], app: EvtxApp) -> None:
    for _ in range(12):
        if app.table.field_column == "image":
            return
        await pilot.press("right")
    raise AssertionError(f"no Image column: {app.table.field_column}")


@sync
async def test_filter_to_the_image_column_keeps_the_selected_process() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("4688")
        await wait_for(pilot, lambda: app.table.total == count(app, "4688"))
        row = app.table.selected_row()
        assert row is not None
        image = row.event.get("NewProcessName")
        assert image is not None and image.startswith("C:\\")
        await _to_image_column(pilot, app)
        await pilot.press("equals_sign")
        assert app.filter_bar.input.value == f"image:{image}"
        await wait_for(pilot, lambda: app.workspace.query == f"image:{image}")
        expected = count(app, f"image:{image}")
        assert expected >= 1
        await wait_for(pilot, lambda: app.table.total == expected)
        shown = app.table.selected_row()
        assert shown is not None and shown.event.get("NewProcessName") == image


@sync
async def test_a_source_image_pivots_on_its_own_field(tmp_path: Path) -> None:
    """A Sysmon 10's Image cell is its SourceImage, which `image:` does not read."""
    source = "C:\\Program Files\\Odd Tool\\dump.exe"
    records = [
        {"EventID": 10, "TimeCreated": "2024-01-01T00:00:00Z", "Computer": "WS01", "EventRecordID": 1,
         "Channel": "Microsoft-Windows-Sysmon/Operational", "ProviderName": "Microsoft-Windows-Sysmon",
         "SourceImage": source, "TargetImage": "C:\\Windows\\System32\\lsass.exe", "GrantedAccess": "0x1010"},
        {"EventID": 10, "TimeCreated": "2024-01-01T00:00:01Z", "Computer": "WS01", "EventRecordID": 2,
         "Channel": "Microsoft-Windows-Sysmon/Operational", "ProviderName": "Microsoft-Windows-Sysmon",
         "SourceImage": "C:\\Other\\dump.exe", "TargetImage": "C:\\Windows\\System32\\lsass.exe"},
    ]
    log = tmp_path / "sysmon.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (120, 30)) as pilot:
        row = app.table.selected_row()
        assert row is not None and row.event.get("SourceImage") == source
        await _to_image_column(pilot, app)
        await pilot.press("equals_sign")
        query = 'sourceimage:"C:\\Program Files\\Odd Tool\\dump.exe"'
        assert app.filter_bar.input.value == query
        await wait_for(pilot, lambda: app.workspace.query == query and app.table.total == 1)
