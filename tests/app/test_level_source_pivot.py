"""The table's Level and Source columns pivot and stack like the others: `=` on Level filters
to the event's level (`level:`), on Source to its input's whole path (`file:`, as the detail
pane's Source does); `s` stacks the level, or the inputs. They said "no field behind this
column" / "no value in this column"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.query import pivot
from tests.app.applogs import count
from tests.apputil import opened, sync, wait_for
from tests.logs import event_xml
from tui.app import EvtxApp
from tui.column_settings import ColumnSettings
from tui.stack_panel import StackScreen


def _log(path: Path, levels: list[int], first_record: int) -> Path:
    """An Event XML log of one 4688 per level, a second apart."""
    events = [
        event_xml(4688, first_record + i, f"2024-03-01T10:00:{first_record + i:02d}.0000000Z",
                  {"NewProcessName": f"C:\\Windows\\p{i}.exe", "NewProcessId": hex(100 + i)})
        .replace("<Level>0</Level>", f"<Level>{level}</Level>")
        for i, level in enumerate(levels)
    ]
    path.write_text("<Events>\n" + "\n".join(events) + "\n</Events>\n", encoding="utf-8")
    return path


async def _on_column(pilot: Any, app: EvtxApp, column: str, key: str) -> None:
    app.table.field_column = column
    await pilot.press(key)
    await pilot.pause(0.05)


def _notes(app: EvtxApp) -> list[str]:
    return [str(n.message) for n in app._notifications]  # noqa: SLF001 - what the analyst was told


@sync
async def test_level_and_source_pivot_and_stack(tmp_path: Path) -> None:
    a = _log(tmp_path / "a.xml", [0, 4, 4], 1)
    b = _log(tmp_path / "b.xml", [2, 2], 10)
    app = EvtxApp([str(a), str(b)])
    async with opened(app, (160, 30)) as pilot:
        settings = ColumnSettings()
        settings.hidden.discard("level")
        app.table.set_settings(settings)
        assert {"level", "source"} <= set(app.table.shown_columns)
        app.set_filter("level:4")  # a level-4 event selected
        await wait_for(pilot, lambda: app.table.total == 2)
        app.set_filter("")
        await wait_for(pilot, lambda: app.table.total == 5 and (r := app.table.selected_row()) is not None
                       and r.event.level == 4)
        # `=` on Level: the event's level
        await _on_column(pilot, app, "level", "equals_sign")
        assert app.filter_bar.input.value == "level:4"
        await wait_for(pilot, lambda: app.table.total == count(app, "level:4") == 2)
        # `=` on Source: the event's input, by its whole path (a.xml)
        await _on_column(pilot, app, "source", "equals_sign")
        assert app.filter_bar.input.value == pivot.filter_to("file", str(a))
        await wait_for(pilot, lambda: app.table.total == 3)
        app.set_filter("")
        await wait_for(pilot, lambda: app.table.total == 5)
        # `s` on Level: every level of the view, rarest first
        await _on_column(pilot, app, "level", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        assert isinstance(app.screen, StackScreen) and app.screen.result is not None
        result = app.screen.result
        assert result.field == "level" and [(r.value, r.count) for r in result.rows] == [
            ("0", 1), ("2", 2), ("4", 2)]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        # `s` on Source: the inputs
        await _on_column(pilot, app, "source", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        assert isinstance(app.screen, StackScreen) and app.screen.result is not None
        result = app.screen.result
        assert result.field == "file" and [(r.value, r.count) for r in result.rows] == [(str(b), 2), (str(a), 3)]
        assert not any("no field behind this column" in n or "no value in this column" in n for n in _notes(app))
