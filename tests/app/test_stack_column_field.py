"""`s` stacks the field column's own field over the view, whatever the selected row holds: a
row with an empty Image cell stacked nothing ("no value in this column") and a Sysmon 10 row
stacked its `SourceImage` for the Image column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.app.applogs import count, event_xml, write_log
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.column_settings import ColumnSettings
from tui.pivots import image_field
from tui.stack_panel import StackScreen


async def stacked(pilot: Any, app: EvtxApp, column: str) -> StackScreen:
    """`s` on `column` of the table; the stack panel once its counts are in."""
    app.table.field_column = column
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
    screen = app.screen
    assert isinstance(screen, StackScreen)
    return screen


@sync
async def test_stacking_a_column_from_a_row_without_its_value() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        settings = ColumnSettings()
        settings.add_field("CommandLine")
        app.table.set_settings(settings)
        app.set_filter("4690")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        app.set_filter("")  # the 4690 stays selected, in the whole log
        await wait_for(pilot, lambda: app.table.total == count(app, "")
                       and (r := app.table.selected_row()) is not None and r.event.event_id == 4690)
        row = app.table.selected_row()
        assert row is not None and image_field(row.event) is None
        for column, field, having in (("image", "image", "image:*"),
                                      ("field:commandline", "commandline", "commandline:*")):
            screen = await stacked(pilot, app, column)
            result = screen.result
            assert result is not None and result.field == field
            assert sum(r.count for r in result.rows) == count(app, having) > 0
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.screen_stack[0])


@sync
async def test_the_image_column_stacks_image_on_a_sysmon_access_row(tmp_path: Path) -> None:
    log = write_log(tmp_path / "mixed.xml", [
        event_xml(1, 10, "2024-01-01T00:00:00.0000000Z",
                  {"SourceImage": "C:\\Tools\\dumper.exe", "TargetImage": "C:\\Windows\\System32\\lsass.exe"}),
        *(event_xml(2 + i, 4688, f"2024-01-01T00:00:0{1 + i}.0000000Z",
                    {"NewProcessName": f"C:\\Windows\\p{i % 2}.exe", "NewProcessId": hex(8 + i)})
          for i in range(3)),
    ])
    app = EvtxApp([str(log)])
    async with opened(app, (120, 30)) as pilot:
        row = app.table.selected_row()
        assert row is not None and row.event.event_id == 10
        assert image_field(row.event) == ("sourceimage", "C:\\Tools\\dumper.exe")
        screen = await stacked(pilot, app, "image")
        result = screen.result
        assert result is not None and result.field == "image"
        assert sorted((r.value, r.count) for r in result.rows) == [("C:\\Windows\\p0.exe", 2),
                                                                   ("C:\\Windows\\p1.exe", 1)]
