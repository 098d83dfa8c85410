"""The event table's columns (issue 15): show/hide, order, size, EventData field columns and
sorting, through the columns dialog (`C`) and the table's keys (`o`/`O`), kept per user in
`columns.json` under the config dir (the autouse fixture points it at tmp_path)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.style import Style
from textual.pilot import Pilot

from core.model.values import as_int
from core.store.filter import Filter
from core.store.store import Store
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tui import column_settings as cs
from tui.app import EvtxApp
from tui.columns import SUMMARY_MIN, layout
from tui.columns_dialog import ColumnsScreen, FieldPicker


def _config() -> Path:
    return Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"])


def _line(app: EvtxApp, y: int) -> str:
    """Line `y` of the table as drawn (0: the header), also while a dialog covers it."""
    return "".join(seg.text for seg in app.table.render_line(y))


def _header(app: EvtxApp) -> str:
    return _line(app, 0)


def _keys(app: EvtxApp) -> list[str]:
    return [c.key for c in app.table._columns]


async def _dialog(pilot: Pilot[Any], app: EvtxApp) -> ColumnsScreen:
    await pilot.press("C")
    await wait_for(pilot, lambda: isinstance(app.screen, ColumnsScreen))
    screen = app.screen
    assert isinstance(screen, ColumnsScreen)
    return screen


async def _highlight(pilot: Pilot[Any], screen: ColumnsScreen, key: str) -> None:
    """Move the dialog's highlight to column `key` with the arrow keys."""
    await pilot.press("home")
    for _ in range(screen.settings.order.index(key)):
        await pilot.press("down")
    assert screen._key() == key


async def _all_rows(pilot: Pilot[Any], app: EvtxApp) -> list[Any]:
    """Every row of the view, in table order (walked with G and g so each page is fetched)."""
    table = app.table
    await wait_for(pilot, lambda: table.total is not None and table.row_at(0) is not None)
    await pilot.press("G")
    await wait_for(pilot, lambda: table.row_at(table.row_count - 1) is not None)
    await pilot.press("g")
    await wait_for(pilot, lambda: all(table.row_at(i) is not None for i in range(table.row_count)))
    return [table.row_at(i) for i in range(table.row_count)]


def _store_values(app: EvtxApp, get: Any) -> list[Any]:
    path = app.workspace.store_path
    assert path is not None
    with Store(path, readonly=True) as store:
        return [get(se.event) for se in store.iter_events()]


def _data(event: Any, name: str) -> str | None:
    return next((str(v) for k, v in event.data if k.lower() == name), None)


# -- the settings, without an app -------------------------------------------------------------


def test_unknown_column_names_are_dropped_and_fields_kept(tmp_path: Path) -> None:
    path = tmp_path / "columns.json"
    path.write_text(json.dumps({"order": ["eid", "bogus", "field:CommandLine", 7, "time"],
                                "hidden": ["computer", "nope"], "widths": {"eid": 9, "x": 3, "time": "wide"},
                                "sort": {"column": "bogus"}}))
    settings, notice = cs.load(path)
    assert notice is None
    named = [k for k in settings.order if k in ("eid", "field:commandline", "time")]
    assert named == ["eid", "field:commandline", "time"]
    assert "bogus" not in settings.order and set(cs.DEFAULT_ORDER) <= set(settings.order)
    # columns the file does not name keep their default state (channel, provider, level: hidden)
    assert settings.hidden == {"computer", "channel", "provider", "level"}
    assert settings.widths == {"eid": 9}
    assert settings.sort_key is None


def test_a_damaged_file_gives_defaults_and_one_line(tmp_path: Path) -> None:
    path = tmp_path / "columns.json"
    for text in ("{not json", "[1, 2]", "\udcff"):
        path.write_text(text, errors="surrogateescape")
        settings, notice = cs.load(path)
        assert settings.layout_default and settings.sort_key is None
        assert notice is not None and "\n" not in notice and "columns.json" in notice


def test_summary_stays_readable_at_80_columns() -> None:
    settings = cs.ColumnSettings()
    for key in ("channel", "provider", "user", "computer"):
        settings.hidden.discard(key)
    settings.add_field("CommandLine")
    cols = layout(settings, 78, False, False)
    summary = next(c for c in cols if c.key == "summary")
    assert summary.width >= SUMMARY_MIN
    assert sum(c.width + c.gap for c in cols) <= 78 + 1
    assert [c.key for c in cols][:3] == ["mark", "finding", "time"]


# -- in the app --------------------------------------------------------------------------------


