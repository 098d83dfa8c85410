"""`=` in the detail pane on attacker-chosen EventData: a name that would splice operators into
the query (`4689 OR ProcessName`) is refused with a notice and the filter kept; a value holding
escape sequences filters to its event with nothing raw in the filter bar."""

from __future__ import annotations

import json
from pathlib import Path

from tests.app.story import label_text
from tests.apputil import opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree

IMAGE = "C:\\x\x1b[2J\x1b[31mRED.exe"


def _log(tmp_path: Path) -> Path:
    records = [{"EventID": 4688, "TimeCreated": "2024-01-01T00:00:00Z", "Computer": "WS01", "EventRecordID": 1,
                "4689 OR ProcessName": "val13", "NewProcessName": IMAGE}]
    records += [{"EventID": 4689, "TimeCreated": f"2024-01-01T00:00:{i:02d}Z", "Computer": "WS01",
                 "EventRecordID": i, "ProcessName": "val13"} for i in range(2, 12)]
    log = tmp_path / "fields.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return log


async def _pivot_on(pilot: object, app: EvtxApp, prefix: str) -> None:
    tree = app.query_one(FieldTree)
    line = next(n for n in range(tree.last_line + 1)
                if (node := tree.get_node_at_line(n)) is not None and label_text(node).plain.startswith(prefix))
    tree.cursor_line = line
    await pilot.pause(0.05)  # type: ignore[attr-defined]
    await pilot.press("equals_sign")  # type: ignore[attr-defined]
    await pilot.pause(0.3)  # type: ignore[attr-defined]


@sync
async def test_a_crafted_field_name_is_refused_and_a_hostile_value_filtered_safely(tmp_path: Path) -> None:
    app = EvtxApp([str(_log(tmp_path))], use_cache=False)
    async with opened(app, (140, 40), notifications=True) as pilot:
        app.set_filter("4688")
        await wait_for(pilot, lambda: app.table.total == 1)
        await wait_for(pilot, lambda: app.detail.event is not None)
        await pilot.press("enter")  # the detail pane
        await _pivot_on(pilot, app, "4689 OR ProcessName")
        await wait_for(pilot, lambda: "no query term can name the field" in screen_text(app))
        assert app.workspace.query == "4688" and app.table.total == 1  # before: every 4689 shown
        await _pivot_on(pilot, app, "NewProcessName")
        value = app.filter_bar.input.value
        assert value.startswith("NewProcessName:") and "\x1b" not in value, value
        await wait_for(pilot, lambda: app.table.total == 1)
