"""Pilot tests of the triage keys on the Events screen: pivots (`=`, `+`, `-`, `~`), the stack
panel (`s`) and the timeline strip (`h`), on the demo log."""

from __future__ import annotations

from pathlib import Path

from core.query.compile import compile_query
from core.store.store import Store
from tests.app.applogs import count
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree


@sync
async def test_pivot_keys_build_the_query_in_the_bar_and_apply_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        row = app.table.selected_row()
        assert row is not None
        eid = row.event.event_id
        await pilot.press("equals_sign")
        assert app.filter_bar.input.value == f"id:{eid}"
        await wait_for(pilot, lambda: app.table.total == count(app, f"id:{eid}"))
        # the Computer column: one right from EvID
        await pilot.press("right")
        assert app.table.field_column == "computer"
        computer = row.event.computer
        await pilot.press("minus")
        assert app.filter_bar.input.value == f"id:{eid} -computer:{computer}"
        await wait_for(pilot, lambda: app.table.total == count(app, f"id:{eid} -computer:{computer}"))
        await pilot.press("plus")  # no event selected in an empty view, or adds the shown one
        assert app.workspace.query == app.filter_bar.input.value


@sync
async def test_pivot_on_the_detail_panes_field() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("enter")  # focus the detail pane
        tree = app.query_one(FieldTree)
        detail = app.detail
        # move to the first EventData field
        for _ in range(40):
            node = tree.cursor_node
            if node is not None and node.id in detail.node_fields and not detail.node_fields[node.id][2]:
                break
            await pilot.press("down")
        node = tree.cursor_node
        assert node is not None
        name, _value, _system = detail.node_fields[node.id]
        await pilot.press("equals_sign")
        assert app.filter_bar.input.value.startswith(f"{name}:")
        await wait_for(pilot, lambda: app.table.total == count(app, app.filter_bar.input.value))
        assert app.table.total and app.table.total >= 1


@sync
async def test_around_shows_the_computer_near_the_event_and_back() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("id:4688")
        await wait_for(pilot, lambda: app.table.total == count(app, "id:4688"))
        await pilot.pause(0.1)
        row = app.table.selected_row()
        assert row is not None
        await pilot.press("tilde")
        text = app.filter_bar.input.value
        assert text.startswith(f"computer:{row.event.computer} after:")
        await wait_for(pilot, lambda: app.table.total == count(app, text))
        await pilot.press("tilde")
        assert app.filter_bar.input.value == "id:4688"
        await wait_for(pilot, lambda: app.table.total == count(app, "id:4688"))


@sync
async def test_an_unknown_field_is_an_error_under_the_bar() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        total = app.table.total
        await pilot.press("slash", *"usr:alice", "enter")
        await pilot.pause(0.1)
        error = app.filter_bar.error
        assert error is not None and "usr" in error.message
        assert app.table.total == total  # the view is not replaced by an empty one


@sync
async def test_stack_panel_counts_rarest_first_and_filters_or_excludes() -> None:
    from textual.widgets import DataTable

    from tui.stack_panel import StackScreen

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("s")  # the EvID column
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        screen = app.screen
        assert isinstance(screen, StackScreen) and screen.result is not None
        counts = [r.count for r in screen.result.rows]
        assert counts == sorted(counts) and sum(counts) == count(app, "")
        table = screen.query_one(DataTable)
        assert table.row_count == len(counts)
        rarest = screen.result.rows[0]
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.result is not None and screen.result.rows[0].count == max(counts))
        await pilot.press("minus")  # exclude the commonest id
        commonest = screen.result.rows[0]
        assert app.screen is app.screen_stack[0]
        assert app.filter_bar.input.value == f"-id:{commonest.value}"
        await wait_for(pilot, lambda: app.table.total == count(app, "") - commonest.count)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        narrowed = app.screen
        assert isinstance(narrowed, StackScreen) and narrowed.result is not None
        first = narrowed.result.rows[0]
        await pilot.press("enter")  # the rarest in the filtered view: narrows it (its filter AND the id)
        assert app.filter_bar.input.value == f"-id:{commonest.value} id:{first.value}"
        await wait_for(pilot, lambda: app.table.total == first.count)
        assert rarest.value != commonest.value


@sync
async def test_timeline_strip_shows_the_view_and_zooms_into_a_bucket() -> None:
    from tests.apputil import screen_text
    from tui.timeline_strip import BLOCKS, TimelineStrip

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        strip = app.query_one(TimelineStrip)
        assert not strip.display
        await pilot.press("h")
        await wait_for(pilot, lambda: strip.result is not None)
        result = strip.result
        assert result is not None and sum(b.count for b in result.buckets) == count(app, "")
        await pilot.pause(0.05)
        text = screen_text(app)
        assert any(ch in text for ch in BLOCKS[1:]) and "enter zoom" in text
        # the busiest bucket
        busiest = max(range(len(result.buckets)), key=lambda i: result.buckets[i].count)
        key = "right_square_bracket" if busiest > strip.selected else "left_square_bracket"
        for _ in range(len(result.buckets)):
            if strip.selected == busiest:
                break
            await pilot.press(key)
        assert strip.selected == busiest
        await pilot.press("enter")
        b = result.buckets[busiest]
        assert app.filter_bar.input.value == b.query()
        await wait_for(pilot, lambda: app.table.total == b.count)
        # the strip follows the new view
        await wait_for(pilot, lambda: strip.result is not None and strip.result.total == b.count)
        await pilot.press("h")
        assert not strip.display


