"""Small Security logs the app tests write (`event_xml`, `write_log`, `big_log`: enough
events that loading takes a while) and `tree_labels`, the detail pane's fields as text."""

from __future__ import annotations

from pathlib import Path

from core.query.compile import compile_query
from core.store.store import Store
from tui.app import EvtxApp
from tui.detail import FieldTree

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def tree_labels(app: EvtxApp) -> list[str]:
    """The field tree's labels in order, a wrapped field's lines joined (`tui.detail_wrap`)."""
    from tui.detail_wrap import INDENT

    tree = app.query_one(FieldTree)
    out: list[str] = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        label = str(node.label)
        if out and label.startswith(INDENT):
            out[-1] += label[len(INDENT):]
        else:
            out.append(label)
        stack.extend(reversed(node.children))
    return out


def event_xml(record: int, event_id: int, when: str, data: dict[str, str], computer: str = "WS01") -> str:
    from xml.sax.saxutils import escape

    fields = "".join(f"<Data Name='{k}'>{escape(v)}</Data>" for k, v in data.items())
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"<EventID>{event_id}</EventID><TimeCreated SystemTime='{when}'/>"
        f"<EventRecordID>{record}</EventRecordID><Channel>Security</Channel>"
        f"<Computer>{escape(computer)}</Computer></System><EventData>{fields}</EventData></Event>\n"
    )


def write_log(path: Path, events: list[str]) -> Path:
    path.write_text("<Events>\n" + "".join(events) + "</Events>\n", encoding="utf-8")
    return path


def big_log(path: Path, n: int) -> Path:
    events = [
        event_xml(i + 1, 4688 if i % 2 else 4689, f"2024-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}.0000000Z",
                  {"NewProcessName": f"C:\\x\\p{i}.exe", "NewProcessId": hex(i + 4), "ProcessId": "0x4"})
        for i in range(n)
    ]
    return write_log(path, events)


def count(app: EvtxApp, query: str) -> int:
    """How many events of the app's store `query` matches (what the table must show)."""
    assert app.workspace.store_path is not None
    with Store(app.workspace.store_path, readonly=True) as store:
        c = compile_query(query)
        return store.count(c)
