"""The scan's loop over raw rows (`Scan.feed`), and how it reads a handle event's fields.

Five events in six of a busy Security log are handle events (4656/4661 open, 4663/4660 use,
4658 close). For them the loop reads what it needs straight from the decoded EventData pairs
(`HandleReader`: where each field is, found once per distinct layout of names), once per
distinct EventData blob while it repeats, and does the process and handle trackers' usual steps
itself: no Values dict, `Facts` or `Ref` is made for such an event, only its instances for the
facts table (the rest of its row is packed from the rows alone: `core.correlate.fact_frames`),
and a `Ref` only where a tracker keeps one (a new process
instance, a new image name, a process opened by handle). Making and reading back those objects
was half of the build's CPU time. The other events go through `Scan`'s steps, as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Container, Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

from core.correlate.event_fields import _PARSED, _UNSEEN, Values, as_int, canonical, values_of
from core.correlate.fact_frames import HANDLE, NOT_SAID, ORDER_ONLY, WHOLE, FrameInts, frame_ints
from core.correlate.facts import Facts, make_ref, row_of
from core.correlate.handles import HandleFields, clean
from core.correlate.processes import _NAME_KEYS, NAME_KEYS, name_key
from core.correlate.roles import HANDLE_ACTS, ROLES, SYSMON, Act, Role
from core.correlate.sessions import user_name
from core.model.same_records import CopyFilter

if TYPE_CHECKING:
    from core.correlate.scan import Scan

#: A raw row: store id, place on the time line, record id, EventID, computer as logged, and the
#: EventData as stored (or as already decoded: the scan's `pairs_of` says).
RawRow = tuple[int, "int | None", int, int, str, Any]
Pairs = tuple[tuple[str, str], ...]
#: What the scan reads of a handle event: logon id, user, pid, handle value, process name, its
#: key among a process's names (`name_key`), what it says of the object (`HandleFields`), whether
#: the object is a process, and the object name and access mask as logged (for process access).
HandleEvent = tuple["int | None", "str | None", "int | None", "int | None", "str | None", str, HandleFields, bool,
                    "str | None", "int | None"]

#: Distinct EventData blobs kept read per handle EventID (the map is emptied when full): a log
#: repeats them (the same handle used again and again logs the same 4663). At 1M churn events
#: (666,685 handle events, 263,329 distinct blobs) 4,096 hit 51%, 8,192 53% for 4 MB more peak RSS.
HANDLE_DECODED: Final = 4096
#: Distinct layouts of EventData names kept per EventID (emptied when full; a log has a handful).
LAYOUTS: Final = 256
#: Distinct object fields (type, name, access list, mask) kept read per EventID (emptied when full).
OBJECTS: Final = 4096

_USE, _OPEN, _CLOSE, _STEP, _SYSMON = range(5)
_CODES: Final = {Act.USE: _USE, Act.OPEN: _OPEN, Act.CLOSE: _CLOSE}
_OBJECT: Final = ("ObjectType", "ObjectName", "AccessList", "AccessMask")


class HandleReader:
    """Reads one handle EventID's events: the fields its roles row names (and the object's),
    first value per name in the canonical case, exactly as `event_fields.values_of` then the scan read
    them, without making the dict of every field."""

    __slots__ = ("cache", "last", "layouts", "needed", "objects", "role", "simple", "users")

    def __init__(self, role: Role) -> None:
        self.role = role
        #: The fields read, in this order: logon ids, user (domain, name), pids, handle, name, object.
        self.needed = (*role.logon_id, *role.user, *role.source_pid, role.source_handle, role.source_name, *_OBJECT)
        self.layouts: dict[tuple[str, ...], Callable[[tuple[str | None, ...]], tuple[str | None, ...]]] = {}
        self.simple = len(role.logon_id) == 1 and len(role.source_pid) == 1
        #: Read events by their stored EventData (`HANDLE_DECODED`).
        self.cache: dict[Any, HandleEvent] = {}
        #: A use event's process and handle instances by its stored EventData (`HANDLE_DECODED`),
        #: with what its row keeps: (host, process, handle, logon id, user, pid, process index,
        #: handle value, handle index). `feed` takes them again while both are alive.
        self.last: dict[Any, tuple[Any, ...]] = {}
        #: What the object fields as logged say (`HandleFields`, is it a process), bounded: the
        #: same objects come back in thousands of events.
        self.objects: dict[tuple[str | None, ...], tuple[HandleFields, bool]] = {}
        #: `user_name` by (domain, account) as logged, bounded as `objects` (a few accounts).
        self.users: dict[tuple[str | None, str | None], Any] = {}

    def _layout(self, names: tuple[str, ...]) -> Callable[[tuple[str | None, ...]], tuple[str | None, ...]]:
        """Where each needed field is among `names` (the slot past the end, None, when absent)."""
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            canon = canonical(name)
            if canon is not None and canon not in first:
                first[canon] = i
        getter = itemgetter(*(first.get(name, len(names)) for name in self.needed))
        if len(self.layouts) >= LAYOUTS:
            self.layouts.clear()
        self.layouts[names] = getter
        return getter

    def read(self, pairs: Pairs) -> HandleEvent:
        if pairs:
            # A pair that is not two values fails here, as it did when the pairs were a dict's.
            names, values = zip(*pairs, strict=True)
        else:
            names = values = ()
        layout = self.layouts.get(names) or self._layout(names)
        raw = layout((*values, None))
        parsed = _PARSED  # `as_int`'s memory, looked up here first (three or four numbers an event)
        if self.simple:  # one logon id field, one pid field: every handle row of the table
            lid_text, domain, account, pid_text, hid_text, name, *what = raw
            lid = parsed.get(lid_text, _UNSEEN)  # type: ignore[arg-type]
            if lid is _UNSEEN:
                lid = as_int(lid_text)
            pid = parsed.get(pid_text, _UNSEEN)  # type: ignore[arg-type]
            if pid is _UNSEEN:
                pid = as_int(pid_text)
        else:
            lid, domain, account, pid, hid_text, name, what = self._general(raw)
        hid = parsed.get(hid_text, _UNSEEN)  # type: ignore[arg-type]
        if hid is _UNSEEN:
            hid = as_int(hid_text)
        users = self.users
        user = users.get((domain, account), _UNSEEN)
        if user is _UNSEEN:
            if len(users) >= OBJECTS:
                users.clear()
            user = users[(domain, account)] = user_name(domain, account)
        key = _NAME_KEYS.get(name)  # type: ignore[arg-type]
        if key is None:
            key = name_key(name)
            if len(_NAME_KEYS) >= NAME_KEYS:
                _NAME_KEYS.clear()
            if name is not None:
                _NAME_KEYS[name] = key
        object_type, object_name, access_list, mask = what
        said = (object_type, object_name, access_list, mask)
        seen = self.objects.get(said)
        if seen is None:
            if len(self.objects) >= OBJECTS:
                self.objects.clear()
            seen = self.objects[said] = ((clean(object_type), clean(object_name), clean(access_list) or clean(mask)),
                                         (object_type or "").casefold() == "process")
        fields, process = seen
        return (lid, user, pid, hid, name, key, fields, process, object_name,  # type: ignore[return-value]
                as_int(mask) if process else None)

    def _general(self, raw: tuple[str | None, ...]) -> tuple[int | None, str | None, str | None, int | None,
                                                            str | None, str | None, list[str | None]]:
        """`read`'s fields for a row with several logon id or pid fields (read in order)."""
        role = self.role
        n = len(role.logon_id)
        lid: int | None = None
        for value in raw[:n]:  # the first non-zero logon id (else the last one's value)
            lid = as_int(value)
            if lid:
                break
        at = n + 2
        pid: int | None = None
        for value in raw[at:at + len(role.source_pid)]:  # the first that is a number
            pid = as_int(value)
            if pid is not None:
                break
        at += len(role.source_pid)
        return lid, raw[n], raw[n + 1], pid, raw[at], raw[at + 1], list(raw[at + 2:])