@sync
async def test_hide_and_show_a_column() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert "Computer" in _header(app)
        screen = await _dialog(pilot, app)
        await _highlight(pilot, screen, "computer")
        await pilot.press("space")
        assert "Computer" not in _header(app) and "computer" not in _keys(app)
        assert "[ ] Computer" in screen_text(app)
        await pilot.press("space")
        assert "Computer" in _header(app)
        await _highlight(pilot, screen, "channel")  # hidden by default: shown on request
        await pilot.press("space")
        # at this width the Summary would be cut under its least width: User makes room (the
        # default layout's first to go), and the dialog says so
        assert "Channel" in _header(app) and "User" not in _header(app)
        assert "no room at this width for: User" in screen_text(app)
        row = app.table.row_at(0)
        assert row is not None and row.event.channel in _line(app, 1)


@sync
async def test_move_a_column_left_and_resize_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        header = _header(app)
        assert header.index("Record") < header.index("EvID")
        screen = await _dialog(pilot, app)
        await _highlight(pilot, screen, "eid")
        await pilot.press("left")
        header = _header(app)
        assert header.index("EvID") < header.index("Record")
        assert screen._key() == "eid"  # the highlight follows the column
        await pilot.press("right")
        assert _header(app).index("Record") < _header(app).index("EvID")
        await _highlight(pilot, screen, "computer")
        before = next(c.width for c in app.table._columns if c.key == "computer")
        await pilot.press("plus", "plus")
        assert next(c.width for c in app.table._columns if c.key == "computer") == before + 2 * cs.STEP
        await pilot.press("minus")
        assert next(c.width for c in app.table._columns if c.key == "computer") == before + cs.STEP


@sync
async def test_add_an_eventdata_column_and_see_its_values() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 40)) as pilot:
        await pilot.press("slash", *"4688", "enter")
        await wait_for(pilot, lambda: app.workspace.query == "4688" and app.table.row_at(0) is not None)
        await _dialog(pilot, app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldPicker))
        await pilot.press(*"commandli", "enter")
        await wait_for(pilot, lambda: "field:commandline" in _keys(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ColumnsScreen))
        assert "CommandLine" in _header(app)  # (as the events spell it: the key is lower-cased)
        col = next(c for c in app.table._columns if c.key == "field:commandline")
        row = app.table.row_at(0)
        assert row is not None
        value = _data(row.event, "commandline")
        assert value
        assert app.table._cells(row)["field:commandline"] == value
        assert value[: col.width - 1] in _line(app, 1)


@sync
async def test_sort_by_a_system_column_both_ways() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("right")  # the Computer column
        assert app.table.field_column == "computer"
        await pilot.press("o")
        await wait_for(pilot, lambda: app.table.sort is not None)
        rows = await _all_rows(pilot, app)
        expected = sorted(_store_values(app, lambda e: e.computer), key=str.lower)
        assert [r.event.computer for r in rows] == expected
        assert "▲Computer" in _header(app)
        await pilot.press("o")
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.sort.descending)
        rows = await _all_rows(pilot, app)
        assert [r.event.computer for r in rows] == expected[::-1]
        assert "▼Computer" in _header(app)
        await pilot.press("O")
        await wait_for(pilot, lambda: app.table.sort is None)
        rows = await _all_rows(pilot, app)
        times = [r.event.filetime for r in rows]
        assert times == sorted(times)


@sync
async def test_sort_by_an_eventdata_column_both_ways() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 40)) as pilot:
        settings = app.table.settings
        settings.add_field("IpPort")  # numbers: sorted as numbers, events without it last
        screen = await _dialog(pilot, app)
        screen._fill(0)
        await _highlight(pilot, screen, "field:ipport")
        await pilot.press("o")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.table.sort is not None)
        rows = await _all_rows(pilot, app)
        values = [v for v in _store_values(app, lambda e: _data(e, "ipport")) if v is not None]

        def key(v: str) -> tuple[bool, int, str]:
            n = as_int(v)
            return (n is None, n or 0, v.lower())

        expected = sorted(values, key=key)
        shown = [_data(r.event, "ipport") for r in rows]
        assert shown[: len(expected)] == expected and set(shown[len(expected):]) <= {None}
        assert app.table.field_column == "field:ipport"  # the sorted column is picked: o flips
        await pilot.press("o")
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.sort.descending)
        rows = await _all_rows(pilot, app)
        shown = [_data(r.event, "ipport") for r in rows]
        assert shown[: len(expected)] == expected[::-1]


@sync
async def test_user_column_cannot_be_sorted_and_says_why() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("right", "right")
        assert app.table.field_column == "user"
        await pilot.press("o")
        await pilot.pause(0.1)
        assert app.table.sort is None and app.table.settings.sort_key is None


