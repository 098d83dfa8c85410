"""Pilot tests of the main app: loading, filtering, navigation, detail pane, help, safety."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rich.style import Style
from textual.binding import Binding

from core.model.decode import decode_value
from core.query.compile import compile_query
from core.store.store import Store
from tests.app.applogs import big_log, event_xml, tree_labels, write_log
from tests.apputil import DEMO, opened, screen_text, settle, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree
from tui.event_table import EventTable
from tui.help import HelpScreen
from tui.history import History
from tui.issues_panel import IssuesScreen
from tui.table_rows import Row


def demo_store(app: EvtxApp) -> Store:
    assert app.workspace.store_path is not None
    return Store(app.workspace.store_path, readonly=True)


def row_at(app: EvtxApp, index: int) -> Row:
    """The table's row at `index`, which must be read already."""
    row = app.table.row_at(index)
    assert row is not None, index
    return row


# -- loading ----------------------------------------------------------------------------------


@sync
async def test_demo_loads_and_status_counts_events() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)):
        with demo_store(app) as store:
            total = store.count()
            first = store.select(limit=1)[0]
        assert total == 71
        assert app.table.total == total
        text = screen_text(app)
        assert f"{total} events" in text
        assert str(first.event.record_id) in text  # the first row (time order) is on screen
        selected = app.selected_event()
        assert selected is not None and selected.id == first.id


@sync
async def test_second_open_uses_the_cache_at_once() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        path = app.workspace.store_path
    again = EvtxApp([str(DEMO)])
    async with opened(again, (100, 30), ready=False) as pilot:
        assert again.workspace.loaded  # ready on mount: no parsing
        assert again.workspace.store_path == path
        await settle(pilot)
        assert again.table.total == 71


@sync
async def test_rows_appear_while_loading_and_esc_stops(tmp_path: Path) -> None:
    log = big_log(tmp_path / "big.xml", 60_000)
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (100, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(0) is not None, timeout=30)
        assert not app.workspace.loaded, "rows must show before loading ends"
        assert "loading" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.workspace.loaded, timeout=30)
        await wait_for(pilot, lambda: app.table.total is not None)
        total = app.table.total
        assert total is not None and 0 < total < 60_000
        assert "loading stopped" in screen_text(app)


@sync
async def test_unreadable_input_is_counted_and_listed(tmp_path: Path) -> None:
    junk = tmp_path / "notalog.bin"
    junk.write_bytes(b"\x00garbage" * 10)
    app = EvtxApp([str(DEMO), str(junk)])
    async with opened(app, (120, 30)) as pilot:
        assert "1 unreadable" in screen_text(app)
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, IssuesScreen))
        screen = app.screen
        from textual.widgets import DataTable

        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1)
        cells = [str(c) for c in table.get_row_at(0)]
        assert "notalog.bin" in cells[0] and cells[-1]
        await pilot.press("escape")
        assert not isinstance(app.screen, IssuesScreen)


@sync
async def test_several_files_merge_by_time_with_source_column(tmp_path: Path) -> None:
    a = write_log(tmp_path / "a.xml", [event_xml(1, 4624, "2024-01-01T00:00:01Z", {"TargetUserName": "u1"}),
                                      event_xml(2, 4624, "2024-01-01T00:00:03Z", {"TargetUserName": "u3"})])
    b = write_log(tmp_path / "b.xml", [event_xml(7, 4634, "2024-01-01T00:00:02Z", {"TargetUserName": "u2"})])
    app = EvtxApp([str(a), str(b)])
    async with opened(app, (120, 30)) as pilot:
        assert app.table.total == 3
        order = [row_at(app, i).event.record_id for i in range(3)]
        assert order == [1, 7, 2]
        text = screen_text(app)
        assert "Source" in text and "b.xml" in text
        assert app.set_filter("file:b.xml")
        await wait_for(pilot, lambda: app.table.total == 1)


# -- filtering --------------------------------------------------------------------------------


@sync
async def test_filter_updates_view_and_bad_query_keeps_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        with demo_store(app) as store:
            expected = store.count(compile_query("4688"))
        await pilot.press("slash")
        await pilot.press(*"4688", "enter")
        await wait_for(pilot, lambda: app.table.total == expected)
        assert app.workspace.query == "4688"
        assert f"{expected} of 71 events" in screen_text(app)
        assert all(row_at(app, i).event.event_id == 4688 for i in range(5))
        assert app.focused is app.table

        await pilot.press("slash")
        await pilot.press("ctrl+u", *"4688 (", "enter")  # unbalanced parenthesis
        await pilot.pause(0.1)
        text = screen_text(app)
        error_line = next(line for line in text.splitlines() if "^" in line)
        assert error_line.index("^") == len("/ ") + 5  # under the "(" (position 5)
        assert app.workspace.query == "4688"
        assert app.table.total == expected
        assert f"{expected} of 71 events" in text


