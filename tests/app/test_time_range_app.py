"""The app on a log holding times no date can hold (a FILETIME at or past 10000-01-01, or past
2**63), and on a query date no time holds: it words them, it never crashes.

`G` on such a log crashed in the detail pane (TimeCreated through `iso_from_filetime`); the
timeline strip died on a time stored as text; `~` around such an event raised; a date typed in
the `/` bar whose offset overflows (`after:9999-12-31T23:59:59-01:00`) crashed the app instead of
showing a bad query.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.model.event import FILETIME_END, Event, datetime_to_filetime
from core.store.store import Store
from tests.app.story import label_text
from tests.apputil import opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree, system_fields
from tui.table_rows import format_time
from tui.timeline_strip import TimelineStrip

T0 = datetime_to_filetime(dt.datetime(2021, 4, 22, 8, 51, 4, tzinfo=dt.UTC))
FAR = FILETIME_END  # 10000-01-01
HUGE = 2**63 + 7  # stored as text; sorts after every number


def _event(n: int, when: int) -> Event:
    return Event(source=0, record_number=n, record_id=1000 + n, filetime=when, event_id=4688,
                 channel="Security", provider="Microsoft-Windows-Security-Auditing", computer="WS01",
                 data=(("NewProcessName", f"C:\\Windows\\System32\\tool{n}.exe"), ("ProcessId", "0x4")))


@pytest.fixture()
def far_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "far.sqlite"
    with Store(path) as store:
        store.add_source(str(tmp_path / "far.evtx"), "evtx")
        store.add_events([_event(1, T0), _event(2, T0 + 10_000_000), _event(3, T0 + 20_000_000),
                          _event(4, FAR), _event(5, HUGE)])
        store.build_indexes()
        store.set_meta("complete", "1")
    return path


def _time_created(app: EvtxApp) -> str:
    """TimeCreated as the detail pane's (folded) System node holds it."""
    nodes = list(app.query_one(FieldTree).root.children)
    while nodes:
        node = nodes.pop()
        if label_text(node).plain.startswith("TimeCreated: "):
            return label_text(node).plain.removeprefix("TimeCreated: ")
        nodes += node.children
    return ""


def test_the_table_and_the_detail_word_such_times() -> None:
    for ticks in (FAR, HUGE):
        assert format_time(ticks, local=True, millis=True) == f"invalid FILETIME {ticks}"
        assert dict(system_fields(_event(1, ticks), None))["TimeCreated"] == f"invalid FILETIME {ticks}"


@sync
async def test_last_row_detail_strip_and_around_on_such_times(far_store: Path) -> None:
    app = EvtxApp([str(far_store.with_suffix(".evtx"))], store_path=far_store)
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("G")  # the last row: the time kept as text
        await wait_for(pilot, lambda: app.detail.event is not None and app.detail.event.filetime == HUGE)
        await wait_for(pilot, lambda: _time_created(app) == f"invalid FILETIME {HUGE}")
        assert "invalid FILETIME" in screen_text(app)
        await pilot.press("tilde")  # no span around it can be written: a warning, the view stays
        await pilot.pause(0.1)
        assert app.workspace.query == ""
        await pilot.press("up")
        await wait_for(pilot, lambda: app.detail.event is not None and app.detail.event.filetime == FAR)
        await wait_for(pilot, lambda: _time_created(app) == f"invalid FILETIME {FAR}")
        strip = app.query_one(TimelineStrip)
        await pilot.press("h")  # the histogram of the dates; the selected event is in no bucket
        await wait_for(pilot, lambda: strip.result is not None)
        assert strip.result is not None and strip.result.total == 5 and strip.result.no_time == 2
        assert sum(b.count for b in strip.result.buckets) == 3
        await pilot.pause(0.1)
        assert "UTC: " in screen_text(app)
        assert app.is_running


@sync
async def test_a_date_no_time_holds_is_shown_as_a_bad_query(far_store: Path) -> None:
    app = EvtxApp([str(far_store.with_suffix(".evtx"))], store_path=far_store)
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("slash", *"after:9999-12-31T23:59:59-01:00")
        await wait_for(pilot, lambda: app.filter_bar.error is not None)
        error = app.filter_bar.error
        assert error is not None and error.position == 6 and "out of range" in error.message
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.is_running and app.workspace.query == "" and app.table.total == 5
