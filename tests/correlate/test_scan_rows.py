"""The scan steps handle events (five in six of a busy log) straight from their EventData pairs:
no `Facts` and no `Ref` made per such event, each distinct blob decoded once while it repeats,
and every field read as the dict of the pairs (`event_fields.values_of`) said it."""

from __future__ import annotations

import importlib
import marshal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.churn import build_churn_store
from core.correlate import facts as facts_module
from core.correlate.event_fields import as_int, logon_of, pid_of, values_of
from core.correlate.facts import Facts
from core.correlate.model import model_from_store
from core.correlate.roles import HANDLE_ACTS, ROLES
from core.correlate.sessions import user_name
from core.store.store import KeyRow, Store

HANDLE_EVENTS = tuple(eid for eid, role in ROLES.items() if role.act in HANDLE_ACTS)


def _count_made(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the `Facts` and the scan's `Ref`s made from now on."""
    made: Counter[str] = Counter()
    init = Facts.__init__

    def counted_facts(self: Facts, *args: Any, **kwargs: Any) -> None:
        made["facts"] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(Facts, "__init__", counted_facts)

    def counted_ref(*args: Any) -> Any:
        made["refs"] += 1
        return facts_module.make_ref(*args)

    for name in ("core.correlate.scan", "core.correlate.scan_rows"):  # where the scan makes them
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "make_ref"):
            monkeypatch.setattr(module, "make_ref", counted_ref)
    return made


def test_a_build_makes_no_facts_or_ref_per_handle_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_churn_store(tmp_path / "churn.sqlite", 6_000, seed=3)
    with Store(tmp_path / "churn.sqlite", readonly=True) as store:
        counts = store.event_id_counts()
        made = _count_made(monkeypatch)
        model = model_from_store(store)
    handle_events = sum(counts.get(eid, 0) for eid in HANDLE_EVENTS)
    others = model.size - handle_events
    assert handle_events > 4 * others  # a busy log: mostly handle events
    assert made["facts"] == others
    # A handle event makes a `Ref` only for what a tracker keeps: a process instance it is the
    # first to name, a new image name of one, a process opened by handle.
    assert made["refs"] <= others + 2 * len(model.processes) + len(model.process_accesses())
    assert made["refs"] < others + handle_events // 10


def _read_as_before(event_id: int, pairs: tuple[tuple[str, str], ...]) -> tuple[
        int | None, str | None, int | None, int | None, str | None, str | None, str | None, str | None, str | None,
        bool]:
    """What the scan read of a handle event through the dict of its pairs (before: `prepare`)."""
    role = ROLES[event_id]
    values = values_of(pairs)
    get = values.get
    object_type = get("ObjectType")
    return (logon_of(values, role.logon_id), user_name(*(get(n) for n in role.user)), pid_of(values, role.source_pid),
            as_int(get(role.source_handle)), get(role.source_name), object_type, get("ObjectName"),
            get("AccessList"), get("AccessMask"), (object_type or "").casefold() == "process")


