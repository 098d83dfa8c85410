"""`s` on the detail pane's System ProcessID stacks what `processid:` matches (the header of every
event, and an EventData ProcessId), numbers as numbers, and `enter` on a row shows as many events
as it counted. The panel stacked the header column alone under `processid`: a row of 200 said 1
and `processid:200` showed 2 (the other event's ProcessId field); once `pid` meant the
process-id alias, it stacked that instead, leaving out the Security log's header."""

from __future__ import annotations

from pathlib import Path

from tests.app.applogs import count
from tests.apputil import opened, sync, wait_for
from tests.logs import event_xml, write_events
from tui.app import EvtxApp
from tui.detail import FieldTree
from tui.stack_panel import StackScreen


def _log(path: Path) -> Path:
    at = "2024-03-14T08:00:{:02d}Z".format
    return write_events(path, [
        event_xml(7036, 1, at(1), {"ProcessId": "0xc8"}, channel="System", pid=100),
        event_xml(7036, 2, at(2), {"param1": "x"}, channel="System", pid=200),
        event_xml(7036, 3, at(3), {"param1": "y"}, channel="System", pid=300),
        event_xml(4624, 4, at(4), {"TargetUserName": "bob"}, pid=680),  # Security: lsass logs it
    ])


@sync
async def test_s_on_the_system_processid_then_enter_shows_the_rows_count(tmp_path: Path) -> None:
    app = EvtxApp([str(_log(tmp_path / "pids.xml"))])
    async with opened(app, (120, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.total == 4)
        await pilot.press("enter")  # focus the detail pane
        tree = app.query_one(FieldTree)
        detail = app.detail
        tree.root.children[0].expand()  # System, collapsed to one line
        await pilot.pause(0.05)
        for _ in range(40):
            node = tree.cursor_node
            if node is not None and detail.node_fields.get(node.id, ("", "", False))[::2] == ("ProcessID", True):
                break
            await pilot.press("down")
        node = tree.cursor_node
        assert node is not None and detail.node_fields[node.id][::2] == ("ProcessID", True)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        screen = app.screen
        assert isinstance(screen, StackScreen) and screen.result is not None
        result = screen.result
        assert result.field == "processid"
        assert {r.value: r.count for r in result.rows} == {"0x64": 1, "0xc8": 2, "0x12c": 1, "0x2a8": 1}
        at = next(i for i, r in enumerate(result.rows) if r.value == "0xc8")
        for _ in range(at):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.workspace.query == "processid:0xc8"
        await wait_for(pilot, lambda: app.table.total == 2)
        assert count(app, app.workspace.query) == 2