@sync
async def test_a_filter_change_keeps_the_selected_event_or_the_nearest_in_time() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press(*(["down"] * 30))
        await pilot.pause(0.1)
        row = app.table.selected_row()
        assert row is not None and app.table.cursor == 30
        eid = row.event.event_id
        await pilot.press("equals_sign")  # the view holds it: still selected
        await wait_for(pilot, lambda: app.table.total == count(app, f"id:{eid}"))
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == row.id)
        app.set_filter(f"-id:{eid}")  # the view lacks it: the nearest in time
        await wait_for(pilot, lambda: app.table.total == count(app, f"-id:{eid}"))
        assert app.workspace.store_path is not None
        with Store(app.workspace.store_path, readonly=True) as store:
            c = compile_query(f"-id:{eid}")
            times = [se.event.filetime for se in store.select(c)]
        ts = row.event.filetime
        assert ts is not None
        best = min(abs(t - ts) for t in times if t is not None)

        def near() -> bool:
            r = app.table.selected_row()
            return r is not None and r.event.filetime is not None and abs(r.event.filetime - ts) == best
        await wait_for(pilot, near)
        assert app.table.cursor > 0


@sync
async def test_stack_and_pivot_take_hostile_values_literally(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from tests.app.applogs import event_xml, write_log
    from tui.stack_panel import StackScreen

    evil = 'C:\\x [bold red]y[/] "q" *.exe'
    log = write_log(tmp_path / "evil.xml", [
        event_xml(1, 4688, "2024-01-01T00:00:00Z", {"NewProcessName": evil}),
        event_xml(2, 4688, "2024-01-01T00:00:01Z", {"NewProcessName": "C:\\a.exe"}),
        event_xml(3, 4688, "2024-01-01T00:00:02Z", {"NewProcessName": "C:\\a.exe"}),
    ])
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("right", "right", "right")  # to the Image column
        assert app.table.field_column == "image"
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        screen = app.screen
        assert isinstance(screen, StackScreen) and screen.result is not None
        assert [r.value for r in screen.result.rows] == [evil, "C:\\a.exe"]
        table = screen.query_one(DataTable)
        assert table.get_row_at(0)[2].plain == evil  # shown as typed, no markup applied
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.table.total == 1)
        row = app.table.selected_row()
        assert row is not None and row.event.get("NewProcessName") == evil


@sync
async def test_timeline_brackets_skip_the_buckets_without_events() -> None:
    """`]`/`[` stopped on an empty bucket, and `enter` there zoomed into no event at all."""
    from tui.timeline_strip import TimelineStrip

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        strip = app.query_one(TimelineStrip)
        await pilot.press("g", "h")
        await wait_for(pilot, lambda: strip.result is not None)
        result = strip.result
        assert result is not None
        full = [i for i, b in enumerate(result.buckets) if b.count]
        assert len(full) < len(result.buckets), "the demo's histogram has empty buckets"
        assert strip.selected == full[0]
        visited = [strip.selected]
        for _ in full[1:]:
            await pilot.press("right_square_bracket")
            visited.append(strip.selected)
        assert visited == full
        await pilot.press("right_square_bracket")  # past the last: it stays
        assert strip.selected == full[-1]
        for _ in full[1:]:
            await pilot.press("left_square_bracket")
        assert strip.selected == full[0]
        strip.selected = next(i for i, b in enumerate(result.buckets) if not b.count)
        await pilot.press("enter")  # an empty bucket (no key lands there): refused, said
        assert app.filter_bar.input.value == ""
        strip.selected = full[0]
        await pilot.press("right_square_bracket", "enter")
        b = result.buckets[full[1]]
        assert app.filter_bar.input.value == b.query()
        await wait_for(pilot, lambda: app.table.total == b.count)


@sync
async def test_timeline_strip_fills_its_width_again_when_the_terminal_is_resized() -> None:
    """The bars are cut to the strip's width when drawn: a histogram drawn before the strip had
    its width (or at a narrower terminal) showed 10 buckets (or the old width's) until the
    selection moved."""
    from tui.timeline_strip import TimelineStrip

    app = EvtxApp([str(DEMO)])
    async with opened(app, (40, 30)) as pilot:
        strip = app.query_one(TimelineStrip)
        await pilot.press("h")
        await wait_for(pilot, lambda: strip.result is not None)
        await pilot.pause(0.05)
        result = strip.result
        assert result is not None and len(result.buckets) > 60

        def bars_shown() -> int:
            return len(str(strip.render()).split("\n", 1)[0])

        assert bars_shown() == strip.size.width - 2 < len(result.buckets)
        await pilot.resize_terminal(120, 30)
        await wait_for(pilot, lambda: bars_shown() == len(result.buckets))

