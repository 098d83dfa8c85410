"""The model's instances and links as rows for the store's correlation tables
(`core.store.correlation_tables`), so that a reopen reads them instead of building the model.

Rows follow the tables' column names: an instance field of that name is taken as is (a `Ref`
becomes its store id, a `(ts, order)` bound two columns `*_ts`/`*_order`, a tuple of indexes a
JSON list, a field the instance lacks NULL), so a field added to an instance (a session's auth
package...) is stored by adding its name to the columns. Links
are the model's own answers for each correlated event (`CorrelationModel.correlate` gives the
same ones): role, instance kind and index, confidence and reason. No SQL here.
"""

from __future__ import annotations

import heapq
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import Any

from core.correlate.evidence import weakest
from core.correlate.fact_notes import is_late_use
from core.correlate.facts import Facts, SysmonFacts
from core.correlate.handle_table import HandleTable
from core.correlate.handles import handle_close_reason, handle_said
from core.correlate.indexes import IndexesAt
from core.correlate.links import HandleLink, ProcessLink, SessionLink
from core.correlate.model import CorrelationModel, session_start
from core.correlate.process_table import PRE_EXISTING, ProcessTable
from core.correlate.processes import EXACT, INFERRED, MISSING, Ref
from core.correlate.roles import HANDLE_ACTS, ROLES, Act
from core.correlate.source_choices import target_said
from core.store.correlation_tables import HANDLE_COLUMNS, PROCESS_COLUMNS, SESSION_COLUMNS, CorrelationTables

#: A link row: (event store id, role, instance kind, instance index, confidence, reason).
LinkRow = tuple[int, str, str, int | None, str, str]


#: Instance columns whose event is held as a position (`Process.created_at`, `Session.logon_at`...).
_HELD = {name: f"{name}_at" for name in (
    "created", "exited", "replaced_by", "first_seen", "logon", "privileges", "opened", "duplicated_by", "closed")}


def _getter(column: str) -> Callable[[Any], Any]:
    """How one column of an instance is read: its field of that name (a Ref as its store id, an
    event held as a position in the facts table as its store id, no Ref made), or one half of its
    `start`/`end` bound (`start_ts`, `start_order`...). Chosen once per column, not per row."""
    if column.endswith(("_ts", "_order")):
        name, part = column.rsplit("_", 1)
        half = 0 if part == "ts" else 1

        def bound_half(obj: Any) -> Any:
            bound = _bound(obj, name)
            return None if bound is None else bound[half]
        return bound_half
    held_at = _HELD.get(column)

    def value(obj: Any) -> Any:
        if held_at is not None:
            held = getattr(obj, held_at, None)
            if type(held) is int:
                return obj.facts.store_id(held) if held >= 0 else None
        value = getattr(obj, column, None)
        kind = type(value)
        if kind is str or kind is int or value is None:  # most cells: as they are (a bool is not an int here)
            return value
        if isinstance(value, Ref):
            return value.store_id
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, tuple):  # indexes (a session's processes): a JSON list
            return json.dumps(value)
        if isinstance(value, array):  # the same held unboxed (`core.correlate.indexes.Indexes`)
            return json.dumps(value.tolist())
        if isinstance(value, IndexesAt):  # ... or read in place
            return json.dumps(list(value))
        return value
    return value


def _bound(obj: Any, name: str) -> tuple[int, int] | None:
    if name == "start" and not hasattr(obj, "start"):  # a session: where it begins
        return session_start(obj)
    bound = getattr(obj, name, None)
    return bound if isinstance(bound, tuple) else None


def _rows(items: Sequence[Any], columns: Sequence[str], index: str = "idx") -> Iterator[tuple[Any, ...]]:
    getters = [attrgetter("index") if c == index else _getter(c) for c in columns]
    for item in items:
        yield tuple([get(item) for get in getters])


def _process(role: str, sid: int, link: ProcessLink | None) -> Iterator[LinkRow]:
    if link is not None:
        p = link.process
        yield sid, role, "process", p.index if p is not None else None, link.confidence, link.reason


