"""The views' test bed: a hand-made Event XML log whose story is known exactly (below), and
`Harness`, a tiny app that gives a view a `Workspace` on its store and records the
`JumpToEvent`s it posts, so each view is tested on its own (the `story_store` fixture is in
this folder's conftest).

The story, on WS01 (and one process on DC01):
  r1  4624 logon 0x1a2b3 CONTOSO\\alice, type 2        r2  4672 privileges for 0x1a2b3
  r3  4688 cmd.exe 0x1000, parent explorer.exe 0x200 (no 4688: pre-existing)
  r4  4688 mimikatz.exe 0x1234 (in Temp), parent cmd.exe 0x1000, with hostile markup in its command line
  r5  4690 handle 0x44 of 0x1234 duplicated into System 0x4 as 0x88 (logged BEFORE its 4656)
  r6  4656 0x1234 opens 0x44 on \\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe
  r7  4663 access through 0x44      r8  4658 closes 0x44
  r9  4658 closes 0x88 under the SOURCE pid 0x1234 (the System-target quirk)
  r10 4689 mimikatz.exe 0x1234 exits
  r11 4688 notepad.exe reuses pid 0x1234 (a second instance)
  r12 4688 on DC01: pid 0x1234 there is yet another process (scoped by computer)
  r13 4634 logoff of 0x1a2b3
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App
from textual.screen import Screen
from textual.widgets.tree import TreeNode

from core.store.store import Store
from tests.logs import event_xml
from tui.messages import JumpToEvent
from tui.nav_tree import NavTree
from tui.workspace import Workspace

WS = "WS01.contoso.local"
DC = "DC01.contoso.local"
SUBJECT = {
    "SubjectUserSid": "S-1-5-21-1-2-3-1104",
    "SubjectUserName": "alice",
    "SubjectDomainName": "CONTOSO",
    "SubjectLogonId": "0x1a2b3",
}
MIMI = "C:\\Users\\alice\\AppData\\Local\\Temp\\mimikatz.exe"
LSASS = "\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe"
HOSTILE = "mimikatz.exe [red]x[/red] \x1b[31m"


def _t(second: int) -> str:
    return f"2024-03-01T10:00:{second:02d}.0000000Z"


def _proc(rid: int, sec: int, pid: str, image: str, ppid: str, parent: str, cmd: str, host: str = WS) -> str:
    data = {
        **SUBJECT,
        "NewProcessId": pid,
        "NewProcessName": image,
        "TokenElevationType": "%%1938",
        "ProcessId": ppid,
        "CommandLine": cmd,
        "TargetUserSid": "S-1-0-0",
        "TargetUserName": "-",
        "TargetDomainName": "-",
        "TargetLogonId": "0x0",
        "ParentProcessName": parent,
        "MandatoryLabel": "S-1-16-8192",
    }
    return event_xml(4688, rid, _t(sec), data, computer=host)


def _handle(event_id: int, rid: int, sec: int, hid: str, extra: dict[str, str] | None = None) -> str:
    data = {
        **SUBJECT,
        "ObjectServer": "Security",
        "ObjectType": "Process",
        "ObjectName": LSASS,
        "HandleId": hid,
        "ProcessId": "0x1234",
        "ProcessName": MIMI,
        **(extra or {}),
    }
    if event_id == 4658:
        data = {
            **SUBJECT,
            "ObjectServer": "Security",
            "HandleId": hid,
            "ProcessId": "0x1234",
            "ProcessName": MIMI,
        }
    return event_xml(event_id, rid, _t(sec), data)


def story() -> list[str]:
    # Control characters are not allowed in XML 1.0: the escape goes in as its visible text.
    hostile_cmd = HOSTILE.replace("\x1b", "\\x1b")
    return [
        event_xml(
            4624,
            1,
            _t(1),
            {
                "SubjectUserSid": "S-1-5-18",
                "SubjectLogonId": "0x3e7",
                "TargetUserSid": "S-1-5-21-1-2-3-1104",
                "TargetUserName": "alice",
                "TargetDomainName": "CONTOSO",
                "TargetLogonId": "0x1a2b3",
                "LogonType": "2",
            },
        ),
        event_xml(4672, 2, _t(1), {**SUBJECT, "PrivilegeList": "SeDebugPrivilege"}),
        _proc(
            3, 2, "0x1000", "C:\\Windows\\System32\\cmd.exe", "0x200", "C:\\Windows\\explorer.exe", "cmd.exe"
        ),
        _proc(4, 3, "0x1234", MIMI, "0x1000", "C:\\Windows\\System32\\cmd.exe", hostile_cmd),
        event_xml(
            4690,
            5,
            _t(4),
            {
                **SUBJECT,
                "SourceHandleId": "0x44",
                "SourceProcessId": "0x1234",
                "TargetHandleId": "0x88",
                "TargetProcessId": "0x4",
            },
        ),
        _handle(4656, 6, 4, "0x44", {"AccessMask": "0x1010", "AccessList": "%%4484"}),
        _handle(4663, 7, 5, "0x44", {"AccessMask": "0x10", "AccessList": "%%4484"}),
        _handle(4658, 8, 6, "0x44"),
        _handle(4658, 9, 6, "0x88"),
        event_xml(4689, 10, _t(7), {**SUBJECT, "Status": "0x0", "ProcessId": "0x1234", "ProcessName": MIMI}),
        _proc(
            11,
            8,
            "0x1234",
            "C:\\Windows\\System32\\notepad.exe",
            "0x1000",
            "C:\\Windows\\System32\\cmd.exe",
            "notepad.exe",
        ),
        _proc(
            12,
            9,
            "0x1234",
            "C:\\Windows\\System32\\svchost.exe",
            "0x2c0",
            "C:\\Windows\\System32\\services.exe",
            "svchost.exe -k netsvcs",
            host=DC,
        ),
        event_xml(
            4634,
            13,
            _t(10),
            {
                "TargetUserSid": "S-1-5-21-1-2-3-1104",
                "TargetUserName": "alice",
                "TargetDomainName": "CONTOSO",
                "TargetLogonId": "0x1a2b3",
                "LogonType": "2",
            },
        ),
    ]


def store_ids(db: Path) -> dict[tuple[str, int], int]:
    """(computer, record id) -> store id."""
    with Store(db, readonly=True) as store:
        return {(se.event.computer, int(se.event.record_id or 0)): se.id for se in store.select()}


class Harness(App[None]):
    """What the main app gives a view: a workspace on the store (`loaded` or not), and the
    jumps it asks for."""

    def __init__(self, db: Path, make_screen: Callable[[Workspace], Screen[None]], loaded: bool = True) -> None:
        super().__init__()
        self.workspace = Workspace(store_path=db, loaded=loaded)
        self.jumps: list[int] = []
        self._make_screen = make_screen

    def on_mount(self) -> None:
        self.push_screen(self._make_screen(self.workspace))

    def on_jump_to_event(self, message: JumpToEvent) -> None:
        self.jumps.append(message.store_id)


def label_text(node: TreeNode[Any]) -> Text:
    """A tree node's label: Textual types it `str | Text`, but a `Tree` keeps every label as a
    `Text` (`Tree.process_label`, `NavTree.process_label`)."""
    label = node.label
    assert isinstance(label, Text)
    return label


def tree_lines(tree: NavTree) -> list[str]:
    return [label_text(node).plain for node in tree.walk()]


def visible_lines(tree: NavTree) -> list[str]:
    out: list[str] = []
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        if node is not None:
            out.append(label_text(node).plain)
    return out


async def cursor_to(pilot: Any, tree: NavTree, prefix: str, limit: int = 60) -> None:
    """Move the cursor down with `j` until the current line contains `prefix`."""
    for _ in range(limit):
        node = tree.cursor_node
        if node is not None and prefix in label_text(node).plain:
            return
        await pilot.press("j")
    raise AssertionError(f"no line with {prefix!r}: {visible_lines(tree)}")


def under(node: Any, ancestor: Any) -> bool:
    """Whether `node` is below `ancestor` in its tree (at any depth)."""
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
