"""The scan's process instances frozen into the model's table as soon as nothing can change them
(issue 18: held until the model was built, they were a fifth of the build's peak at 10M events),
and the table taking rows out of index order. Every answer must be the one of the instances all
frozen at the end (`processes.STREAM` off): the edge cases are those where an instance superseded
by its pid's next one is still changed or read later."""

from __future__ import annotations

import marshal
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.correlate import processes
from core.correlate.evidence import TICKS_PER_SECOND
from core.correlate.process_table import ProcessTable
from core.correlate.scan import Scan, stream
from core.store.store import KeyRow, Store

_S = TICKS_PER_SECOND
PC, OTHER = "PC", "OTHER"


def _rows(events: Sequence[tuple[float, str, int, dict[str, str]]]) -> list[KeyRow]:
    """(seconds, computer, EventID, fields) -> the store's raw rows, in time order."""
    return [(i, int(t * _S) + i, 100 + i, eid, computer, marshal.dumps(tuple(fields.items())))
            for i, (t, computer, eid, fields) in enumerate(events)]


def _built(rows: list[KeyRow], monkeypatch: pytest.MonkeyPatch, streamed: bool) -> tuple[list[Any], Scan]:
    monkeypatch.setattr(processes, "STREAM", streamed)
    monkeypatch.setattr(processes, "RELEASE_BATCH", 1)  # each at the next instance superseded
    scan = Scan()
    scan.run(stream([rows], Store.pairs_of))
    held = sum(p is not None for p in scan.procs.procs)
    table = scan.procs.finish(scan.facts)
    assert table.complete()
    made = [(p, p.reason, p.names, p.created, p.exited, p.start, p.end, p.first_seen) for p in table]
    return [held, *made], scan