def _handle(role: str, sid: int, link: HandleLink | None) -> Iterator[LinkRow]:
    if link is not None:
        h = link.handle
        yield sid, role, "handle", h.index if h is not None else None, link.confidence, link.reason


def _session(sid: int, link: SessionLink | None) -> Iterator[LinkRow]:
    if link is not None:
        s = link.session
        yield sid, "session", "session", s.index if s is not None else None, link.confidence, link.reason


def links(model: CorrelationModel) -> Iterator[LinkRow]:
    """Every link of every event the scan correlated, in time order, as `correlate` gives it;
    a copy of a record loaded twice (`core.model.same_records`) has its first copy's links."""
    rows = _links(model)
    same = model.same_records
    if not len(same):
        return rows
    return _with_copies(rows, same.copies_of)


def _with_copies(rows: Iterator[LinkRow], copies_of: Callable[[int], list[int]]) -> Iterator[LinkRow]:
    """`rows`, each event's followed by the same rows for each of its copies (an event's rows
    come together: `_links`)."""
    held: list[LinkRow] = []
    for row in rows:
        if held and row[0] != held[0][0]:
            yield from _copied(held, copies_of)
            held = []
        held.append(row)
        yield row
    if held:
        yield from _copied(held, copies_of)


def _copied(held: list[LinkRow], copies_of: Callable[[int], list[int]]) -> Iterator[LinkRow]:
    for copy in copies_of(held[0][0]):
        for row in held:
            yield (copy, *row[1:])


def _links(model: CorrelationModel) -> Iterator[LinkRow]:
    """Every link of every event the scan correlated, in time order (`links`).

    The model's own events are read as `Row`s from its columns (`core.correlate.facts`) and
    their links worded here as `correlate` words them (`_LinkWords`), no `Facts` nor link object
    made per event: a million events' links took 20 s of CPU that way. With Sysmon events, held
    as objects, every event is a `Facts`, merged in time order."""
    table = model._facts
    if model._sysmon_facts:
        sysmon = sorted(model._sysmon_facts.values(), key=lambda f: f.ref.order)
        for found in heapq.merge(table, sysmon, key=lambda f: f.ref.order):
            yield from _links_of(model, found)
        return
    words = _LinkWords(model)
    process = words.process
    dup = frozenset(eid for eid, role in ROLES.items() if role.act is Act.DUPLICATE)
    acts = {eid: role.act for eid, role in ROLES.items() if role.act in HANDLE_ACTS}
    for (pos, sid, eid, spid, sproc, snote, tpid, tproc, tnote, choice), (shid, shandle, thid, thandle) in (
            table.link_rows()):
        if spid is not None:
            yield (sid, "source process", "process", *process(sproc, snote))
        elif sproc is None and snote is not None:  # none named, and the scan said why (`_plink`)
            yield (sid, "source process", "process", None, MISSING, snote)
        if tpid is not None:
            yield (sid, "target process", "process", *process(tproc, tnote))
        elif tproc is None and tnote is not None:
            yield (sid, "target process", "process", None, MISSING, tnote)
        if eid in dup:
            if shid is not None:
                yield (sid, "source handle", "handle", *words.dup_source(sid))
            if thid is not None:
                yield (sid, "target handle", "handle", *words.dup_target(sid, thandle))
        elif shid is not None:
            act = acts.get(eid)
            if act is not None:
                yield (sid, "source handle", "handle", *words.handle(pos, eid, act, shid, shandle))
        if choice is not None:  # `_session_of`'s words: its session's index is the choice's
            yield (sid, "session", "session", choice.session, choice.confidence, choice.reason)


#: What a link row says of its instance: (instance index, confidence, reason).
Said = tuple[int | None, str, str]


