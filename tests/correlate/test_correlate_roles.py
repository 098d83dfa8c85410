"""The table of EventID roles (`core.correlate.roles`): what an EventID means to correlation is
its row, and the engine tests no EventID anywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.correlate import roles
from core.correlate.model import CORRELATION_EVENT_IDS, build_model
from core.correlate.roles import ROLES, Act, Role
from tests.correlate.events import find_node, h4658, load, p4688, xml

ROOT = Path(__file__).resolve().parents[2]
DRV = r"C:\Windows\System32\drvinst.exe"


def _log() -> list[str]:
    return [
        p4688(1, 0.0, "0x1dac", DRV, "0x280"),
        xml(4659, 2, 1.0, "HOST1", SubjectLogonId="0x3e7", ObjectServer="Security", ObjectType="File",
            ObjectName=r"C:\x.txt", HandleId="0x1ac", AccessList="%%1537", AccessMask="0x10000",
            ProcessId="0x1dac", ProcessName=DRV),
        h4658(3, 1.5, "0x1dac", "0x1ac", DRV),
    ]


def test_an_event_type_joins_the_correlation_by_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4659 (handle requested with intent to delete) is unknown to the model until it gets a
    row; with the row, it opens the handle its 4658 closes, and reads in the table's words."""
    events = load(*_log())
    before = build_model(events).correlate(events[2]).tree()
    assert "opened: 4659" not in str(before)
    monkeypatch.setitem(ROLES, 4659, Role(Act.OPEN, "handle requested for deletion", source_pid=("ProcessId",),
                                          source_name="ProcessName", source_handle="HandleId"))
    model = build_model(events)
    opened = model.correlate(events[1])
    assert opened.summary == "4659 handle requested for deletion: 0x1ac by drvinst.exe 0x1dac (7596)"
    assert opened.source_handle is not None and opened.source_handle.reason == "opened by this 4659"
    handle = find_node(model.correlate(events[2]).tree(), "handle:")
    assert find_node(handle, "opened: 4659 record 2").label.startswith("opened: 4659 record 2")


def test_the_model_events_are_the_rows() -> None:
    assert CORRELATION_EVENT_IDS == tuple(sorted(ROLES))
    assert roles.role_of(4648) is roles.OTHER


def test_the_engine_tests_no_event_id_outside_the_table() -> None:
    """No `eid == 4690`-style dispatch left: EventIDs are compared in the table only."""
    sites = []
    for name in ("model", "scan", "tree", "related", "links"):
        path = ROOT / "core" / "correlate" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for part in (node.left, *node.comparators):
                    numbers = [n.value for n in ast.walk(part)
                               if isinstance(n, ast.Constant) and isinstance(n.value, int)]
                    if any(v >= 1000 for v in numbers):
                        sites.append(f"{path.name}:{node.lineno}")
    assert sites == []