@sync
async def test_choices_persist_across_two_runs() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        screen = await _dialog(pilot, app)
        await _highlight(pilot, screen, "computer")
        await pilot.press("space")
        await _highlight(pilot, screen, "eid")
        await pilot.press("left", "o", "o", "plus")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldPicker))
        await pilot.press(*"targetusername", "enter")
        await wait_for(pilot, lambda: "field:targetusername" in _keys(app))
        await pilot.press("escape")
        first = _header(app)
    assert (_config() / "columns.json").exists()
    again = EvtxApp([str(DEMO)], use_cache=False)  # loads again: sorted once loading has finished
    async with opened(again, (120, 30)) as pilot:
        await wait_for(pilot, lambda: again.table.sort is not None)
        settings = again.table.settings
        assert "computer" in settings.hidden and settings.sort_key == "eid" and settings.descending
        assert settings.widths == {"eid": 5 + cs.STEP}
        assert _header(again) == first
        rows = await _all_rows(pilot, again)
        eids = [r.event.event_id for r in rows]
        assert eids == sorted(eids, reverse=True)


@sync
async def test_a_damaged_settings_file_gives_default_columns_and_a_notice() -> None:
    (_config() / "columns.json").write_text('{"order": ["eid", ', encoding="utf-8")
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: "columns.json is damaged" in screen_text(app))
        assert app.table.settings.layout_default and app.table.sort is None
        assert "Computer" in _header(app)


# -- the store's sort, every System column both ways ----------------------------------------------


def test_store_sorts_every_system_column_as_python_does() -> None:
    from core.model.event import Event
    from core.query.sort import SYSTEM_SORTS, Sort, count_sorted, page_sorted, position_sorted
    from core.query.view import View
    from core.store.cache import open_inputs

    store = open_inputs([str(DEMO)])
    try:
        events = [se.event for se in store.iter_events()]
        keys: dict[str, Callable[[Event], Any]] = {
            "time": lambda e: e.filetime, "record": lambda e: e.record_id, "eid": lambda e: e.event_id,
            "computer": lambda e: e.computer.lower(), "channel": lambda e: e.channel.lower(),
            "provider": lambda e: e.provider.lower(), "source": lambda e: e.source,
            "level": lambda e: e.level}
        assert set(keys) == set(SYSTEM_SORTS)
        for column, get in keys.items():
            for descending in (False, True):
                sort = Sort(column, None, descending)
                assert count_sorted(store, View(), sort) == len(events)
                shown = [get(se.event) for se in page_sorted(store, View(), sort, 0, len(events))]
                assert shown == sorted((get(e) for e in events), reverse=descending), (column, descending)
                first = page_sorted(store, View(), sort, 5, 1)[0]
                assert position_sorted(store, View(), sort, first.id) == 5
        # a filtered view: only its events, in order
        view = View(Filter.event_ids([4688]))
        shown = [se.event.computer for se in page_sorted(store, view, Sort("computer", None, True), 0, 1000)]
        assert shown == sorted((e.computer for e in events if e.event_id == 4688), key=str.lower, reverse=True)
        # a field name is bound, never SQL: a hostile one matches nothing and breaks nothing
        hostile = Sort("field", "x') OR 1=1; DROP TABLE events; --")
        assert count_sorted(store, View(), hostile) == len(events)
        assert store.count() == len(events)
    finally:
        store.close()


@sync
async def test_time_column_sorts_newest_first_on_the_second_press() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("left", "left")
        assert app.table.field_column == "time"
        await pilot.press("o")  # time ascending: the table's own order, no store sort
        assert app.table.settings.sort_key == "time" and app.table.sort is None
        await pilot.press("o")
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.sort.descending)
        rows = await _all_rows(pilot, app)
        times = [r.event.filetime for r in rows]
        assert times == sorted(times, reverse=True)
        assert "▼Time" in _header(app)


