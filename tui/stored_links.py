"""A list line's correlation as its links read from the store, for a line whose tree is not.

The Handles and Process access lists store every line, but the correlation tree of only their
first lines' events (`tui.stored_views.TREE_LINES`: a tree per line was ~0.35 ms of the
writer's CPU and ~1 KB of the store, and a ten-million-event log lists hundreds of thousands).
On a reopen the model is not in memory, and building it for one line's tree took minutes at
that size. So a line beyond them shows what the correlation tables hold for its event: each
link the engine made (`corr_link`: role, instance, confidence, reason) with the instance's
fields (`corr_process`, `corr_handle`, `corr_session`), every node jumping to its event. The
first node says that this is not the full tree, and how to get it (`c`: the event's
correlation, from the model). Labels hold log data verbatim: the tree renders them literally.
"""

from __future__ import annotations

from typing import Any

from core.correlate.evidence import pid_text
from core.correlate.processes import EXACT
from core.correlate.sessions import logon_type_name
from core.model.access import decode_messages
from core.model.event import iso_from_filetime
from core.model.values import hex_id
from core.store import correlation_links
from core.store import correlation_tables as tables
from core.store.store import Store, StoredEvent
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import TREE_LINES

#: The first node of such a tree: what it is and is not.
NOTE = (f"links as stored: the full correlation tree is stored for the first {TREE_LINES:,} lines of a list;"
        " c shows this event's (it builds the correlation model: minutes on a big log)")
#: The one node shown instead while the links are not stored yet (written after the views).
NOT_YET = (f"not stored: the full correlation tree is stored for the first {TREE_LINES:,} lines of a list, and"
           " the links of the others are still being written (after the views); c shows this event's"
           " (it builds the correlation model: minutes on a big log)")


def _basename(path: Any) -> str:
    text = str(path or "")
    return text.replace("/", "\\").rsplit("\\", 1)[-1] or "?"


def _process_label(row: dict[str, Any]) -> str:
    pid = row.get("pid")
    name = _basename(row.get("image"))
    return f"{name} {pid_text(pid)}" + (f" ({pid})" if pid is not None else "")


def _access_words(access: Any) -> Any:
    """Rights as the model's tree words them (`%%4433` -> `Set key value`), else as logged."""
    return (decode_messages(access) or " ".join(access.split())) if isinstance(access, str) and access else access


def _logon_type(kind: Any) -> Any:
    """`2 Interactive`, as the model's tree says it (a type it does not know: as logged)."""
    return f"{kind} {logon_type_name(str(kind))}".rstrip() if kind is not None and kind != "" else kind


def _field(label: str, value: Any, store_id: Any = None) -> ViewNode | None:
    if value is None or value == "":
        return None
    return ViewNode(f"{label}: {value}", store_id if isinstance(store_id, int) else None, confidence=EXACT)


def _event(store: Store, label: str, store_id: Any) -> ViewNode | None:
    """A line for the instance's event `store_id`: its EventID, record and time as the model's
    tree says them (`4688 record 48232 at 2024-...Z`), read from the store (a handful a tree)."""
    if not isinstance(store_id, int):
        return None
    found = store.get(store_id)
    what = "event"
    if found is not None:
        ev = found.event
        record = ev.record_id if ev.record_id is not None else ev.record_number
        what = f"{ev.event_id} record {record} at {iso_from_filetime(ev.filetime) or 'no time'}"
    return ViewNode(f"{label}: {what} (enter: jump)", store_id, confidence=EXACT)


def _process(store: Store, row: dict[str, Any]) -> tuple[str, int | None, list[ViewNode | None]]:
    parent = row.get("parent")
    parent_row = tables.instance(store, "process", parent) if isinstance(parent, int) else None
    parent_node = (ViewNode(f"parent: {_process_label(parent_row)}", parent_row.get("created") or
                            parent_row.get("first_seen"), confidence=parent_row.get("confidence"))
                   if parent_row is not None else _field("parent pid", pid_text(row.get("parent_pid"))
                                                         if row.get("parent_pid") is not None else None))
    logon = row.get("logon_id")
    fields = [
        _event(store, "created", row.get("created")),
        _field("image", row.get("image")),
        _field("command line", row.get("command_line"), row.get("created")),
        _field("user", row.get("user")),
        _field("logon", f"{hex_id(logon)}" if isinstance(logon, int) else None),
        parent_node,
        _event(store, "exited", row.get("exited")),
        _field("pre-existing", "yes" if row.get("pre_existing") else None),
    ]
    return _process_label(row), row.get("created") or row.get("first_seen"), fields


def _handle(store: Store, row: dict[str, Any]) -> tuple[str, int | None, list[ViewNode | None]]:
    owner = row.get("process")
    owner_row = tables.instance(store, "process", owner) if isinstance(owner, int) else None
    obj = " ".join(str(x) for x in (row.get("object_type"), row.get("object_name")) if x)
    access = row.get("access")
    fields = [
        _event(store, "opened", row.get("opened")),
        _event(store, "duplicated by", row.get("duplicated_by")),
        _field("process", _process_label(owner_row) if owner_row is not None else None),
        _field("access", f"{hex_id(access)}" if isinstance(access, int) else _access_words(access)),
        _event(store, "closed", row.get("closed")),
        _field("close", row.get("close_reason")),
    ]
    label = f"handle {pid_text(row.get('handle_id'))}" + (f": {obj}" if obj else "")
    return label, row.get("opened") or row.get("duplicated_by") or row.get("first_seen"), fields


def _session(store: Store, row: dict[str, Any]) -> tuple[str, int | None, list[ViewNode | None]]:
    logon = row.get("logon_id")
    fields = [
        _event(store, "logon", row.get("logon")),
        _field("type", _logon_type(row.get("logon_type"))),
        _field("address", row.get("ip")),
        _field("workstation", row.get("workstation")),
        _field("privileged", "yes" if row.get("privileged") else None),
    ]
    label = (f"logon {hex_id(logon)}" if isinstance(logon, int) else "logon ?") + f": {row.get('user') or '?'}"
    return label, row.get("logon"), fields


_KINDS = {"process": _process, "handle": _handle, "session": _session}


def links_tree(store: Store, stored: StoredEvent, note: str = NOTE) -> list[TreeItem]:
    """`note`, then one node per stored link of the event `stored` (its instance's fields
    below it), or a line saying there is none; while the links are not stored yet (a reopen
    while the first open's writer is still at them, or after it was cut short), a line saying so."""
    if not correlation_links.links_ready(store):
        return [ViewNode(NOT_YET)]
    event = stored.event
    record = event.record_id if event.record_id is not None else event.record_number
    out: list[TreeItem] = [ViewNode(note)]
    kids: list[TreeItem] = []
    for role, kind, index, confidence, reason in correlation_links.links_of(store, stored.id):
        make = _KINDS.get(kind)
        row = tables.instance(store, kind, index) if make is not None and index is not None else None
        if make is None or row is None:
            kids.append(ViewNode(f"{role}: none", None, confidence=confidence, reason=reason))
            continue
        label, jump, fields = make(store, row)
        kids.append(ViewNode(f"{role}: {label}", jump, tuple(f for f in fields if f is not None), confidence, reason))
    if not kids:
        kids.append(ViewNode("no link is stored for this event"))
    out.append(ViewNode(f"{event.event_id} record {record}", stored.id, tuple(kids), EXACT))
    return out
