"""The facts slots packed ahead from a batch's rows (`core.correlate.fact_frames`): a table fed a
frame and the scan's own part of each handle event holds exactly what one fed whole rows
holds, values kept aside included; and with the reading child, the scan's process packs only
the instance columns of a handle event (it packed all 14 slots of every event before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.correlate import columns, scan_reader
from core.correlate.fact_frames import NOT_SAID, FrameInts, frame_ints
from core.correlate.facts import NONE, FactsTable
from core.correlate.model import model_from_store
from core.correlate.roles import ROLES, SYSMON, scanned_event_ids
from core.store.store import Store
from tests.correlate.reader_churn import EVENTS

T = 133_500_000_000_000_000
#: What each handle event's data says (`scan_rows.HandleEvent`'s first four: logon id, user, pid,
#: handle value): values that do not fit their slots, or equal the None slot, go aside.
SAID: dict[str, tuple[Any, ...]] = {
    "a": (0x3E7, "CORP\\bob", 700, 0x44),
    "b": (None, None, 1 << 40, 1 << 63),  # a pid beyond 32 bits, a handle value beyond 63
    "c": (-(1 << 63), "CORP\\eve", -(1 << 31), NONE),  # each equal to its slot's None
    "d": (5, "CORP\\bob", None, None),
}
HANDLE_EID, WHOLE_EID = 4663, 4688
SYSMON_EID = next(eid for eid in SYSMON if eid not in ROLES)
assert ROLES[HANDLE_EID] and ROLES[WHOLE_EID] and 9999 not in ROLES and 9999 not in SYSMON


def _rows() -> list[tuple[Any, ...]]:
    """Raw rows: handle events, whole ones, a Sysmon one (an order, no row), one the scan skips."""
    rows: list[tuple[Any, ...]] = []
    for i in range(40):
        sid = (1 << 63) - 1 if i == 7 else 1 << 64 if i == 19 else 1000 + i  # (19: a whole row's, aside)
        record_id = None if i == 9 else 7 + i
        eid = WHOLE_EID if i % 6 == 1 else SYSMON_EID if i == 11 else 9999 if i == 14 else HANDLE_EID
        rows.append((sid, T + i, record_id, eid, f"WS{i % 3}", "abcd"[i % 4]))
    return rows


def _frame(rows: list[tuple[Any, ...]]) -> FrameInts:
    sids, tss, record_ids, eids, _, datas = zip(*rows, strict=True)
    said = [SAID[data] if eid == HANDLE_EID else NOT_SAID for eid, data in zip(eids, datas, strict=True)]
    return frame_ints(sids, tss, record_ids, eids, said, 0)


def _whole(i: int, sid: int, ts: int, record_id: int | None, order: int) -> tuple[Any, ...]:
    """A whole row as the scan makes it for an event of its own steps (a 4688's)."""
    return (sid, record_id, ts, None, 1 << 64 if i == 19 else None, 0x3E7, WHOLE_EID, order, 4, i, 1 << 35, None,
            None, None, f"ws{i % 3}", f"WS{i % 3}", "CORP\\bob", None, "target note" if i == 25 else None,
            None if i == 31 else ts)


def _own(i: int) -> tuple[Any, ...]:
    """The scan's instances and note of handle event `i`."""
    return (None if i % 5 == 0 else i, 1 << 33 if i == 8 else i // 2, "a note" if i == 10 else None)


def _fed(framed: bool) -> tuple[FactsTable, list[Any]]:
    table = FactsTable()
    seen: list[Any] = []
    if framed:
        table.frame(_frame(_rows()))
    order = 0
    for i, (sid, ts, record_id, eid, logged, data) in enumerate(_rows()):
        if eid == 9999:
            continue
        order += 1
        if eid == SYSMON_EID:
            continue
        if eid == WHOLE_EID:
            table.add_row(_whole(i, sid, ts, record_id, order - 1))
        else:
            lid, user, pid, hid = SAID[data]
            proc, handle, note = _own(i)
            filetime = None if i == 20 else ts
            if framed:
                table.pending.append((proc, handle, note, logged.casefold(), logged, user, filetime))
            else:
                table.add_row((sid, record_id, ts, hid, None, lid, eid, order - 1, pid, proc, None, None, handle, None,
                               logged.casefold(), logged, user, note, None, filetime))
        if i in (17, 18, 30):  # read back before the frame is packed (the trackers do)
            seen.append(table.pending_ref(len(table.pending) - 1))
        if i in (18, 27):  # a read that packs what is pending, mid-frame
            seen.append(table.ref(len(table) - 2))
    table.flush()
    return table, seen


def test_a_frame_and_the_scans_part_hold_what_whole_rows_hold() -> None:
    framed, framed_seen = _fed(True)
    whole, whole_seen = _fed(False)
    assert len(framed) == len(whole) == 38
    assert framed_seen == whole_seen and len(framed_seen) == 5
    assert list(framed) == list(whole)
    assert list(framed.rows()) == list(whole.rows())
    assert list(framed.link_rows()) == list(whole.link_rows())
    got = list(framed)
    # Every value that goes aside came back (the tables were compared above).
    for field, value in (("source_hid", 1 << 63), ("source_hid", NONE), ("source_pid", 1 << 40),
                         ("source_pid", -(1 << 31)), ("logon_id", -(1 << 63)), ("source_handle", 1 << 33),
                         ("target_hid", 1 << 64), ("target_pid", 1 << 35), ("source_note", "a note"),
                         ("target_note", "target note")):
        assert any(getattr(f, field) == value for f in got), (field, value)
    assert {(1 << 63) - 1, 1 << 64} < {f.ref.store_id for f in got} and any(f.ref.record_id is None for f in got)
    assert [f.ref.filetime for f in got].count(None) == 2


def test_a_frame_shorter_than_its_rows_is_an_error() -> None:
    table = FactsTable()
    table.frame(_frame(_rows()[:2]))
    for _ in range(3):
        table.pending.append((1, 2, None, "ws0", "WS0", None, T))
    with pytest.raises(ValueError, match="3 facts rows for a frame of 2"):
        table.flush()


def test_with_the_child_the_scan_packs_only_a_handle_events_instances(
        churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)
    monkeypatch.setattr(scan_reader, "cores", lambda: 2)
    packed: list[int] = []
    original = columns.pack_slots

    def counted(ints: list[Any], typecode: str) -> Any:
        packed.append(len(ints))
        return original(ints, typecode)

    monkeypatch.setattr(columns, "pack_slots", counted)
    read: list[int] = []
    rows = scan_reader.child_rows

    def counted_rows(*args: Any, **kwargs: Any) -> Any:
        for batch in rows(*args, **kwargs):
            read.append(len(batch))
            yield batch

    monkeypatch.setattr(scan_reader, "child_rows", counted_rows)
    with Store(churn, readonly=True) as store:
        model = model_from_store(store)
        events = store.count_of(scanned_event_ids())
    assert sum(read) == events > EVENTS // 2  # every row from the child
    handles = sum(1 for f in model._facts if ROLES[f.ref.event_id].act.name in ("OPEN", "USE", "CLOSE"))
    assert handles > events // 2
    # Two slots per event and 14 more per other event than a handle one (before: 14 per event).
    assert sum(packed) <= 2 * len(model._facts) + 14 * (len(model._facts) - handles) < 14 * len(model._facts) // 2


def test_the_none_slots_bytes_astride_two_slots_are_not_a_none() -> None:
    """A column is packed without a look per value unless it holds the None slot: its bytes can
    also appear astride two slots (5 then 0x80 as 64-bit ints), which is no None."""
    rows = [(5, T, 1, HANDLE_EID, "WS1", "a"), (0x80, T + 1, 2, HANDLE_EID, "WS1", "a"),
            (1 << 16, T + 2, 0x80 << 24, HANDLE_EID, "WS1", "a")]
    ints = _frame(rows)
    assert ints.wide[0::6].tolist() == [5, 0x80, 1 << 16] and not ints.wide_aside and not ints.narrow_aside
    assert ints.wide[1::6].tolist() == [1, 2, 0x80 << 24]
    ints = _frame([*rows, (NONE, T + 3, 3, HANDLE_EID, "WS1", "a")])
    assert ints.wide[0::6].tolist() == [5, 0x80, 1 << 16, NONE] and ints.wide_aside == {18: NONE}


def test_a_frame_of_whole_rows_only_holds_what_whole_rows_hold() -> None:
    # A log of logons: every event a step of the scan's own, so every row given whole (one copy
    # of the packed rows over the frame's slots, the frame's own values aside dropped).
    rows = [(sid, ts, record_id, WHOLE_EID, logged, data) for sid, ts, record_id, _, logged, data in _rows()]
    tables = []
    for framed in (True, False):
        table = FactsTable()
        if framed:
            table.frame(_frame(rows))
        for i, (sid, ts, record_id, _, _, _) in enumerate(rows):
            table.add_row(_whole(i, sid, ts, record_id, i))
        table.flush()
        tables.append(table)
    framed_table, whole_table = tables
    assert len(framed_table) == len(whole_table) == len(rows)
    assert list(framed_table) == list(whole_table)
    assert list(framed_table.rows()) == list(whole_table.rows())
    got = list(framed_table)
    assert {(1 << 63) - 1, 1 << 64} < {f.ref.store_id for f in got}  # aside, the frame's and the rows'
    assert any(f.target_hid == 1 << 64 for f in got) and any(f.target_note == "target note" for f in got)
