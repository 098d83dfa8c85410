"""Pivot keys on the Events screen: `=` filter to a value, `-` exclude it, `+` add it (AND),
`~` everything on the event's computer within N minutes (and back; `w` sets N, 5 at first,
and the status line shows the span while that view is on).

The query text comes from `core.query.pivot`, goes into the filter bar where the analyst sees
and can edit it, and is applied from there (`EvtxApp.set_filter`). The field is the detail
pane's highlighted field when the pane has focus (what the analyst is reading), else the
table's field column (`EventTable.field_column`, moved with left/right).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Tree

from core.model.event import Event
from core.model.summary import event_user_field
from core.model.summary_util import present
from core.model.text import printable
from core.query import pivot
from core.query.compile import ALIAS_FIELDS, OWN_IMAGE_FIELDS
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
    "Source": "file",  # the input's path (`file:` matches a whole path or a file name)
}
#: Table columns whose field `core.query.pivot.column_field` does not name, as the detail pane
#: names them: Level (`level:`, the System column) and Source (`file:`, the input's path).
TABLE_SYSTEM_COLUMNS: dict[str, str] = {"level": SYSTEM_FIELDS["Level"], "source": SYSTEM_FIELDS["Source"]}
#: The fields `user:` reads (lower-cased): a User cell from one of them pivots on the alias.
USER_ALIAS = frozenset(name.lower() for name in ALIAS_FIELDS["user"])
#: How many minutes either side of the event `~` shows until the analyst sets it (`w`).
AROUND_MINUTES = 5
#: The fields the Image column reads, in its order (`core.model.summary.event_image`; a test
#: keeps the two the same). The column shows a base name, but `image:` compares whole values:
#: the pivot takes the whole value of the field shown (`image:userinit.exe` matched nothing).
IMAGE_COLUMN_FIELDS: tuple[str, ...] = (
    "NewProcessName", "ProcessName", "Image", "SourceImage", "Application", "ImagePath", "CallerProcessName",
)


def image_field(event: Event) -> tuple[str, str] | None:
    """(query field, whole value) behind the event's Image cell: `image` for the process's own
    image (the alias covers those fields), else the field itself (a Sysmon 10's `SourceImage`,
    which `image:` does not read); None when the cell is empty."""
    for name in IMAGE_COLUMN_FIELDS:
        value = event.get(name)
        if value is not None and present(value):
            return ("image" if name in OWN_IMAGE_FIELDS else name.lower()), value
    return None


def user_field(event: Event) -> tuple[str, str] | None:
    """(query field, value as logged) behind the event's User cell: the cell shows `SYSTEM` for
    S-1-5-18 and a cleaned value, which no field holds (`user:SYSTEM` found nothing). `user`
    when the alias covers the field, `usersid` for the System user, else the field itself (a
    Sysmon 10's `SourceUser`)."""
    found = event_user_field(event)
    if found is None:
        return None
    name, value = found
    if name == "UserID":
        return SYSTEM_FIELDS["UserID"], value
    return ("user" if name.lower() in USER_ALIAS else name.lower()), value


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
        "channel": event.channel,
        "provider": event.provider,
        "level": "" if event.level is None else str(event.level),
        "source": source_path(app, event),
    }
    value = cells.get(column, "")
    field = column_query_field(column)
    if column == "image":
        field, value = image_field(event) or (field, "")
    if column == "user":
        field, value = user_field(event) or (field, "")
    if column.startswith("field:"):  # an EventData field column (tui.columns)
        field = column.removeprefix("field:")
        value = next((str(v) for k, v in event.data if k.lower() == field), "")
    if field is None or not value:
        app.notify("no value in this column", severity="warning")
        return None
    return field, value


def stack_field(app: EvtxApp) -> str | None:
    """The query field `s` stacks, or None (with the reason notified): the detail pane's
    highlighted field when the pane has focus, else the table's field column's own field,
    whatever the selected row holds (a stack is a property of the view: the Image column
    stacks `image`, User `user`, an EventData column its field, even on a row without it)."""
    detail = app.detail
    if detail.display and detail.query_one(Tree).has_focus:
        picked = selected_field(app)
        return picked[0] if picked is not None else None
    column = app.table.field_column or "eid"
    if column.startswith("field:"):  # an EventData field column (tui.columns)
        return column.removeprefix("field:")
    field = column_query_field(column)
    if field is None:
        app.notify("no field behind this column", severity="warning")
    return field


def column_query_field(column: str) -> str | None:
    """The query field behind a table column's cells (EvID `id`, Level `level`, Source `file`,
    ...), None for a column no field holds (Time: `~` instead; Summary)."""
    return pivot.column_field("id" if column == "eid" else column) or TABLE_SYSTEM_COLUMNS.get(column)


def source_path(app: EvtxApp, event: Event) -> str:
    """The whole path of the event's input, which `file:` matches (the Source cell shows its
    file name only, and two inputs may share one: `Security.evtx` of two hosts); '' unknown."""
    found = app.workspace.sources.get(event.source)
    return found.path if found is not None else ""


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
        try:
            text = pivot.filter_to(field, value) if how != "exclude" else f"-{pivot.term(field, value)}"
        except QueryError as exc:  # a field name no query term can hold: said, the filter kept
            app.notify(printable(exc.message), severity="warning", markup=False)
            return
    if pivot.prefix_only(field, value):  # (a megabyte command line: more than a query holds)
        app.notify(f"a value of {len(value):,} characters: the filter matches its first ones (a prefix, *)",
                   markup=False)
    app.set_filter(text)


def toggle_around(app: EvtxApp) -> None:
    """`~`: the events on the selected event's computer within `app.around_minutes`; again: back."""
    ws = app.workspace
    if around_active(app):
        back, app.around_back = app.around_back or "", None
        app.set_filter(back)
        return
    row = app.table.selected_row()
    text = pivot.around_event(row.event, app.around_minutes) if row is not None else None
    if row is None or text is None:
        app.notify("no event with a time selected", severity="warning")
        return
    app.around_back, app.around_query, app.around_anchor = ws.query, text, row.event
    app.set_filter(text)


def around_active(app: EvtxApp) -> bool:
    """Whether the view is the one `~` set (so `~` goes back and a new span re-applies)."""
    return app.around_back is not None and app.workspace.query == app.around_query


def set_around_span(app: EvtxApp, minutes: int) -> None:
    """The span of `~` (minutes either side); the view `~` shows follows at once."""
    app.around_minutes = minutes
    anchor = app.around_anchor
    if around_active(app) and anchor is not None:
        text = pivot.around_event(anchor, minutes)
        if text is not None:
            app.around_query = text
            app.set_filter(text)
            return
    app.notify(f"~ shows {span_label(minutes)} around the selected event")


def span_label(minutes: int) -> str:
    """`±5 min`, `±2 h`: the span as the status line says it."""
    return f"±{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"±{minutes} min"


def around_note(app: EvtxApp) -> str:
    """The status line's word on the `~` view: its span, the event, the keys."""
    anchor = app.around_anchor
    if not around_active(app) or anchor is None:
        return ""
    record = anchor.record_id if anchor.record_id is not None else anchor.record_number
    return (f"{span_label(app.around_minutes)} around #{record} on {printable(anchor.computer or '?')}"
            " (~ back, w span)")
