"""The main screen's selected event, as the findings tests reach and read it: an event's store id
from its record id (`store_id_of`), selecting it (`select`), the cursor row's marker cells as
drawn (`markers`), and the detail pane's Findings node (`findings_node_labels`)."""

from __future__ import annotations

from typing import Any

from core.query.compile import compile_query
from core.store.store import Store
from tests.apputil import wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree


def store_id_of(app: EvtxApp, record_id: int) -> int:
    assert app.workspace.store_path is not None
    with Store(app.workspace.store_path, readonly=True) as store:
        rows = store.select(compile_query(f"record:{record_id}"))
    assert len(rows) == 1
    return rows[0].id


async def select(pilot: Any, app: EvtxApp, store_id: int) -> None:
    app.jump_to_event(store_id)
    await wait_for(pilot, lambda: app.detail.store_id == store_id)
    await pilot.pause(0.05)


def cursor_line(app: EvtxApp) -> Any:
    table = app.table
    return table.render_line(1 + table.cursor - int(table.scroll_y))


def markers(app: EvtxApp) -> str:
    """The two marker cells (mark, finding) of the cursor row, as drawn."""
    return "".join(seg.text for seg in cursor_line(app))[:2]


def findings_node_labels(app: EvtxApp) -> list[str]:
    tree = app.query_one(FieldTree)
    nodes = [n for n in tree.root.children if str(n.label).startswith("Findings")]
    assert len(nodes) == 1
    node = nodes[0]
    # Near the top: right under the one-line System node, above EventData.
    assert tree.root.children.index(node) == 1
    return [str(node.label)] + [str(child.label) for child in node.children]