def test_handle_fields_are_read_from_the_pairs_as_from_their_dict() -> None:
    from core.correlate.scan_rows import HandleReader

    layouts = [
        (("SubjectLogonId", "0x3e7"), ("SubjectDomainName", "NT AUTHORITY"), ("SubjectUserName", "SYSTEM"),
         ("ProcessId", "0x1f4"), ("HandleId", "0x8c"), ("ProcessName", "C:\\a.exe"), ("ObjectType", "File"),
         ("ObjectName", "C:\\x"), ("AccessList", "%%4416"), ("AccessMask", "0x1")),
        # Names in another case, repeated (the first wins), missing, extra.
        (("processid", "0x10"), ("PROCESSID", "0x20"), ("handleid", "0x4"), ("Other", "1"),
         ("objecttype", "Process"), ("ObjectName", "\\Device\\lsass.exe"), ("AccessMask", "0x1410")),
        (("ProcessId", "junk"), ("SubjectUserName", "-"), ("HandleId", "0x0"), ("ObjectType", " - ")),
        (),
    ]
    for event_id in HANDLE_EVENTS:
        reader = HandleReader(ROLES[event_id])
        for pairs in layouts * 2:  # the second time from the layouts already seen
            lid, user, pid, hid, name, _key, (object_type, object_name, access), process, raw_name, mask = (
                reader.read(pairs))
            before = _read_as_before(event_id, pairs)
            assert (lid, user, pid, hid, name) == before[:5]
            assert process == before[9] and raw_name == before[6]
            assert mask == (as_int(before[8]) if process else None)
            clean = [None if v is None or v.strip() in ("", "-") else v for v in before[5:9]]
            assert (object_type, object_name, access) == (clean[0], clean[1], clean[2] or clean[3])
    with pytest.raises(ValueError):  # pairs of three values, on purpose: the guard under test
        HandleReader(ROLES[4663]).read((("ProcessId", "1", "extra"), ("HandleId", "2", "x")))  # type: ignore[arg-type]


def test_a_repeated_handle_blob_is_decoded_once(tmp_path: Path) -> None:
    from core.correlate.scan import Scan, stream

    blobs = [marshal.dumps((("ProcessId", f"0x{i % 5 + 8:x}"), ("HandleId", "0x44"), ("ObjectType", "File")))
             for i in range(40)]
    rows: list[KeyRow] = [(i, 1000 + i, i, 4663, "PC", blob) for i, blob in enumerate(blobs)]
    decoded: list[bytes | None] = []

    def pairs_of(data: bytes | None) -> Any:
        decoded.append(data)
        return Store.pairs_of(data)

    scan = Scan()
    scan.run(stream([rows[:7], rows[7:]], pairs_of))
    assert len(decoded) == 5  # five distinct blobs
    assert [f.source_pid for f in scan.facts] == [i % 5 + 8 for i in range(40)]
    assert len(scan.handles.handles) == 5


def test_sessions_assigned_per_stretch_are_those_chosen_per_event() -> None:
    from core.correlate.facts import FactsTable
    from core.correlate.processes import Ref
    from core.correlate.sessions import SessionTracker

    tick = 10_000_000
    tracker = SessionTracker()
    events = [(0x10, 100, 4624), (0x10, 200, 4634), (0x10, 300, 4624), (0x20, 50, 4647), (0x40, 70, 4624)]
    for i, (lid, at, eid) in enumerate(events):
        ref = Ref(i, i, eid, at * tick, at * tick, i)
        if eid == 4624:
            tracker.logon("pc", "PC", lid, ref, {"TargetUserName": f"u{lid}"}, at=i)
        else:
            tracker.logoff("pc", "PC", lid, ref, {}, at=i)
    tracker.privileged("pc", "PC", 0x30, Ref(99, 99, 4672, 60 * tick, 60 * tick, 99), "alice", at=99)
    tracker.finish_privileges()

    def table() -> FactsTable:
        out = FactsTable()
        for i in range(4000):
            at = i * tick // 10
            out.add(Facts(Ref(1000 + i, i, 4672 if i % 11 == 0 else 4663, at, at, i), f"pc{'' if i % 3 else 'x'}",
                          "PC", logon_id=(0x10, 0x20, 0x30, 0x40, 0x3E7, 0x99, 0)[i % 7],
                          user=("bob", None)[i % 2]))
        return out

    def span(host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, eid: int) -> Any:
        return tracker.choose_span(host, computer, lid, key, user, eid == 4672)

    spans, each = table(), table()
    spans.assign_session_spans(span)
    each.assign_sessions(lambda f: tracker._choose(f.host, f.computer, f.logon_id or 0, f.ref.key, f.user,
                                                   f.ref.event_id == 4672) if f.logon_id else None)
    assert [f.session for f in spans] == [f.session for f in each]
    assert len({f.session for f in spans}) > 5