def _same(rows: list[KeyRow], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Build with and without streaming: the same instances; (instances, held at the end of the feed)."""
    (held, *streamed), _ = _built(rows, monkeypatch, True)
    (all_held, *at_end), _ = _built(rows, monkeypatch, False)
    assert streamed == at_end
    assert all_held == len(at_end)
    return len(at_end), held


def _handle(pid: int, hid: int, name: str = "C:\\w\\a.exe") -> dict[str, str]:
    return {"ProcessId": hex(pid), "HandleId": hex(hid), "ProcessName": name, "ObjectType": "File",
            "ObjectName": "C:\\x"}


def _created(ppid: int, pid: int, image: str, parent: str = "") -> dict[str, str]:
    fields = {"ProcessId": hex(ppid), "NewProcessId": hex(pid), "NewProcessName": image,
              "SubjectUserName": "u", "SubjectDomainName": "D", "SubjectLogonId": "0x3e7"}
    if parent:
        fields["ParentProcessName"] = parent
    return fields


def _exited(pid: int, image: str) -> dict[str, str]:
    return {"ProcessId": hex(pid), "ProcessName": image}


def test_a_churn_of_instances_streams_out_and_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pids reused by 4688s (alive, and exited), handles closed within the grace after the exit,
    inferred instances named twice, parents: most instances leave the tracker during the scan."""
    rng = random.Random(5)
    events: list[tuple[float, str, int, dict[str, str]]] = []
    t = 0.0
    for n in range(400):
        pid = 0x100 + 4 * rng.randrange(12)
        image = f"C:\\w\\p{rng.randrange(4)}.exe"
        t += rng.random()
        events.append((t, PC, 4688, _created(0x500 + 4 * rng.randrange(3), pid, image)))
        for hid in range(rng.randrange(3)):
            events.append((t + 0.1, PC, 4656, _handle(pid, 0x40 + hid, image)))
        if rng.random() < 0.6:
            events.append((t + 0.2, PC, 4689, _exited(pid, image)))
            if rng.random() < 0.5:
                events.append((t + 0.3, PC, 4658, _handle(pid, 0x40, image)))  # within the grace
        if n % 7 == 0:  # an instance no 4688 made, named by two images
            other = 0x900 + 4 * rng.randrange(4)
            events.append((t + 0.4, PC, 4656, _handle(other, 0x10, "C:\\w\\x.exe")))
            events.append((t + 0.5, PC, 4663, _handle(other, 0x10, "C:\\w\\y.exe")))
            events.append((t + 0.6, PC, 4689, _exited(other, "C:\\w\\y.exe")))
    events.sort(key=lambda e: e[0])
    instances, held = _same(_rows(events), monkeypatch)
    assert instances > 400 and held < instances // 4


def test_a_parent_of_its_own_pid_gets_its_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4688 whose creator has the new process's pid: the creator is superseded by that event
    and still takes the child as that event's step goes on (an instance is frozen only once the
    event that superseded it is done)."""
    events = [
        (1, PC, 4656, _handle(0x10, 0x4, "C:\\w\\a.exe")),
        (2, PC, 4688, _created(0x10, 0x10, "C:\\w\\b.exe")),
        (3, PC, 4688, _created(0x20, 0x10, "C:\\w\\c.exe")),
        (4, PC, 4688, _created(0x24, 0x30, "C:\\w\\d.exe")),
        (5, PC, 4688, _created(0x24, 0x30, "C:\\w\\e.exe")),
    ]
    _same(_rows(events), monkeypatch)
    (_, *made), _ = _built(_rows(events), monkeypatch, True)
    first = made[0][0]
    assert first.pid == 0x10 and first.children == (1,) and made[1][0].parent == 0


def test_an_instance_whose_reason_waits_on_the_whole_log_is_frozen_at_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Inferred instances on a computer with no 4688 yet: whether it has any is known at the end
    ("no 4688 at all" or "started before the log begins"); the next instance of their pid names
    their end."""
    events = [
        (1, OTHER, 4656, _handle(0x8, 0x4)),
        (2, OTHER, 4689, _exited(0x8, "C:\\w\\a.exe")),
        (9, OTHER, 4656, _handle(0x8, 0x4)),
        (10, OTHER, 4689, _exited(0x8, "C:\\w\\a.exe")),
        (20, OTHER, 4656, _handle(0x8, 0x4)),
        (21, OTHER, 4656, _handle(0xc, 0x4)),
        (30, OTHER, 4688, _created(0xc, 0x44, "C:\\w\\b.exe")),
        (31, OTHER, 4689, _exited(0x8, "C:\\w\\a.exe")),
        (40, OTHER, 4656, _handle(0x8, 0x4)),
        (41, OTHER, 4688, _created(0xc, 0x48, "C:\\w\\b.exe")),
    ]
    _same(_rows(events), monkeypatch)
    (_, *made), _ = _built(_rows(events), monkeypatch, True)
    reasons = [m[1] for m in made if m[0].pid == 0x8]
    assert len(reasons) == 4 and "started before the log begins" in reasons[0]
    assert all("after its previous instance ended (record" in r for r in reasons[1:])


def _sysmon(guid: str, pid: int, image: str, **more: str) -> dict[str, str]:
    return {"ProcessGuid": guid, "ProcessId": str(pid), "Image": image, **more}