@sync
async def test_filter_as_you_type_after_debounce() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("slash", *"4690")
        await wait_for(pilot, lambda: app.table.total == 2)
        assert app.focused is not app.table  # still typing


@sync
async def test_history_is_kept_between_runs(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("slash", *"4689", "enter")
        await wait_for(pilot, lambda: app.workspace.query == "4689")
    assert History().entries[0] == "4689"
    again = EvtxApp([str(DEMO)])
    async with opened(again, (100, 30)) as pilot:
        await pilot.press("slash", "ctrl+u", "up")
        assert again.filter_bar.input.value == "4689"


@sync
async def test_find_next_and_previous_without_filtering() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        with demo_store(app) as store:
            ids = [se.id for se in store.select()]
            handles = [se.id for se in store.select(compile_query("4690"))]
        await pilot.press("f", *"4690", "enter")
        await wait_for(pilot, lambda: app.table.cursor == ids.index(handles[0]))
        assert app.table.total == 71  # not filtered
        await pilot.press("n")
        await wait_for(pilot, lambda: app.table.cursor == ids.index(handles[1]))
        await pilot.press("N")
        await wait_for(pilot, lambda: app.table.cursor == ids.index(handles[0]))


# -- navigation -------------------------------------------------------------------------------


@sync
async def test_keyboard_navigation() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        with demo_store(app) as store:
            ordered = [se.id for se in store.select()]
        table = app.table
        await pilot.press("j", "j", "down")
        assert table.cursor == 3
        await pilot.press("k")
        assert table.cursor == 2
        await pilot.press("G")
        await wait_for(pilot, lambda: (e := app.selected_event()) is not None and e.id == ordered[-1])
        selected = app.selected_event()
        assert selected is not None
        assert str(selected.event.record_id) in screen_text(app)
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("pagedown")
        assert table.cursor == table.visible_rows - 1
        await pilot.press("pageup")
        assert table.cursor == 0
        await pilot.press("enter")
        focused = app.focused
        assert isinstance(focused, FieldTree)
        await pilot.press("escape")
        assert app.focused is table


@sync
async def test_jump_to_event_clears_a_filter_that_hides_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        with demo_store(app) as store:
            target = store.select(compile_query("4690"), limit=1)[0]
        assert app.set_filter("4624")
        await wait_for(pilot, lambda: app.table.total == 6)
        app.jump_to_event(target.id)
        from tui.jump import JumpPrompt  # asked first, never silently (tests/app/test_app_jump.py)

        await wait_for(pilot, lambda: isinstance(app.screen, JumpPrompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: (e := app.selected_event()) is not None and e.id == target.id)
        assert app.workspace.query == ""


# -- detail pane ------------------------------------------------------------------------------


@sync
async def test_detail_pane_shows_decoded_values() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        with demo_store(app) as store:
            target = store.select(compile_query("4688 TokenElevationType:*"), limit=1)[0]
        app.jump_to_event(target.id)
        await wait_for(pilot, lambda: app.detail.store_id == target.id)
        labels = tree_labels(app)
        elevation = target.event.get("TokenElevationType")
        assert elevation is not None
        decoded = decode_value("TokenElevationType", elevation, 4688)
        assert decoded and any(elevation in lab and decoded in lab for lab in labels)
        label = target.event.get("MandatoryLabel")
        assert label is not None
        label_decoded = decode_value("MandatoryLabel", label, 4688)
        assert label_decoded is not None
        assert any(label in lab and label_decoded in lab for lab in labels)
        # The help of the highlighted field comes from the 4688 documentation.
        await pilot.press("enter")
        tree = app.query_one(FieldTree)
        for _ in range(40):
            node = tree.cursor_node
            if node is not None and "NewProcessId" in str(node.label):
                break
            await pilot.press("down")
        await pilot.pause(0.05)
        assert "PID of the new process" in screen_text(app)
        # The raw XML tab.
        await pilot.press("x")
        await wait_for(pilot, lambda: "<EventRecordID>" in screen_text(app) or "EventRecordID" in screen_text(app))


# -- help, palette, time ----------------------------------------------------------------------


@sync
async def test_help_lists_every_app_binding() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from textual.widgets import Static

        shown = str(app.screen.query_one("#help-text", Static).render())
        for binding in EvtxApp.BINDINGS + EventTable.BINDINGS:
            assert isinstance(binding, Binding)
            assert binding.description in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_help_in_a_view_lists_that_views_keys_first() -> None:
    """`?` in the Correlation view: its own keys (`r`, the tree's search and folding) before the
    app's, each once; on the main screen no such section."""
    from textual.widgets import Static

    from tui.correlation import CorrelationScreen
    from tui.nav_tree import NavTree
    from tui.tree_views import TreeViewScreen

    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 60)) as pilot:
        await pilot.press("question_mark")
        assert "This view" not in str(app.screen.query_one("#help-text", Static).render())
        await pilot.press("escape")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-text", Static).render())
        assert shown.startswith("This view (Correlation)\n")
        here = [line[20:] for line in shown.split("\n\n", 1)[0].splitlines()[1:]]  # the descriptions
        for binding in [*CorrelationScreen.BINDINGS, *TreeViewScreen.BINDINGS, *NavTree.BINDINGS]:
            assert isinstance(binding, Binding)
            assert here.count(binding.description) == 1, (binding.description, here)
        assert "Everywhere" in shown and "Quit" not in here