class _LinkWords:
    """The (instance, confidence, reason) of each kind of link, as the model's `_plink`,
    `_hlink_event`, `_dup_handles` and `_session_of` word them (tested to be equal), from the
    columns of an event: a handle's reason names its open's record, made from the facts table
    each time it is asked, so the last HANDLES_KEPT handles' are remembered (the accesses of a
    handle follow its open closely). A session link's are its choice's own fields (`links`):
    remembered per choice they took ~170 bytes a session while the links were written."""

    HANDLES_KEPT = 1 << 14

    def __init__(self, model: CorrelationModel) -> None:
        self._processes = model.processes
        self._handles = model.handles
        self._sources = model._choices
        self._handle_said: dict[int, Said] = {}

    def process(self, idx: int | None, note: str | None) -> Said:
        if idx is None:
            return None, MISSING, "no process could be resolved"
        processes = self._processes
        if isinstance(processes, ProcessTable):  # read from the columns, none made
            confidence, reason = processes.said(idx)
        else:
            p = processes[idx]
            confidence, reason = p.confidence, p.reason
        if is_late_use(note):  # (an event after its process's exit: taken as its by inference)
            confidence = weakest(confidence, INFERRED)
        return idx, confidence, f"{reason}; {note}" if note else reason

    def _said(self, idx: int) -> Said:
        said = self._handle_said.get(idx)
        if said is None:
            if len(self._handle_said) >= self.HANDLES_KEPT:
                self._handle_said.clear()
            handles = self._handles
            if isinstance(handles, HandleTable):  # read from the columns, no `Handle` made
                confidence, reason = handles.said(idx)
                said = (idx, confidence, reason)
            else:
                h = handles[idx]
                said = (h.index, h.confidence, h.reason)
            self._handle_said[idx] = said
        return said

    def _close(self, idx: int) -> tuple[int, str]:
        """(where the handle's close is, its close reason)."""
        handles = self._handles
        if isinstance(handles, HandleTable):
            return handles.close_said(idx)
        h = handles[idx]
        return h.closed_at, h.close_reason

    def handle(self, pos: int, eid: int, act: Act, hid: int, idx: int | None) -> Said:
        """A 4656/4663/4658's handle (`_hlink_event`): its close is the handle's own when the
        handle's close is this event (`h.closed == found.ref`: the same position). The `Handle`
        is made only for a close (a use's words are its handle's, remembered; an open's are its own)."""
        if hid == 0:
            return None, MISSING, "HandleId 0x0: no handle was opened (access denied, or an access check only)"
        if idx is None:
            return None, MISSING, "the event names no process to own the handle"
        said = self._said(idx)
        if act is Act.OPEN:
            return said[0], EXACT, f"opened by this {eid}"
        if act is Act.CLOSE:
            closed_at, close_reason = self._close(idx)
            if closed_at == pos:
                return said[0], said[1], f"{said[2]}; {close_reason}"
        return said

    def dup_source(self, sid: int) -> Said:
        choice = self._sources.get(sid)
        if choice is None:
            return None, MISSING, "the 4690 names no source process"
        h = self._handles[choice.handle] if choice.handle is not None else None
        return h.index if h is not None else None, choice.confidence, choice.reason

    def dup_target(self, sid: int, idx: int | None) -> Said:
        if idx is None:
            return None, MISSING, "the 4690 names no target process"
        return idx, *target_said(self._sources.get(sid), self._close(idx)[1])


def _links_of(model: CorrelationModel, found: Facts) -> Iterator[LinkRow]:
    """The links of one event, from its `Facts`."""
    sid = found.ref.store_id
    source = model._plink(found.source_pid, found.source_proc, found.source_note)
    target = model._plink(found.target_pid, found.target_proc, found.target_note)
    if isinstance(found, SysmonFacts):
        if source is not None and found.source_confidence and source.process is not None:
            source = ProcessLink(source.pid, source.process, found.source_confidence, source.reason)
        if target is not None and found.target_confidence and target.process is not None:
            target = ProcessLink(target.pid, target.process, found.target_confidence, target.reason)
    yield from _process("source process", sid, source)
    yield from _process("target process", sid, target)
    if not isinstance(found, SysmonFacts):
        act = ROLES[found.ref.event_id].act
        if act is Act.DUPLICATE:
            source_handle, target_handle = model._dup_handles(found)
            yield from _handle("source handle", sid, source_handle)
            yield from _handle("target handle", sid, target_handle)
        elif act in HANDLE_ACTS:
            yield from _handle("source handle", sid, model._hlink_event(found))
    yield from _session(sid, model._session(found))


