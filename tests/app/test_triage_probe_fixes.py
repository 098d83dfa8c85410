"""Keys that did nothing, or said something untrue, in a keyboard triage of the demo log:
`=` on the detail pane's `Source`, `[`/`]` with the timeline strip hidden (silent) or shown
(the bucket moved, the table's selection did not), `enter` on a correlation line that names
an event without linking it ("no event in the log", though the event is in it)."""

from __future__ import annotations

from pathlib import Path

from core.query import pivot
from tests.app.applogs import count, event_xml, write_log
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.detail import FieldTree
from tui.nav_tree import NavTree
from tui.timeline_strip import TimelineStrip


def notes(app: EvtxApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@sync
async def test_equals_on_the_detail_panes_source_filters_to_that_file(tmp_path: Path) -> None:
    other = write_log(tmp_path / "other.xml", [
        event_xml(1, 4688, "2024-03-14T08:00:00.0000000Z", {"NewProcessName": "C:\\x\\a.exe"}),
    ])
    app = EvtxApp([str(DEMO), str(other)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("enter")  # focus the detail pane
        tree = app.query_one(FieldTree)
        detail = app.detail
        tree.root.children[0].expand()  # System, collapsed to one line
        await pilot.pause(0.05)
        for _ in range(40):
            node = tree.cursor_node
            if node is not None and detail.node_fields.get(node.id, ("",))[0] == "Source":
                break
            await pilot.press("down")
        node = tree.cursor_node
        assert node is not None and detail.node_fields[node.id][:1] == ("Source",)
        await pilot.press("equals_sign")
        query = app.filter_bar.input.value
        assert query.startswith("file:")
        row = app.table.selected_row()
        assert row is not None
        expected = count(app, "") - 1 if "intrusion" in query else 1
        assert count(app, query) == expected
        await wait_for(pilot, lambda: app.table.total == expected)


@sync
async def test_bucket_keys_say_the_strip_is_hidden_and_select_the_buckets_first_event() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        strip = app.query_one(TimelineStrip)
        first = app.table.selected_row()
        await pilot.press("right_square_bracket")
        await pilot.pause(0.05)
        assert any("timeline strip is hidden" in n and "h shows it" in n for n in notes(app))
        assert app.table.selected_row() == first
        await pilot.press("h")
        await wait_for(pilot, lambda: strip.result is not None)
        result = strip.result
        assert result is not None
        for key in ("right_square_bracket", "right_square_bracket", "right_square_bracket",
                    "left_square_bracket"):
            await pilot.press(key)
        await pilot.pause(0.05)
        bucket = result.buckets[strip.selected]
        # the table selects the bucket's first event, and the strip stays on that bucket
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None
                       and r.event.filetime is not None and bucket.start <= r.event.filetime < bucket.end)
        await pilot.pause(0.2)
        row = app.table.selected_row()
        assert row is not None and result.bucket_of(row.event.filetime) == strip.selected
        assert app.table.cursor == count(app, f"before:{pivot.time_text(bucket.start)}")  # its first


@sync
async def test_a_correlation_line_without_an_event_does_not_say_the_log_lacks_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("4690")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: tree.last_line > 2)
        line = next(i for i in range(tree.last_line + 1)
                    if (n := tree.get_node_at_line(i)) is not None and n.data is not None
                    and n.data.store_id is None and "why: " in str(n.label))
        tree.cursor_line = line
        await pilot.pause(0.05)
        await pilot.press("enter")
        await pilot.pause(0.05)
        said = notes(app)[-1]
        assert "not in the log" not in said and "no event in the log" not in said
        assert said.startswith("no event to jump to from this line")


@sync
async def test_O_in_time_order_says_so() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app.table.settings.sort_key is None
        await pilot.press("O")
        await pilot.pause(0.05)
        assert any("time order already" in n for n in notes(app))