def _kinds(scan: Scan) -> dict[int, tuple[int, Any, int, Role | None, HandleReader | None]]:
    """What the loop does with each EventID: (code, step, the table's EventID int, row, reader)."""
    kinds: dict[int, tuple[int, Any, int, Role | None, HandleReader | None]] = {}
    for eid, role in ROLES.items():
        if role.act in HANDLE_ACTS:
            kinds[eid] = (_CODES[role.act], None, eid, role, HandleReader(role))
        else:
            step, _, _ = scan._steps[eid]
            kinds[eid] = (_STEP, step, eid, role, None)
    for eid in SYSMON:
        kinds.setdefault(eid, (_SYSMON, None, eid, None, None))
    return kinds


def _frame_of(rows: Sequence[RawRow], events_of: Callable[[int, Any], HandleEvent], order: int,
              kind_of: dict[int, int]) -> FrameInts:
    """`frame_ints` of raw rows, `events_of` reading a handle event's data."""
    if not rows:
        return frame_ints((), (), (), (), (), order, kind_of)
    sids, tss, record_ids, eids, _, datas = zip(*rows, strict=True)
    said = [events_of(eid, data) if kind_of.get(eid) == HANDLE else NOT_SAID
            for eid, data in zip(eids, datas, strict=True)]
    return frame_ints(sids, tss, record_ids, eids, said, order, kind_of)


