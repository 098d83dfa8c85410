"""The bundled demo log: written by `demo/make_demo.py` (deterministically), committed as
`demo/intrusion.xml`, and loading with the story its docstring tells."""

from __future__ import annotations

import collections
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

from core.model.event import Event, iso_from_filetime
from core.model.values import as_int
from parsers.registry import detect_format, iter_input

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "intrusion.xml"
WS01, DC01 = "WS01.contoso.local", "DC01.contoso.local"

#: The story's events per EventID (make_demo.py's docstring tells which they are).
EXPECTED = {4624: 6, 4634: 4, 4656: 4, 4658: 6, 4663: 4, 4672: 3, 4688: 22, 4689: 20, 4690: 2}


def _make_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "demo" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def events() -> list[Event]:
    items = list(iter_input(str(DEMO)))
    found = [i for i in items if isinstance(i, Event)]
    assert len(found) == len(items), [i for i in items if not isinstance(i, Event)]
    return found


def _hex(value: str | None) -> int | None:
    return as_int(value)


def test_committed_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    module = _make_demo()
    out = tmp_path / "demo.xml"
    assert module.main(["--output", str(out)]) == 0
    assert out.read_bytes() == DEMO.read_bytes(), "demo/intrusion.xml is stale: run python demo/make_demo.py"
    assert module.render() == module.render()  # no clock, no randomness
    assert module.EXPECTED_COUNTS == EXPECTED


def test_demo_loads_with_the_expected_counts(events: list[Event]) -> None:
    assert detect_format(str(DEMO)) == "xml"
    assert dict(collections.Counter(e.event_id for e in events)) == EXPECTED
    assert {e.computer for e in events} == {WS01, DC01}
    ids = [e.record_id or 0 for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and min(ids) > 0
    for host in (WS01, DC01):
        times = [e.filetime for e in events if e.computer == host]
        ticks = [t for t in times if t is not None]
        assert ticks == times and ticks == sorted(ticks)
    assert all(e.provider == "Microsoft-Windows-Security-Auditing" and e.channel == "Security" for e in events)
    assert all(e.keywords == "0x8020000000000000" for e in events)


def test_demo_covers_what_the_analyst_needs_to_see(events: list[Event]) -> None:
    creations = [e for e in events if e.event_id == 4688]
    assert {e.get("TokenElevationType") for e in creations} == {"%%1936", "%%1937", "%%1938"}
    assert {"S-1-16-12288", "S-1-16-16384"} <= {e.get("MandatoryLabel") for e in creations}
    assert {e.get("LogonType") for e in events if e.event_id == 4624} == {"2", "3", "10"}
    # the chain explorer -> cmd -> powershell -> Temp dropper -> mimikatz-style tool (WS01)
    ws: dict[int | None, Event] = {}
    for e in creations:
        if e.computer == WS01:
            ws.setdefault(_hex(e.get("NewProcessId")), e)  # first creation of each pid
    chain = [0x1F40, 0x1C64, 0x3A10, 0x2F4C, 0x1B58]
    for child, parent in itertools.pairwise(chain):
        assert _hex(ws[child].get("ProcessId")) == parent
    assert "\\AppData\\Local\\Temp\\" in (ws[0x1C64].get("NewProcessName") or "")
    rundll = next(e for e in creations if (e.get("NewProcessName") or "").endswith("rundll32.exe"))
    assert "javascript:" in (rundll.get("CommandLine") or "")


def test_demo_pid_and_handle_traps(events: list[Event]) -> None:
    def on(host: str, eid: int) -> list[Event]:
        return [e for e in events if e.computer == host and e.event_id == eid]

    # lsass 0x2a8 is pre-existing: no 4688 creates it, handles are opened on it
    assert not [e for e in on(WS01, 4688) if _hex(e.get("NewProcessId")) == 0x2A8]
    assert all((e.get("ObjectName") or "").endswith("lsass.exe") for e in on(WS01, 4656)[:2])
    # PID 0x1f40 is created twice on WS01 (mk64.exe, then SearchProtocolHost.exe)
    reused = [e.get("NewProcessName") for e in on(WS01, 4688) if _hex(e.get("NewProcessId")) == 0x1F40]
    assert [Path(str(p).replace("\\", "/")).name for p in reused] == ["mk64.exe", "SearchProtocolHost.exe"]
    # both 4690 duplicate into System, and the 4658 closing the copy carries the SOURCE pid
    for dup in on(WS01, 4690):
        assert _hex(dup.get("TargetProcessId")) == 0x4
        close = next(e for e in on(WS01, 4658) if e.get("HandleId") == dup.get("TargetHandleId"))
        assert close.get("ProcessId") == dup.get("SourceProcessId") == "0x1f40"
    # the second 4690 is logged before the 4656 of its (reused) source handle 0x2c4
    def rid(e: Event) -> int:
        assert e.record_id is not None
        return e.record_id

    def ticks(e: Event) -> int:
        assert e.filetime is not None
        return e.filetime

    second = on(WS01, 4690)[1]
    opens_after = [e for e in on(WS01, 4656) if e.get("HandleId") == "0x2c4" and rid(e) > rid(second)]
    assert opens_after and ticks(opens_after[0]) > ticks(second)
    assert len([e for e in events if e.event_id == 4656 and e.get("HandleId") == "0x2c4"]) == 4
    # DC01 shares PID values with WS01: only the computer tells them apart
    dc_pids = {_hex(e.get("NewProcessId")) for e in on(DC01, 4688)}
    assert dc_pids == {0x1B58, 0x2F4C, 0x3A10} and dc_pids <= set(_hex(e.get("NewProcessId")) for e in on(WS01, 4688))
    assert iso_from_filetime(second.filetime) == "2024-03-14T08:17:23.5000000Z"


def test_demo_hostile_command_line_loads_as_literal_characters(events: list[Event]) -> None:
    (hostile,) = [e for e in events if "[red]" in (e.get("CommandLine") or "")]
    cmd = hostile.get("CommandLine") or ""
    assert "[red]x[/red]" in cmd and "[bold]" in cmd
    assert "\x1b[31m" in cmd and "\x1b[0m" in cmd
    assert "\x1b]52;c;" in cmd and "\x07" in cmd and "\x9b2J" in cmd
    assert _hex(hostile.get("NewProcessId")) == 0x2E8C
