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


def test_a_user_cell_pivots_on_the_field_behind_it(tmp_path: Path) -> None:
    """The User cell shows `SYSTEM` for S-1-5-18 (and values cleaned for the table), which no
    field holds: `=` on it filtered to `user:SYSTEM` and found none of the events showing it.
    It pivots on the field and value behind the cell (`tui.pivots.user_field`); each query
    finds the event it came from, on the demo log and on the fields only some events use."""
    from core.model.event import Event
    from core.query.compile import compile_query
    from core.query.pivot import filter_to
    from parsers.registry import iter_input
    from tests.stores import indexed_store
    from tui.pivots import user_field

    channel, provider = "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon"
    made = [
        Event(0, 1, 1, 133_500_000_000_000_000, 4688, channel="Security", data=(("SubjectUserSid", "S-1-5-18"),)),
        Event(0, 2, 2, 133_500_000_000_000_000, 7036, channel="System", user_sid="S-1-5-18"),
        Event(0, 3, 3, 133_500_000_000_000_000, 10, channel=channel, provider=provider,
              data=(("SourceUser", "CORP\\bob  "),)),
        Event(0, 4, 4, 133_500_000_000_000_000, 1, channel=channel, provider=provider,
              data=(("User", "NT AUTHORITY\\SYSTEM"),)),
        Event(0, 5, 5, 133_500_000_000_000_000, 4624, channel="Security",
              data=(("TargetUserName", "-"), ("TargetUserSid", "s-1-5-20"))),
    ]
    demo = [e for e in iter_input(str(DEMO)) if isinstance(e, Event)]
    store = indexed_store(tmp_path / "s.sqlite", [*made, *demo])
    stored = list(store.select(compile_query("")))
    assert len(stored) == len(made) + len(demo)
    queries = {}
    for se in stored:
        picked = user_field(se.event)
        if picked is None:
            continue
        query = filter_to(*picked)
        queries[query] = True
        assert se.id in {hit.id for hit in store.select(compile_query(query))}, (query, se.event)
    assert {"user:S-1-5-18", "usersid:S-1-5-18", 'sourceuser:"CORP\\bob  "', "user:s-1-5-20"} <= set(queries), queries
    assert len(queries) > 8  # the demo's users too
