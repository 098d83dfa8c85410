"""Moves around the Events filter: a jump from a correlation tree never drops the filter
silently (a prompt, and `b` back), the span of `~` is adjustable and shown, the timeline strip's
bucket follows the table's cursor."""

from __future__ import annotations

from typing import Any

from core.query import pivot
from core.store.store import Store
from tests.app.applogs import count
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.nav_tree import NavTree


def event_id_of(app: EvtxApp, store_id: int) -> int:
    assert app.workspace.store_path is not None
    with Store(app.workspace.store_path, readonly=True) as store:
        found = store.get(store_id)
    assert found is not None
    return found.event.event_id


async def open_correlation_on(pilot: Any, app: EvtxApp, hidden: bool) -> tuple[NavTree, int, int]:
    """`c` on the selected 4690; the cursor on a tree node whose event the filter `4690` hides
    (`hidden`) or shows; (the tree, that line, the node's store id)."""
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
    tree = app.screen.query_one(NavTree)
    await wait_for(pilot, lambda: tree.last_line > 2)
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        sid = node.data.store_id if node is not None and node.data is not None else None
        if sid is not None and (event_id_of(app, sid) != 4690) == hidden:
            tree.cursor_line = line
            await pilot.pause(0.05)
            return tree, line, sid
    raise AssertionError("no such node in the correlation tree")


@sync
async def test_a_jump_to_an_event_the_filter_hides_asks_first_and_b_comes_back() -> None:
    from tui.jump import JumpPrompt

    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        app.set_filter("4690")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        await pilot.press("down")
        await pilot.pause(0.1)
        before = app.table.selected_row()
        assert before is not None and before.event.event_id == 4690
        tree, line, target = await open_correlation_on(pilot, app, hidden=True)
        record = None
        assert app.workspace.store_path is not None
        with Store(app.workspace.store_path, readonly=True) as store:
            stored = store.get(target)
            assert stored is not None
            record = stored.event.record_id
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpPrompt))
        text = screen_text(app)
        assert f"Event #{record}" in text and "hidden by the filter `4690`" in text
        # cancel: the tree and the filter stay
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        assert app.workspace.query == "4690" and app.table.total == count(app, "4690")
        # again, and clear: the event is selected, the status line says how to come back
        tree.cursor_line = line
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpPrompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == target)
        assert app.workspace.query == "" and app.filter_bar.input.value == ""
        await pilot.pause(0.05)
        status = " ".join(screen_text(app).split())  # the status line may wrap at 100 columns
        assert f"filter `4690` cleared to show #{record}" in status and "b restores it" in status
        # b: the filter and the event selected before
        await pilot.press("b")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == before.id)
        assert app.filter_bar.input.value == "4690"
        assert "cleared to show" not in screen_text(app)


@sync
async def test_a_jump_to_an_event_in_the_filtered_view_goes_straight_there() -> None:
    from tui.jump import JumpPrompt

    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        app.set_filter("4690")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        _tree, _line, target = await open_correlation_on(pilot, app, hidden=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == target)
        assert not isinstance(app.screen, JumpPrompt) and app.workspace.query == "4690"


@sync
async def test_the_span_of_around_is_adjustable_and_shown() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("id:4688")
        await wait_for(pilot, lambda: app.table.total == count(app, "id:4688"))
        await pilot.pause(0.1)
        row = app.table.selected_row()
        assert row is not None
        await pilot.press("w", "1", "5", "enter")  # the box starts selected: typing replaces it
        assert app.around_minutes == 15
        await pilot.press("tilde")
        wide = pivot.around_event(row.event, 15)
        assert wide is not None and app.filter_bar.input.value == wide
        await wait_for(pilot, lambda: app.table.total == count(app, wide))
        await pilot.pause(0.05)
        assert f"±15 min around #{row.event.record_id}" in screen_text(app)
        # a new span while the view is on: the view follows at once
        await pilot.press("w", "1", "enter")
        narrow = pivot.around_event(row.event, 1)
        assert narrow is not None and app.filter_bar.input.value == narrow
        await wait_for(pilot, lambda: app.table.total == count(app, narrow))
        await pilot.pause(0.05)
        assert "±1 min around" in screen_text(app)
        await pilot.press("tilde")  # and back
        assert app.filter_bar.input.value == "id:4688"
        await wait_for(pilot, lambda: app.table.total == count(app, "id:4688"))
        assert "min around" not in screen_text(app)


@sync
async def test_a_bad_span_is_refused_and_the_span_kept() -> None:
    from tui.span_prompt import SpanPrompt, parse_minutes

    assert [parse_minutes(t) for t in ("5", " 60 ", "0", "", "99999999", "1.5")] == [5, 60, None, None, None, None]
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("w", "0", "enter")
        assert isinstance(app.screen, SpanPrompt) and "whole number of minutes" in screen_text(app)
        await pilot.press("escape")
        assert app.around_minutes == 5 and app.screen is app.screen_stack[0]


@sync
async def test_the_timeline_bucket_follows_the_table_cursor() -> None:
    from tui.timeline_strip import TimelineStrip

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        strip = app.query_one(TimelineStrip)
        await pilot.press("h")
        await wait_for(pilot, lambda: strip.result is not None)
        result, generation = strip.result, strip.generation
        assert result is not None and len(result.buckets) > 2
        first = strip.selected
        app.table.focus()
        await pilot.press("G")  # the last event: the last busy bucket
        await wait_for(pilot, lambda: app.table.selected_row() is not None and app.table.cursor > 0)
        row = app.table.selected_row()
        assert row is not None
        await wait_for(pilot, lambda: strip.selected == result.bucket_of(row.event.filetime))
        assert strip.selected != first
        assert strip.generation == generation and strip.result is result  # no query again
        await pilot.press("g")
        await wait_for(pilot, lambda: strip.selected == first)