def test_store_sorts_a_field_both_ways_pages_positions_and_finds() -> None:
    """Descending reads the ascending table backwards: keyed rows reversed, then the events
    without the field (reversed too); pages across that seam, positions and `n`-style finds
    agree with the whole list."""
    from core.query.sort import FIELD, Sort, find_sorted, page_sorted, position_sorted
    from core.query.view import View
    from core.store.cache import open_inputs

    store = open_inputs([str(DEMO)])
    try:
        events = [se for se in store.iter_events()]
        n = len(events)
        assert n > 10

        def key(v: str) -> tuple[bool, int, str]:
            num = as_int(v)
            return (num is None, num or 0, v.lower())

        keyed = sorted((se for se in events if _data(se.event, "ipport") is not None),
                       key=lambda se: key(_data(se.event, "ipport") or ""))
        rest = [se for se in events if _data(se.event, "ipport") is None]
        assert len(keyed) >= 4 and rest
        logons = View(Filter.event_ids([4624]))  # a filter: its own rows only, same order
        in_view = [_data(se.event, "ipport") for se in page_sorted(store, logons, Sort(FIELD, "ipport"), 0, n)]
        assert in_view == [_data(se.event, "ipport") for se in keyed if se.event.event_id == 4624] + [
            None for se in rest if se.event.event_id == 4624]
        for descending in (False, True):
            sort = Sort(FIELD, "ipport", descending)
            whole = page_sorted(store, View(), sort, 0, n)
            shown = [_data(se.event, "ipport") for se in whole]
            want = [_data(se.event, "ipport") for se in (keyed[::-1] if descending else keyed)]
            assert shown[: len(keyed)] == want and shown[len(keyed):] == [None] * len(rest)
            assert [se.id for se in whole[len(keyed):]] == [se.id for se in (rest[::-1] if descending else rest)]
            seam = len(keyed) - 3
            assert [se.id for se in page_sorted(store, View(), sort, seam, 6)] == [se.id for se in whole[seam:seam + 6]]
            for at in (0, seam, len(keyed), n - 1):
                assert position_sorted(store, View(), sort, whole[at].id) == at
            # find: 4688 events after a position, forwards and backwards, wrapping round
            hits = [i for i, se in enumerate(whole) if se.event.event_id == 4688]
            term = Filter.event_ids([4688])
            for after in (0, seam, len(keyed) + 1, n - 1):
                nxt = next((i for i in hits if i > after), None)
                assert find_sorted(store, View(), sort, term, after, True) == (
                    (nxt, False) if nxt is not None else (hits[0], True))
                prev = next((i for i in reversed(hits) if i < after), None)
                assert find_sorted(store, View(), sort, term, after, False) == (
                    (prev, False) if prev is not None else (hits[-1], True))
    finally:
        store.close()


def test_field_columns_show_log_text_literally() -> None:
    """A field's name and value come from the log: markup stays text, controls are escaped."""
    from core.model.event import Event
    from core.store.store import StoredEvent
    from tui.columns import extra_cells
    from tui.table_rows import line_strip, make_row

    event = Event(source=0, record_number=1, record_id=1, filetime=None, event_id=1, channel="Ch\x1b[2J",
                  provider="P", computer="C", data=(("Evil[red]", "\x1b]0;pwned\x07[bold]x[/]"),))
    settings = cs.ColumnSettings()
    assert settings.add_field("Evil[red]") == "field:evil[red]"
    assert settings.add_field("bad\x1bname") is None and not settings.full
    settings.hidden.discard("channel")
    cols = layout(settings, 200, False, False)
    row = make_row(StoredEvent(1, event))
    cells = extra_cells(row, cols)
    assert cells["field:evil[red]"] == "\\x1b]0;pwned\\x07[bold]x[/]"
    assert "\x1b" not in cells["channel"]
    title = next(c.title for c in cols if c.key == "field:evil[red]")
    assert title == "Evil[red]"
    text = "".join(seg.text for seg in line_strip(cols, cells, Style(), None, 200))
    assert "pwned\\x07[bo" in text and "\x1b" not in text and "\x07" not in text


@sync
async def test_the_palette_opens_the_columns_dialog_and_sorts() -> None:
    from textual.command import CommandList, CommandPalette

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        for title in ("Columns", "Sort by column"):
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*title)

            def offered(title: str = title) -> bool:
                options = app.screen.query_one(CommandList)
                return options.highlighted is not None and str(
                    options.get_option_at_index(options.highlighted).prompt).startswith(title)

            await wait_for(pilot, offered)
            await pilot.press("enter")
            if title == "Columns":
                await wait_for(pilot, lambda: isinstance(app.screen, ColumnsScreen))
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, ColumnsScreen))
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.settings.sort_key == "eid")


@sync
async def test_pivot_on_an_eventdata_column_filters_to_its_value() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 40)) as pilot:
        settings = app.table.settings
        settings.add_field("TargetUserName")
        app.table.set_settings(settings)
        await pilot.press("slash", *"4624", "enter")
        await wait_for(pilot, lambda: app.workspace.query == "4624" and app.table.row_at(0) is not None)
        while app.table.field_column != "field:targetusername":
            before = app.table.field_column
            await pilot.press("right")
            assert app.table.field_column != before, "the field column is not reachable with right"
        row = app.table.selected_row()
        assert row is not None
        value = _data(row.event, "targetusername")
        assert value
        await pilot.press("equals_sign")
        assert app.filter_bar.input.value == f"targetusername:{value}"
        await wait_for(pilot, lambda: app.table.total is not None and (first := app.table.row_at(0)) is not None
                       and _data(first.event, "targetusername") == value)
