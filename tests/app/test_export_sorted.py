"""`e` after `o`: the exported view lists the rows in the order the sorted table shows them
(and the dialog says which sort), not in time order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.export_dialog import ExportDialog


async def _table_ids(pilot: Pilot[Any], app: EvtxApp) -> list[int]:
    """Every row's store id in table order (G then g, so every page is fetched)."""
    table = app.table
    await pilot.press("G")
    await wait_for(pilot, lambda: table.row_at(table.row_count - 1) is not None)
    await pilot.press("g")
    await wait_for(pilot, lambda: all(table.row_at(i) is not None for i in range(table.row_count)))
    return [row.id for i in range(table.row_count) if (row := table.row_at(i)) is not None]


@sync
async def test_e_exports_the_rows_in_the_tables_sort_order(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        timed = await _table_ids(pilot, app)
        await pilot.press("right")
        assert app.table.field_column == "computer"
        await pilot.press("o", "o")  # Computer, descending
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.sort.descending)
        shown = await _table_ids(pilot, app)
        assert sorted(shown) == sorted(timed) and shown != timed
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        title = dialog.title_text
        dialog.select_format("jsonl")
        target = tmp_path / "view.jsonl"
        dialog.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
        docs = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
        records = {}
        for i in range(app.table.row_count):
            row = app.table.row_at(i)
            assert row is not None
            records[row.id] = (row.event.record_id, row.event.computer)
        assert [(d["record_id"], d["computer"]) for d in docs] == [records[i] for i in shown]
        assert "sorted by Computer ▼" in title  # the dialog says which order it writes