def test_sessions_assigned_per_stretch_hold_neither_the_column_nor_spans_run_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The session column goes to its side file a chunk at a time (whole on the heap it was 4 bytes
    an event: 32 MB at ten million), and the remembered stretches are pruned as they run out,
    with the same answers."""
    import tracemalloc

    from core.correlate.facts import FactsTable
    from core.correlate.processes import Ref
    from core.correlate.sessions import SessionTracker

    tick = 10_000_000
    tracker = SessionTracker()
    for i, (lid, at, eid) in enumerate([(0x10, 100, 4624), (0x10, 200, 4634), (0x10, 300, 4624), (0x20, 50, 4647),
                                         (0x40, 70, 4624), (0x40, 5000, 4634), (0x40, 6000, 4624)]):
        ref = Ref(i, i, eid, at * tick, at * tick, i)
        if eid == 4624:
            tracker.logon("pc", "PC", lid, ref, {"TargetUserName": f"u{lid}"}, at=i)
        else:
            tracker.logoff("pc", "PC", lid, ref, {}, at=i)
    tracker.finish_privileges()
    n = 100_000

    def table() -> FactsTable:
        out = FactsTable()
        for i in range(n):
            at = i * tick // 10
            out.add(Facts(Ref(1000 + i, i, 4672 if i % 11 == 0 else 4663, at, at, i), f"pc{'' if i % 3 else 'x'}",
                          "PC", logon_id=(0x10, 0x20, 0x30, 0x40, 0x3E7, 0x99, 0)[i % 7], user=("bob", None)[i % 2]))
        return out

    def span(host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, eid: int) -> Any:
        return tracker.choose_span(host, computer, lid, key, user, eid == 4672)

    whole, chunked = table(), table()
    whole.assign_session_spans(span)
    monkeypatch.setattr(facts_module, "ROWS_CHUNK", 1024)
    monkeypatch.setattr(facts_module, "SPANS_KEPT", 4)
    chunked._flush()  # noqa: SLF001 - the rows' own buffers are not the assignment's
    tracemalloc.start()
    try:
        chunked.assign_session_spans(span)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n  # under a byte an event (the whole column: 4)
    assert [f.session for f in chunked] == [f.session for f in whole]
    assert len({f.session for f in chunked}) > 5


def test_accesses_grouped_by_handle_hold_only_their_answer() -> None:
    """`FactsTable.by_source_handle`'s counting sort reads the positions twice a slice at a time
    (held whole they were 4 bytes a use) and sorts them into 32-bit slots (were 64): at ten
    million events 26 + 27 MB less at the model's end; the grouping is unchanged."""
    import tracemalloc

    from core.correlate.facts import FactsTable
    from core.correlate.processes import Ref

    n, handles = 400_000, 5_000
    table = FactsTable()
    for i in range(n):
        eid = (4656, 4663, 4658, 4688)[i % 4]
        table.add(Facts(Ref(1 + i, i, eid, i, i, i), "pc", "PC", source_handle=(i * 7919) % handles if i % 5 else None))
    table._flush()  # noqa: SLF001 - the rows' own buffers are not the sort's
    tracemalloc.start()
    try:
        positions, starts = table.by_source_handle(frozenset({4656, 4663, 4658}), handles)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected: dict[int, list[int]] = {}
    for pos in range(n):
        h = (pos * 7919) % handles
        if pos % 4 != 3 and pos % 5:
            expected.setdefault(h, []).append(pos)
    assert [list(positions[starts[h]:starts[h + 1]]) for h in range(handles)] == [expected.get(h, [])
                                                                                  for h in range(handles)]
    uses = len(positions)
    # The answer (4 bytes a use, 8 a handle's start), the counts (8 a handle) and the slices read
    # (before: 12 bytes a use).
    assert peak < 6 * uses + 16 * handles + 8 * 65536