def feed(scan: Scan, batches: Iterable[Sequence[RawRow]], pairs_of: Callable[[Any], Pairs],
         untimed: Container[int] | None = None, *, decoded: dict[Any, HandleEvent] | None = None,
         values_from: Callable[[Any], Values] | None = None) -> None:
    """Feed `batches` of raw rows, in time order, to `scan`'s trackers and facts table.

    `untimed` holds the store ids of the events logged without a time (their place on the
    time line is the previous event's: their `Ref.filetime` is None). The events the model
    does not scan are skipped, and so are the copies of a record loaded twice
    (`core.model.same_records`: noted in `scan.same_records`). Rows read by another process
    (`core.correlate.scan_reader`) come already read, their copies already dropped and noted in
    the batch (`copies`): a handle event's data is a key of `decoded` (what `HandleReader.read`
    made of it, kept up to date by the batches' source), another event's is what
    `values_from` turns into its fields (else `values_of(pairs_of(data))`). The restarts'
    markers (`Scan.markers`) are applied before the first row they precede (`Scan.pass_markers`)."""
    facts = scan.facts
    pending, flush, add_whole, take_frame = facts.pending, facts.flush, facts.add_row, facts.frame
    append = pending.append
    procs_tracker, handles_tracker = scan.procs, scan.handles
    current, procs, resolve = procs_tracker._current, procs_tracker.procs, procs_tracker.resolve
    alive, handles, seen, new_handle = (handles_tracker._alive, handles_tracker.handles, handles_tracker.seen,
                                        handles_tracker._new)
    ended, advance = handles_tracker._ended.append, handles_tracker.advance
    close_handle, opened = handles_tracker.close, scan.access.opened
    aliases, alias_keys, drop_alias = handles_tracker._alias, handles_tracker._alias_key, handles_tracker._drop_alias
    computers = scan.computers
    sysmon = scan.sysmon
    waits = sysmon.waits  # (the one dict, emptied and filled: never another)
    kinds = _kinds(scan)
    if values_from is None:
        def values_from(data: Any) -> Values:
            return values_of(pairs_of(data))
    places: dict[str, tuple[str, str]] = {}
    order, pos = 0, len(facts)

    def events_of(eid: int, data: Any) -> HandleEvent:
        """What the loop below reads of a handle event (filled in here first, as it does)."""
        reader = kinds[eid][4]
        assert reader is not None
        cache = reader.cache if decoded is None else decoded
        got = cache.get(data)
        if got is None:
            if len(cache) >= HANDLE_DECODED:
                cache.clear()
            got = cache[data] = reader.read(pairs_of(data))
        return got

    # What each EventID is to the facts table, as the loop below takes it.
    kind_of = {eid: HANDLE if code <= _CLOSE else WHOLE if code == _STEP else ORDER_ONLY
               for eid, (code, *_) in kinds.items()}
    same = scan.same_records
    without_copies = CopyFilter(same, pairs_of)
    # The time of the next boot or shutdown marker to apply (`Scan.pass_markers`), beyond every
    # event's when none is left: one comparison per row.
    never = 1 << 64
    marked = scan.pass_markers((-never, 0, 0), order)
    next_mark = never if marked is None else marked
    for rows in batches:
        copies: list[tuple[int, int]] | None = getattr(rows, "copies", None)
        if copies is None:
            rows = without_copies(rows)
        elif copies:
            same.extend(copies)
        # The facts slots of the batch's rows (`core.correlate.fact_frames`): packed by the
        # reading child, else here. The scan appends its own part of each handle event.
        ints: FrameInts | None = getattr(rows, "ints", None)
        if ints is None or ints.order != order:
            ints = _frame_of(rows, events_of, order, kind_of)
        take_frame(ints)
        for sid, ts, record_id, eid, logged, data in rows:
            try:  # (subscripts: cheaper than `get` calls, and every row but the odd one is found)
                kind = kinds[eid]
            except KeyError:
                continue
            if ts is None:
                raise ValueError("an event without a time cannot be streamed in time order")
            if ts >= next_mark:  # markers before this event: applied first (it is the next boot's)
                marked = scan.pass_markers((ts, record_id, sid), order)
                next_mark = never if marked is None else marked
            n = order
            order += 1
            filetime = None if untimed is not None and sid in untimed else ts
            try:
                host, computer = places[logged]
            except KeyError:  # the computer case-folded (scope) and as first logged (shown)
                host = sys.intern(logged.casefold())
                computer = computers.setdefault(host, sys.intern(logged))
                places[logged] = (host, computer)
            # The table's own EventID int, not the one read from the row: the Refs instances
            # keep (their 4688, 4689...) then share one.
            code, step, event_id, role, reader = kind
            if code > _CLOSE:
                if code == _STEP:
                    found = Facts(make_ref(sid, record_id, event_id, filetime, ts, n), host, computer)
                    step(scan, found, values_from(data), role)
                    add_whole(row_of(found))
                    pos += 1
                else:
                    scan._sysmon_event(make_ref(sid, record_id, eid, filetime, ts, n), host, computer,
                                       values_from(data))
                continue
            assert reader is not None
            if waits and ts >= sysmon.soonest:  # Sysmon 1s no 4688 can join any more (`Scan.settle`)
                scan.settle(ts, n)
            if code == _USE:
                # The commonest event: a 4663 repeating one logged earlier (`HandleReader.last`)
                # on the handle that event used, still open in its process, still alive: the
                # usual steps below would find that same process and handle and change nothing
                # but the counts and the accesses.
                last = reader.last.get(data)
                if last is not None and last[0] is host:
                    _, proc, h, lid, user, pid, idx, hid, handle = last
                    if proc.end is None and h.closed < 0 and h.replaced_by < 0:
                        seen[(host, event_id)] += 1
                        append((idx, handle, None, host, computer, user, filetime))
                        pos += 1
                        continue
            cache = reader.cache if decoded is None else decoded
            got = cache.get(data)
            if got is None:  # (never with `decoded`: its source put every key in)
                if len(cache) >= HANDLE_DECODED:
                    cache.clear()
                got = cache[data] = reader.read(pairs_of(data))
            lid, user, pid, hid, name, key, fields, process_object, object_name, mask = got
            if pid is None:
                append((None, None, None, host, computer, user, filetime))
                pos += 1
                continue
            # `ProcessTracker.resolve`, its usual case here: the pid's instance is alive.
            note: str | None = None
            idx = current.get((host, pid))
            proc = procs[idx] if idx is not None else None
            if proc is not None and proc.end is None:
                if key and key not in proc.names:
                    proc.add_name(name, pos)  # this event's position: what the instance keeps
            else:
                ref = make_ref(sid, record_id, event_id, filetime, ts, n)
                idx, note = resolve(host, computer, pid, ref, name=name, close=code == _CLOSE)
            assert idx is not None
            if not hid:
                append((idx, None, note, host, computer, user, filetime))
                pos += 1
                continue
            if code == _USE:  # `HandleTracker.use`
                seen[(host, event_id)] += 1
                at = alive.get((idx, hid))
                if at is not None:
                    h = handles[at]
                    new = False
                else:
                    h = new_handle(host, computer, pid, idx, hid, pos)
                    new = True
                if h.object_type is None:
                    h.object_type = fields[0]
                if h.object_name is None:
                    h.object_name = fields[1]
                # Its accesses are not kept here: the facts table has this event's handle
                # (`HandleTracker.finish` groups them, no array per handle meanwhile).
                handle = h.index
                if proc is not None and proc.end is None:  # the usual case: remember it (above)
                    remembered = reader.last
                    if len(remembered) >= HANDLE_DECODED:
                        remembered.clear()
                    remembered[data] = (host, proc, h, lid, user, pid, idx, hid, handle)
            elif code == _OPEN:  # `HandleTracker.open`
                seen[(host, event_id)] += 1
                h = new_handle(host, computer, pid, idx, hid, pos)
                h.opened = pos
                h.object_type, h.object_name, h.access = fields
                handle = h.index
                new = True
            else:
                at = alive.get((idx, hid))
                if at is not None and not aliases:  # `HandleTracker.close`, its usual case
                    seen[(host, event_id)] += 1
                    if alias_keys:
                        drop_alias(at)
                    del alive[(idx, hid)]
                    handles[at].closed = pos
                    ended(at)
                    handle = at
                    new = False
                else:
                    before = handles_tracker.count
                    handle = close_handle(host, computer, pid, idx, hid, event_id, record_id, at=pos)
                    new = handle >= before
            if new:  # a new instance: its process owns it
                procs[handles[handle].process].handles.append(handle)
            if process_object and code == _OPEN:
                opened(pos, (ts, n), host, idx, handle, object_name, mask)
            append((idx, handle, note, host, computer, user, filetime))
            pos += 1
        flush()
        scan.next_order = order
        if rows and rows[-1][1] is not None:  # the time of the last row: no later row is before it
            advance(rows[-1][1])
            scan.last_key = (rows[-1][1], order - 1)