@sync
async def test_t_toggles_local_time_with_offset_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        app = EvtxApp([str(DEMO)])
        async with opened(app, (100, 30)) as pilot:
            assert "Time (UTC)" in screen_text(app)
            assert "2024-03-14 08:01:12" in screen_text(app)
            await pilot.press("t")
            await pilot.pause(0.05)
            text = screen_text(app)
            assert "Time (UTC+09:00)" in text
            assert "2024-03-14 17:01:12" in text
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    ("zone", "label", "winter", "summer"),
    [
        ("Asia/Tokyo", "UTC+09:00", "2024-01-10 21:00:00", "2024-07-10 21:00:00"),
        ("Europe/Berlin", "UTC+01:00/+02:00", "2024-01-10 13:00:00", "2024-07-10 14:00:00"),
        ("Australia/Sydney", "UTC+10:00/+11:00", "2024-01-10 23:00:00", "2024-07-10 22:00:00"),
        ("America/St_Johns", "UTC-03:30/-02:30", "2024-01-10 08:30:00", "2024-07-10 09:30:00"),
    ],
)
def test_local_time_uses_each_rows_own_offset_and_the_label_names_both(
    monkeypatch: pytest.MonkeyPatch, zone: str, label: str, winter: str, summer: str
) -> None:
    from core.model.event import datetime_to_filetime
    from tui.table_rows import format_time, local_offset_label

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        import datetime as dt

        noon = [datetime_to_filetime(dt.datetime(2024, m, 10, 12, tzinfo=dt.UTC)) for m in (1, 7)]
        assert local_offset_label() == label
        assert [format_time(t, True, False) for t in noon] == [winter, summer]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@sync
async def test_each_view_key_opens_its_view_over_the_events() -> None:
    """The views are imported when first opened (`tui.commands`): each key opens its screen,
    and `1` comes back to the events table."""
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        for key, name in (("2", "ProcessesScreen"), ("3", "HandlesScreen"), ("4", "SessionsScreen"),
                          ("5", "FindingsScreen"), ("6", "MarksScreen")):
            await pilot.press(key)

            def shown(name: str = name) -> bool:
                return type(app.screen).__name__ == name

            await wait_for(pilot, shown)
            assert len(app.screen_stack) == 2
        await pilot.press("1")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])


# -- terminal safety --------------------------------------------------------------------------


@sync
async def test_demo_hostile_command_line_is_literal() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 48)) as pilot:
        with demo_store(app) as store:
            target = store.select(compile_query('"[red]"'), limit=1)[0]
        app.jump_to_event(target.id)
        await wait_for(pilot, lambda: app.detail.store_id == target.id)
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "[red]x[/red]" in text
        assert "\\x1b[31mRED" in text
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text


@sync
async def test_own_hostile_strings_render_literally(tmp_path: Path) -> None:
    nasty = "[bold red]boom[/] \x1b]0;pwned\x07 \u202egnp.exe\x1b[2J"
    log = write_log(tmp_path / "evil.xml", [
        event_xml(1, 4688, "2024-01-01T00:00:00Z", {"NewProcessName": nasty, "CommandLine": nasty},
                  computer="[blink]HOST[/blink]"),
    ])
    app = EvtxApp([str(log)])
    async with opened(app, (160, 48)) as pilot:
        app.query_one(FieldTree).root.children[0].expand()  # System, with Computer
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "Computer: [blink]HOST[/blink]" in text
        assert "[bold red]boom[/]" in text
        assert "\\x1b]0;pwned\\x07" in text
        assert "\\u202e" in text
        for ch in ("\x1b", "\x07", "\u202e"):
            assert ch not in text


@sync
async def test_no_color_still_shows_cursor_and_focus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        assert app.no_color
        table = app.table
        cursor_line = table.render_line(1 + table.cursor - int(table.scroll_y))
        other_line = table.render_line(2 + table.cursor - int(table.scroll_y))
        assert all(seg.style is not None and seg.style.reverse for seg in cursor_line if seg.text.strip())
        assert not any(seg.style and seg.style.reverse for seg in other_line)
        # Focus shows as a heavy rule above the focused pane (no colour needed).
        text = screen_text(app)
        assert "━Events" in text and "─Detail" in text
        await pilot.press("enter")
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "─Events" in text and "━Detail" in text
        svg = app.export_screenshot()
        assert isinstance(svg, str)
        _ = Style  # styles are checked above on the rendered segments