def test_an_instance_sysmon_knows_stays_until_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sysmon reaches an instance by its GUID whenever it likes (its Sysmon 5 after its pid's
    next instance began, a Sysmon 10 naming it): such instances, and those whose end one of them
    names, are frozen at the end."""
    a, b = "{11111111-0000-0000-0000-000000000001}", "{11111111-0000-0000-0000-000000000002}"
    events = [
        (1, PC, 1, _sysmon(a, 0x60, "C:\\w\\s.exe", ParentProcessId="4", ParentImage="System")),
        (1.5, PC, 4688, _created(0x4, 0x60, "C:\\w\\s.exe")),
        (2, PC, 4656, _handle(0x60, 0x8, "C:\\w\\s.exe")),
        (3, PC, 4689, _exited(0x60, "C:\\w\\s.exe")),
        (20, PC, 4656, _handle(0x60, 0x8, "C:\\w\\t.exe")),  # the pid's next instance, inferred
        (21, PC, 4656, _handle(0x64, 0x8, "C:\\w\\u.exe")),
        (21.2, PC, 4689, _exited(0x64, "C:\\w\\u.exe")),
        (21.5, PC, 4656, _handle(0x64, 0x8, "C:\\w\\u.exe")),  # a pid reused: instances are frozen
        (22, PC, 5, _sysmon(a, 0x60, "C:\\w\\s.exe")),  # the first, by its GUID
        (23, PC, 10, {"SourceProcessGuid": b, "SourceProcessId": "100", "SourceImage": "C:\\w\\v.exe",
                      "TargetProcessGuid": a, "TargetProcessId": str(0x60), "TargetImage": "C:\\w\\s.exe",
                      "GrantedAccess": "0x1410"}),
        (30, PC, 4688, _created(0x4, 0x60, "C:\\w\\t.exe")),
        (31, PC, 4688, _created(0x4, 0x64, "C:\\w\\u.exe")),
        (32, PC, 4688, _created(0x4, 0x68, "C:\\w\\u.exe")),
    ]
    _same(_rows(events), monkeypatch)
    (_, *made), _ = _built(_rows(events), monkeypatch, True)
    first = made[0][0]
    assert first.guid == a and first.sysmon_exited is not None and len(first.sysmon_events) == 2


def test_rows_out_of_index_order_read_as_in_order(tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = []
    for i in range(300):
        rows.append(("PC" if i % 3 else "pc", 4 * i, i if i % 5 else None, f"C:\\{i % 7}.exe", None,
                     4 * (i // 2), i // 2 if i else None, "U", None, i * 3 or None, None, None,
                     i + 1 if i % 2 else None, None, i, (10 * i, i) if i % 4 == 0 else i + 1, i, i % 5 == 0,
                     "exact" if i % 5 else "inferred", None if i % 5 else f"reason {i}", i if i % 5 else None,
                     (("a.exe", i), ("b.exe", i + 1)) if i % 11 == 0 else None,
                     list(range(i % 3)), list(range(i, i + i % 4)), None))
    ordered, shuffled = ProcessTable(_NoFacts(), str(tmp_path)), ProcessTable(_NoFacts(), str(tmp_path))
    for row in rows:
        ordered.append(*row)
    order = list(range(len(rows)))
    rng.shuffle(order)
    for n, i in enumerate(order):
        shuffled.append(*rows[i], index=i)
        assert shuffled.complete() == (n == len(rows) - 1 or sorted(order[:n + 1]) == list(range(n + 1)))
    ordered.seal()
    shuffled.seal()
    assert shuffled.complete() and len(shuffled) == len(ordered)
    assert list(shuffled) == list(ordered) and [p.reason for p in shuffled] == [p.reason for p in ordered]
    assert [shuffled[i] for i in (5, 299, 0)] == [ordered[i] for i in (5, 299, 0)]
    for name in ("computer", "pid", "created_at", "image", "parent", "logon_id", "exited_at", "end_at",
                 "confidence", "names_at"):
        assert shuffled.column(name) == ordered.column(name), name
    for name in ("children", "handles"):
        assert shuffled.counts(name) == ordered.counts(name)
    some = [3, 1, 250, 0]
    assert shuffled.values("start_at", some) == ordered.values("start_at", some)
    assert [shuffled.said(i) for i in range(300)] == [ordered.said(i) for i in range(300)]
    twice = ProcessTable(_NoFacts(), str(tmp_path))
    for i in (1, 0, 1):
        twice.append(*rows[i], index=i)
    assert not twice.complete()
    with pytest.raises(ValueError):
        twice[0]


class _NoFacts:
    """A facts table of no events (the rows above hold positions it is never asked for)."""

    def ref(self, pos: int) -> Any:
        raise AssertionError(pos)

    def key(self, pos: int) -> Any:
        raise AssertionError(pos)

    def store_id(self, pos: int) -> int:
        raise AssertionError(pos)
