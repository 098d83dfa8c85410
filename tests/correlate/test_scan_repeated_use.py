"""A 4663 repeating one logged before, on a handle still open in a live process, takes the
scan's short path (`scan_rows.HandleReader.last`): no decode look-up, no process or handle
look-up; and the model is the same as when every such event takes the usual steps, also when
the process exits, its pid is reused, or the handle is closed and its value used again."""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

import pytest

from core.correlate import scan_rows
from core.correlate.evidence import EXIT_GRACE
from core.correlate.scan import Scan, stream
from core.store.store import KeyRow, Store

USE = marshal.dumps((("SubjectLogonId", "0x3e7"), ("SubjectUserName", "SYSTEM"), ("ProcessId", "0x10"),
                     ("HandleId", "0x44"), ("ProcessName", "C:\\a.exe"), ("ObjectType", "File"),
                     ("ObjectName", "C:\\x")))
OTHER_HOST_ROWS = 3


def _rows() -> list[KeyRow]:
    """Uses of one handle, broken by a close, an exit, a pid reuse and another computer."""
    events: list[tuple[int, str, bytes]] = [(4663, "PC", USE)] * 10
    events += [(4658, "PC", marshal.dumps((("ProcessId", "0x10"), ("HandleId", "0x44"))))]
    events += [(4663, "PC", USE)] * 5  # a handle whose open is not logged: inferred
    events += [(4663, "OTHER", USE)] * OTHER_HOST_ROWS
    events += [(4689, "PC", marshal.dumps((("ProcessId", "0x10"), ("ProcessName", "C:\\a.exe"))))]
    events += [(4663, "PC", USE)] * 4  # just after the exit: still the exited process's (noted)
    late = len(events)
    events += [(4663, "PC", USE)] * 3  # past EXIT_GRACE: an instance whose 4688 was not logged
    events += [(4688, "PC", marshal.dumps((("ProcessId", "0x4"), ("NewProcessId", "0x10"),
                                          ("NewProcessName", "C:\\b.exe"))))]
    events += [(4663, "PC", USE)] * 6  # the pid reused: the new process's handle
    return [(i, 1000 + i + (EXIT_GRACE + 1 if i >= late else 0), i, eid, host, blob)
            for i, (eid, host, blob) in enumerate(events)]


def _model(rows: list[KeyRow]) -> tuple[Any, ...]:
    scan = Scan()
    scan.run(stream([rows[:9], rows[9:]], Store.pairs_of))
    facts = [(f.ref, f.host, f.source_pid, f.source_proc, f.source_note, f.source_handle, f.logon_id, f.user,
              f.session) for f in scan.facts]
    procs = scan.procs.finish(scan.facts)
    handles = scan.handles.finish()
    return (facts, procs, handles, sorted(scan.handles.seen.items()))


class _Counted(dict[Any, Any]):
    looked = 0

    def get(self, key: Any, default: Any = None) -> Any:
        _Counted.looked += 1
        return super().get(key, default)


class _Forgetful(dict[Any, Any]):
    def __setitem__(self, key: Any, value: Any) -> None:  # remembers nothing: every event the usual way
        pass


def _reader_with(monkeypatch: pytest.MonkeyPatch, cache: type[dict[Any, Any]] | None,
                 last: type[dict[Any, Any]] | None) -> None:
    init = scan_rows.HandleReader.__init__

    def patched(self: scan_rows.HandleReader, role: Any) -> None:
        init(self, role)
        if cache is not None:
            self.cache = cache()
        if last is not None and hasattr(self, "last"):
            self.last = last()

    monkeypatch.setattr(scan_rows.HandleReader, "__init__", patched)


def test_a_repeated_use_on_a_live_handle_is_not_looked_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _reader_with(monkeypatch, _Counted, None)
    _Counted.looked = 0
    rows: list[KeyRow] = [(i, 1000 + i, i, 4663, "PC", USE) for i in range(50)]
    scan = Scan()
    scan.run(stream([rows], Store.pairs_of))
    # The loop's: the first (its process is new then) and the second (which the short path
    # remembers); without the short path, one per event (50). Read in process, the facts slots
    # of the batch are packed first (`core.correlate.fact_frames`), a look-up per event.
    assert _Counted.looked == 50 + 2
    [handle] = scan.handles.finish()
    assert len(handle.accesses_at or ()) == 50


def test_the_short_path_answers_as_the_usual_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard of exactness (the short path is a pure speed-up)."""
    rows = _rows()
    fast = _model(rows)
    _reader_with(monkeypatch, None, _Forgetful)
    usual = _model(rows)
    assert fast == usual
    facts, procs, handles, _ = fast
    # The case breaks the short path's memory: the uses went to other instances each time.
    assert len({f[3] for f in facts}) >= 5 and len(handles) >= 5
    [created] = [p for p in procs if p.created_at is not None]
    assert {f[3] for f in facts[-6:]} == {created.index}  # the reused pid's new instance
    exited = facts[19][3]  # (the 4689)
    assert [f[3] for f in facts[20:24]] == [exited] * 4 and all(f[4] for f in facts[20:24])  # late, noted
    assert facts[24][3] not in (exited, created.index) and facts[24][4] is None