#: Processes whose rows `_process_rows` reads at once.
_PROCESS_CHUNK = 1 << 12


def _process_rows(table: ProcessTable) -> Iterator[tuple[Any, ...]]:
    """`_rows(table, PROCESS_COLUMNS)` read from the table's columns a chunk of instances at a
    time, no `Process` made (tested to be equal: a column added to the table is added here): a
    `Process` made per instance, and a getter called per cell, were most of the instances' time
    at ten million events."""
    store_id = table.facts.store_id

    def held(value: Any) -> int | None:  # an event held as a position, or a Sysmon event's `Ref`
        if type(value) is int:
            return store_id(value) if value >= 0 else None
        return value.store_id if isinstance(value, Ref) else None

    def bound(key: Any) -> tuple[Any, Any]:
        return key if isinstance(key, tuple) else (None, None)

    for lo in range(0, len(table), _PROCESS_CHUNK):
        part = range(lo, min(len(table), lo + _PROCESS_CHUNK))
        (computer, pid, image, command_line, parent_pid, parent, user, user_sid, logon_id, elevation, integrity,
         flags, confidence, record) = (table.values(name, part) for name in (
            "computer", "pid", "image", "command_line", "parent_pid", "parent", "user", "user_sid", "logon_id",
            "elevation", "integrity", "flags", "confidence", "reason_record"))
        created, exited, replaced_by, first_seen = (list(map(held, table.values(name, part))) for name in (
            "created_at", "exited_at", "replaced_by_at", "first_seen_at"))
        starts, ends = (list(map(bound, table.keys(table.values(name, part)))) for name in ("start_at", "end_at"))
        reasons, guids = table.reasons(part, record), table.guids(part)
        for n, i in enumerate(part):
            yield (i, computer[n], pid[n], image[n], command_line[n], parent_pid[n], parent[n], user[n], user_sid[n],
                   logon_id[n], elevation[n], integrity[n], created[n], exited[n], replaced_by[n], first_seen[n],
                   *starts[n], *ends[n], int(flags[n] == PRE_EXISTING), confidence[n], reasons[n], guids[n])


def _handle_rows(table: HandleTable) -> Iterator[tuple[Any, ...]]:
    """`_rows(table, HANDLE_COLUMNS)` read from the table's columns, no `Handle` made (tested
    to be equal: a column added to the table is added here)."""
    facts = table.facts
    store_id = facts.store_id
    for (i, computer, pid, hid, process, opened, dup, source, otype, oname, access, closed, note,
         first) in table.raw_rows():
        confidence, reason = handle_said(facts, opened, dup, first, note)
        yield (i, computer, pid, hid, process, store_id(opened) if opened >= 0 else None,
               store_id(dup) if dup >= 0 else None, source, otype, oname, access,
               store_id(closed) if closed >= 0 else None, handle_close_reason(facts, closed, note),
               store_id(first) if first >= 0 else None, confidence, reason)


def tables_of(model: CorrelationModel) -> CorrelationTables:
    """The instance rows of `model` (generated as they are written; its links: `links`)."""
    processes, handles = model.processes, model.handles
    return CorrelationTables(
        processes=(_process_rows(processes) if isinstance(processes, ProcessTable)
                   else _rows(processes, PROCESS_COLUMNS)),
        handles=_handle_rows(handles) if isinstance(handles, HandleTable) else _rows(handles, HANDLE_COLUMNS),
        sessions=_rows(model.sessions, SESSION_COLUMNS),
    )
