"""Pivot keys on the Events screen: `=` filter to a value, `-` exclude it, `+` add it (AND),
`~` everything on the event's computer within 5 minutes (and back).

The query text comes from `core.query.pivot`, goes into the filter bar where the analyst sees
and can edit it, and is applied from there (`EvtxApp.set_filter`). The field is the detail
pane's highlighted field when the pane has focus (what the analyst is reading), else the
table's field column (`EventTable.field_column`, moved with left/right).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Tree

from core.model.summary import event_image, event_user
from core.query import pivot
from core.query.lexer import QueryError

if TYPE_CHECKING:
    from tui.app import EvtxApp

#: Detail pane System names -> the query field (TimeCreated has none: use `~`).
SYSTEM_FIELDS: dict[str, str] = {
    "Provider": "provider",
    "EventID": "id",
    "Version": "version",
    "Level": "level",
    "Task": "task",
    "Opcode": "opcode",
    "Keywords": "keywords",
    "EventRecordID": "record",
    "ProcessID": "processid",
    "ThreadID": "threadid",
    "Channel": "channel",
    "Computer": "computer",
    "UserID": "usersid",
}
#: How many minutes either side of the event `~` shows.
AROUND_MINUTES = 5


def selected_field(app: EvtxApp) -> tuple[str, str] | None:
    """(query field, value) the pivot keys act on, or None (with the reason notified)."""
    detail = app.detail
    tree = detail.query_one(Tree)
    if detail.display and tree.has_focus:
        node = tree.cursor_node
        found = detail.node_fields.get(node.id) if node is not None else None
        if found is None:
            app.notify("this line is not a field", severity="warning")
            return None
        name, value, system = found
        field = SYSTEM_FIELDS.get(name) if system else name
        if field is None:
            app.notify(f"no pivot on {name}", severity="warning")
            return None
        return field, value
    row = app.table.selected_row()
    if row is None:
        app.notify("no event selected", severity="warning")
        return None
    event = row.event
    column = app.table.field_column or "eid"
    cells = {
        "eid": str(event.event_id),
        "record": "" if event.record_id is None else str(event.record_id),
        "computer": event.computer,
        "user": event_user(event),
        "image": event_image(event),
        "channel": event.channel,
        "provider": event.provider,
    }
    value = cells.get(column, "")
    field = pivot.column_field("id" if column == "eid" else column)
    if column.startswith("field:"):  # an EventData field column (tui.columns)
        field = column.removeprefix("field:")
        value = next((str(v) for k, v in event.data if k.lower() == field), "")
    if field is None or not value:
        app.notify("no value in this column", severity="warning")
        return None
    return field, value


def pivot_query(app: EvtxApp, how: str) -> None:
    """Apply `how` ("to", "add", "exclude") on the selected field to the filter."""
    picked = selected_field(app)
    if picked is None:
        return
    apply_pivot(app, how, *picked)


def apply_pivot(app: EvtxApp, how: str, field: str, value: str) -> None:
    """Put the pivot's query in the filter bar and apply it."""
    current = app.workspace.query
    try:
        if how == "to":
            text = pivot.filter_to(field, value)
        elif how == "add":
            text = pivot.add_filter(current, field, value)
        else:
            text = pivot.exclude(current, field, value)
    except QueryError:  # the current query does not parse: start from the value alone
        text = pivot.filter_to(field, value) if how != "exclude" else f"-{pivot.term(field, value)}"
    app.set_filter(text)


def toggle_around(app: EvtxApp) -> None:
    """`~`: the events on the selected event's computer within AROUND_MINUTES; again: back."""
    ws = app.workspace
    if app.around_back is not None and ws.query == app.around_query:
        back, app.around_back = app.around_back, None
        app.set_filter(back)
        return
    row = app.table.selected_row()
    text = pivot.around_event(row.event, AROUND_MINUTES) if row is not None else None
    if text is None:
        app.notify("no event with a time selected", severity="warning")
        return
    app.around_back, app.around_query = ws.query, text
    app.set_filter(text)
