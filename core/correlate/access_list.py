"""The Process access list, ranked and grouped as it is read.

The list (`AccessList`, what `CorrelationModel.process_accesses` gives) is every access grouped
by target, groups and the accesses in each riskiest first (`core.correlate.access` says what an
access is). Naming a lone 4656's target needs the lives of every instance of its image (a sweep
through time per image); done for all of them before the first line, that was most of the
view's 6 s at ten million events, and grew with the log. Here a cheap pass first takes each
access's risk without its target (the target only adds lsass's 100, and only an image some
instance called lsass can) and files the 4656s by (computer, image): a "bucket". Groups come
out of a heap in the list's order; a bucket enters it at the best key any of its groups could
have, and is swept when it reaches the top, so the first screen sweeps the lsass buckets and
not the others. A group leaves only once every bucket that could add to it is swept. What the
status line counts (accesses, less those of a process to itself) waits for the buckets where a
source opens an instance of its own image (`total`, `total_known`).

The order is the eager list's: groups by (risk, computer, target) case-folded, ties in order of
their first access (Sysmon 10s in log order, then the lone 4656s); accesses by risk then time.
Thread-safe (the view and the tables' writer read it at once): one lock, each bucket swept once.

About 540 lines: the buckets, the groups' heap and the lines laid out share one lock and the rows'
arrays; what reads the model's columns is `core.correlate.access_columns`.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from core.correlate.access import (
    _LISTED,
    AccessGroup,
    Named,
    Place,
    ProcessAccess,
    _named,
    image_index,
    on_path,
    rights_text,
)
from core.correlate.access_columns import (
    duplication_count_reader,
    names_of,
    object_name_reader,
    object_names_of,
    own_names_of,
)
from core.correlate.access_risk import RiskParts, risk_of, target_part
from core.correlate.evidence import basename
from core.correlate.open_columns import Open
from core.correlate.processes import EXACT, MISSING

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel

#: Duplications listed under one access at most.
MAX_DUPLICATIONS = 50
#: Accesses remembered once made (all forgotten when full), not all: each holds its processes
#: (a screen shows a few dozen: see `core.correlate.duplications.KEEP`).
KEEP = 1 << 10
#: Targets named (their reason listing the instances alive) remembered, not all: at ten million
#: events one per lone 4656 were 32 MB once the tables' writer had read every line.
REASONS_KEPT = 1 << 12
#: Marks the end of a label's name: `cmd.exe 0x8cc (2252)` (`Process.label`).
_LABEL = " 0x"


@dataclass(frozen=True, slots=True)
class GroupHead:
    """A group's heading line: its target, computer, risk, how many accesses, the first."""

    target: str
    computer: str
    risk: int
    count: int
    first: ProcessAccess


#: What a line shows: ("group", `GroupHead`), ("access", `ProcessAccess`) or ("dup", the `Ref`
#: of a 4690 that duplicated the handle of the access above).
Item = tuple[str, Any]


class AccessList(Sequence[AccessGroup]):
    """See the module docstring. As a sequence: the `AccessGroup`s, each made when read (not
    kept); `line_count`, `item` and `total` are what the view reads."""

    def __init__(self, model: CorrelationModel) -> None:
        self._model = model
        tracker = model.access_tracker
        self._sysmon = tracker.sysmon
        twins = tracker.twins
        opens = self._opens = tracker.opens
        # The 4656s without a Sysmon twin, as indexes in `opens`.
        self._lone = (array("q", (i for i in range(len(opens)) if not twins.get(opens.store_id(i)))) if twins
                      else array("q", range(len(opens))))
        self._lock = threading.RLock()
        processes = model.processes
        parts = self._parts = RiskParts(processes)
        nrows = len(self._sysmon) + len(self._lone)
        # Per row, as arrays and a list (no boxed int or dict entry a row: ~20 MB at 10M events).
        self._risk = array("q", bytes(8 * nrows))
        self._alive: list[tuple[int, ...] | None] = [None] * nrows  # lone 4656: the instances alive, once swept
        # (bucket, alive, the 4656's path) -> its target named
        self._reasons: dict[tuple[int, tuple[int, ...], Place | None], Named] = {}
        self._made: dict[int, ProcessAccess] = {}  # the last made (`KEEP`): each holds its processes
        # groups: (computer folded, target) -> id; per id its key parts, rows and first row
        self._group_ids: dict[tuple[str, str], int] = {}
        self._g_key: list[tuple[str, str]] = []
        self._g_rows: list[array[int]] = []
        self._g_risk: list[int] = []
        self._g_first: list[int] = []
        self._g_version: list[int] = []
        self._heap: list[tuple[int, str, str, int, int, int, int]] = []
        self._order: list[int] = []  # groups in list order, as they leave the heap
        self._sorted: dict[int, list[int]] = {}  # a group left: its rows in order
        self._lines: list[tuple[int, int, int]] = []  # (group, row or -1, duplication or -1)
        self._laid = (0, -1)  # where `_lines` goes on: (group in `_order`, its next row or -1: its heading)
        self._selves = 0
        self._sysmon_rows = 0
        computers: dict[str, str] = {}
        # Each source's risk part, each target's name and label, each handle's object read from
        # the tables' columns, no `Process` or `Handle` made (`core.correlate.access_columns`).
        sources = [opens.source[i] for i in self._lone]
        lone_sources = set(sources)
        parts.read_sources(lone_sources | {s.source for s in self._sysmon if s.source is not None})
        targets = names_of(processes, {s.target for s in self._sysmon if s.target is not None})
        for n, s in enumerate(self._sysmon):
            if s.source is not None and s.source == s.target:
                continue
            self._sysmon_rows += 1
            name, label = targets[s.target] if s.target is not None else (s.target_image, "")
            self._risk[n] = target_part(name)[0] + parts.mask(s.granted)[0] + parts.source(s.source)[0]
            computer = computers.get(s.host) or computers.setdefault(s.host, model.computer_of(s.host))
            self._add(n, computer, label if s.target is not None else basename(s.target_image) or "?")
        # Lone 4656s: their bucket, best risk, the names their groups may have.
        index = image_index(model)
        handles = model.handles
        first = len(self._sysmon)
        self._b_rows: list[array[int]] = []
        self._b_key: list[tuple[str, str]] = []
        self._b_selves: set[int] = set()  # buckets where a source may be the target
        self._b_swept: list[bool] = []
        self._b_of: array[int]  # lone 4656 -> its bucket
        #: Per computer folded: a name -> the buckets whose groups may be called that (unnamed
        #: target) or whose instances have that name (a label `name 0x...`).
        self._called: dict[str, dict[str, set[int]]] = {}
        self._labelled: dict[str, dict[str, set[int]]] = {}
        self._unnamed: dict[str | None, str] = {}  # object name -> the group's target while no instance is named
        # A column at a time, then once per bucket, mask, source or (bucket, object) pair: a
        # loop over every 4656 with a look-up of each was 0.3 s at ten million events.
        lone = self._lone
        places = opens.places(lone)
        bucket_of = {place: b for b, place in enumerate(dict.fromkeys(places))}  # numbered as first met
        self._b_of = array("q", map(bucket_of.__getitem__, places))
        del places
        for place in bucket_of:
            host, image = opens.place(place)
            computer = computers.get(host) or computers.setdefault(host, model.computer_of(host))
            self._b_rows.append(array("q"))
            self._b_key.append((computer, image))
            self._b_swept.append(False)
        masks = opens.masks(lone)
        mask_risk = {mask: parts.mask(mask)[0] for mask in set(masks)}
        source_risk = {source: parts.source(source)[0] for source in lone_sources}
        best = [0] * len(self._b_rows)
        adds = [rows.append for rows in self._b_rows]
        for row, b, mask, source in zip(range(first, first + len(lone)), self._b_of, masks, sources, strict=True):
            adds[b](row)
            risk = mask_risk[mask] + source_risk[source]
            if risk > best[b]:
                best[b] = risk
        del masks, adds
        objects: list[set[str | None]] = [set() for _ in self._b_rows]  # per bucket: its handles' object names
        for b, object_name in set(zip(self._b_of, object_names_of(handles, [opens.handle[i] for i in lone]),
                                      strict=True)):
            objects[b].add(object_name)
        own = own_names_of(processes, lone_sources)
        for source, b in set(zip(sources, self._b_of, strict=True)):
            if self._b_key[b][1] in own[source]:
                self._b_selves.add(b)
        del sources
        for b, (computer, _) in enumerate(self._b_key):
            by_name = self._called.setdefault(computer.casefold(), {})
            for object_name in objects[b]:
                by_name.setdefault(self._unnamed_of(object_name), set()).add(b)
        for b, (computer, image) in enumerate(self._b_key):
            called = index.names_of(computer, image)
            lsass = image == "lsass.exe" or any(target_part(name)[0] for name in called)
            labelled = self._labelled.setdefault(computer.casefold(), {})
            for name in called:
                labelled.setdefault(name, set()).add(b)
            # The best key any of its groups may have: its best risk, any target.
            heapq.heappush(self._heap, (-(best[b] + (100 if lsass else 0)), computer.casefold(), "", 0, 0, b, 0))
        self._candidates = sum(len(self._b_rows[b]) for b in self._b_selves)

    # -- the groups, in order -----------------------------------------------------------------

    def _add(self, row: int, computer: str, target: str) -> None:
        """File `row` in the group of `target` on `computer`: the heap holds the group at its
        current key (an entry of an older key is dropped when it comes up: `_g_version`)."""
        key = (computer.casefold(), target)
        g = self._group_ids.get(key)
        risk = self._risk[row]
        if g is None:
            g = self._group_ids[key] = len(self._g_key)
            self._g_key.append(key)
            self._g_rows.append(array("q", [row]))
            self._g_risk.append(risk)
            self._g_first.append(row)
            self._g_version.append(0)
        else:
            self._g_rows[g].append(row)
            if risk <= self._g_risk[g] and row >= self._g_first[g]:
                return  # its key is the same
            self._g_risk[g] = max(self._g_risk[g], risk)
            self._g_first[g] = min(self._g_first[g], row)
            self._g_version[g] += 1
        heapq.heappush(self._heap, (-self._g_risk[g], key[0], target.casefold(), 1, self._g_first[g], g,
                                    self._g_version[g]))

    def _alive_in(self, b: int) -> list[list[int]]:
        """`targets_named`'s sweep of bucket `b`: the instances alive at each of its 4656s (the
        costly part of `_sweep`, seconds for a big bucket at ten million events; it reads the
        model only, so `total` runs it without the lock, and the lines drawn do not wait)."""
        lone, first = self._lone, len(self._sysmon)
        computer, image = self._b_key[b]
        return image_index(self._model).first_alive(computer, image,
                                                    self._opens.keys(lone[row - first] for row in self._b_rows[b]),
                                                    _LISTED + 1, keep=False)

    def _sweep(self, b: int, found: list[list[int]] | None = None) -> None:
        """Name the targets of bucket `b`'s 4656s (`found`: `_alive_in(b)` if worked out already)
        and file them in their groups."""
        if self._b_swept[b]:
            return
        self._b_swept[b] = True
        model, lone, first = self._model, self._lone, len(self._sysmon)
        computer, _image = self._b_key[b]
        rows = self._b_rows[b]
        parts = self._parts
        # Each answer's reason (labels of the instances alive) made when its line is: most
        # lines are never drawn.
        if found is None:
            found = self._alive_in(b)
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # 4656s close in time see the same ones alive
        # Those that may be the 4656's file (`on_path`: a lsass.exe outside System32 is not the
        # real one), per (alive, path).
        kept: dict[tuple[tuple[int, ...], Place | None], tuple[int, ...]] = {}
        tracker = model.access_tracker
        processes = model.processes
        object_of = object_name_reader(model.handles)
        filed: list[tuple[int, ...]] = []
        for row, alive in zip(rows, found, strict=True):
            seen = shared.setdefault(tuple(alive), tuple(alive))
            self._alive[row] = seen
            path = tracker.open_path(lone[row - first])
            ours = kept.get((seen, path))
            if ours is None:
                ours = kept[(seen, path)] = tuple(on_path(model, list(seen), path)[0]) if path is not None else seen
            filed.append(ours)
        named = names_of(processes, {ours[0] for ours in filed if len(ours) == 1})
        for row, seen in zip(rows, filed, strict=True):
            i = lone[row - first]
            o_mask, o_source = self._opens.mask(i), self._opens.source[i]
            if len(seen) != 1:
                self._risk[row] = (target_part(self._opens.image(i))[0] + parts.mask(o_mask)[0]
                                   + parts.source(o_source)[0])
                self._add(row, computer, self._unnamed_of(object_of(self._opens.handle[i])))
                continue
            if seen[0] == o_source:
                self._selves += 1
                continue
            name, label = named[seen[0]]
            self._risk[row] = target_part(name)[0] + parts.mask(o_mask)[0] + parts.source(o_source)[0]
            self._add(row, computer, label)
        self._b_selves.discard(b)

    def _named(self, row: int) -> Named:
        """The target of lone 4656 `row` (swept), its confidence and reason (`targets_named`'s)."""
        b = self._b_of[row - len(self._sysmon)]
        alive = self._alive[row]
        assert alive is not None, "swept first"
        path = self._model.access_tracker.open_path(self._lone[row - len(self._sysmon)])
        named = self._reasons.get((b, alive, path))
        if named is None:
            computer, image = self._b_key[b]
            if len(self._reasons) >= REASONS_KEPT:
                self._reasons.clear()
            named = self._reasons[(b, alive, path)] = _named(self._model, computer, image, list(alive), path)
        return named

    def _unnamed_of(self, object_name: str | None) -> str:
        """The target of a 4656's group while no instance is named: its object's file name."""
        unnamed = self._unnamed.get(object_name)
        if unnamed is None:
            unnamed = self._unnamed[object_name] = basename(object_name) or "?"
        return unnamed

    def _adders(self, g: int) -> set[int]:
        """The buckets not swept yet that may add accesses to group `g`."""
        computer, target = self._g_key[g]
        found: set[int] = set(self._called.get(computer, {}).get(target, ()))
        labelled = self._labelled.get(computer, {})
        at = target.find(_LABEL)
        while at >= 0:
            found |= labelled.get(target[:at], set())
            at = target.find(_LABEL, at + 1)
        return {b for b in found if not self._b_swept[b]}

    def _next_group(self) -> bool:
        """Put the next group in list order into `_order`; False once there is none."""
        heap = self._heap
        while heap:
            _, _, _, kind, _, ident, version = heap[0]
            if kind == 0:
                heapq.heappop(heap)
                self._sweep(ident)
                continue
            if version != self._g_version[ident]:
                heapq.heappop(heap)
                continue
            adders = self._adders(ident)
            if adders:
                for b in sorted(adders):
                    self._sweep(b)
                continue
            heapq.heappop(heap)
            self._order.append(ident)
            self._g_version[ident] = -1
            return True
        return False

    def _group(self, n: int) -> int | None:
        """The id of the n-th group in list order (None past the last)."""
        while len(self._order) <= n:
            if not self._next_group():
                return None
        return self._order[n]

    def _rows_of(self, g: int) -> list[int]:
        rows = self._sorted.get(g)
        if rows is None:
            risk, rows_of = self._risk, self._g_rows[g]
            keys = dict(zip(rows_of, self._keys(rows_of), strict=True))
            rows = self._sorted[g] = sorted(rows_of, key=lambda r: (-risk[r], keys[r], r))
        return rows

    def _keys(self, rows: Sequence[int]) -> list[tuple[int, int]]:
        """The (time, order) of each of `rows` (the lone 4656s' kept by the tracker's columns)."""
        first, lone = len(self._sysmon), self._lone
        opened = iter(self._opens.keys(lone[row - first] for row in rows if row >= first))
        return [self._sysmon[row].ref.key if row < first else next(opened) for row in rows]

    # -- what is read ---------------------------------------------------------------------------

    def access(self, row: int) -> ProcessAccess:
        """The access of row `row` (the last `KEEP` made are remembered)."""
        with self._lock:
            made = self._made.get(row)
            if made is None:
                first = len(self._sysmon)
                if row < first:
                    made = _sysmon_access(self._model, row)
                else:
                    self._sweep(self._b_of[row - first])
                    made = _open_access(self._model, self._opens[self._lone[row - first]], self._named(row))
                if len(self._made) >= KEEP:
                    self._made.clear()
                self._made[row] = made
            return made

    def __len__(self) -> int:
        with self._lock:
            while self._next_group():
                pass
            return len(self._order)

    @overload
    def __getitem__(self, index: int) -> AccessGroup: ...

    @overload
    def __getitem__(self, index: slice) -> list[AccessGroup]: ...

    def __getitem__(self, index: int | slice) -> AccessGroup | list[AccessGroup]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        with self._lock:
            if index < 0:
                index += len(self)
            g = self._group(index) if index >= 0 else None
            if g is None:
                raise IndexError(index)
            rows = self._rows_of(g)
            accesses = tuple(self._access_of(row) for row in rows)
            return AccessGroup(self._g_key[g][1], accesses[0].computer, self._g_risk[g], accesses)

    def _access_of(self, row: int) -> ProcessAccess:
        made = self._made.get(row)
        return made if made is not None else _make(self, row)

    def __iter__(self) -> Iterator[AccessGroup]:
        n = 0
        while True:
            try:
                group = self[n]
            except IndexError:
                return
            yield group
            n += 1

    def total_known(self) -> int | None:
        """How many accesses the list holds, if known without sweeping more buckets."""
        with self._lock:
            if self._b_selves:
                return None
            return self._sysmon_rows + len(self._lone) - self._selves

    def total(self) -> int:
        """How many accesses the list holds (sweeps the buckets where a source may be its target,
        one at a time, the instances alive looked up without the lock: a line drawn meanwhile
        waits for one bucket's filing at most)."""
        while True:
            with self._lock:
                if not self._b_selves:
                    return self._sysmon_rows + len(self._lone) - self._selves
                b = min(self._b_selves)
            found = self._alive_in(b)  # (a line drawn meanwhile may sweep it first: then unused)
            with self._lock:
                self._sweep(b, found)

    def line_count(self, limit: int) -> int:
        """How many lines the list's first `limit` make: `limit` at once when the accesses that
        cannot be of a process to itself alone fill it."""
        with self._lock:
            if self._sysmon_rows + len(self._lone) - self._candidates >= limit:
                return limit
            self._lay_out(limit)
            return min(len(self._lines), limit)

    def item(self, line: int) -> Item:
        """What line `line` shows (IndexError past the last)."""
        with self._lock:
            self._lay_out(line + 1)
            if line >= len(self._lines):
                raise IndexError(line)
            g, row, dup = self._lines[line]
            if row < 0:
                rows = self._rows_of(g)
                first = self.access(rows[0])
                return "group", GroupHead(self._g_key[g][1], first.computer, self._g_risk[g], len(rows), first)
            access = self.access(row)
            return ("access", access) if dup < 0 else ("dup", access.duplications[dup])

    def _lay_out(self, lines: int) -> None:
        """Lay out lines until there are `lines` (or no more): a group's heading, then each of
        its accesses followed by the 4690s that duplicated its handle."""
        out = self._lines
        at, next_row = self._laid
        while len(out) < lines:
            if at >= len(self._order) and not self._next_group():
                break
            g = self._order[at]
            rows = self._rows_of(g)
            if next_row < 0:
                out.append((g, -1, -1))
                next_row = 0
            while next_row < len(rows) and len(out) < lines:
                row = rows[next_row]
                out.append((g, row, -1))
                out.extend((g, row, j) for j in range(min(self._duplicated(row), MAX_DUPLICATIONS)))
                next_row += 1
            if next_row >= len(rows):
                at, next_row = at + 1, -1
        self._laid = (at, next_row)

    def _duplicated(self, row: int) -> int:
        """How many 4690s duplicated the handle of row `row`'s access (without making it)."""
        model, first = self._model, len(self._sysmon)
        count = duplication_count_reader(model.handles)
        if row >= first:
            return count(self._opens.handle[self._lone[row - first]])
        twins = model.access_tracker.twins.get(self._sysmon[row].ref.store_id, [])
        twin = twins[0] if twins else None
        return count(twin.handle) if twin is not None and twin.handle is not None else 0


def _make(listing: AccessList, row: int) -> ProcessAccess:
    """An access made for a group read whole (not kept: the digest reads every one)."""
    first = len(listing._sysmon)  # noqa: SLF001 - the list's own helper
    if row < first:
        return _sysmon_access(listing._model, row)  # noqa: SLF001
    opened = listing._opens[listing._lone[row - first]]  # noqa: SLF001 - the list's own helper
    return _open_access(listing._model, opened, listing._named(row))  # noqa: SLF001


def _sysmon_access(model: CorrelationModel, n: int) -> ProcessAccess:
    """The access of the n-th Sysmon 10 (its target named by the event itself)."""
    tracker = model.access_tracker
    s = tracker.sysmon[n]
    source = model.processes[s.source] if s.source is not None else None
    target = model.processes[s.target] if s.target is not None else None
    twins = tracker.twins.get(s.ref.store_id, [])
    twin = twins[0] if twins else None
    handle = model.handles[twin.handle] if twin is not None and twin.handle is not None else None
    name = target.name if target is not None else s.target_image
    score, why = risk_of(source, name, s.granted)
    return ProcessAccess(
        computer=model.computer_of(s.host), evidence=s.ref, source=source,
        source_pid=source.pid if source else None, target=target, target_pid=target.pid if target else None,
        target_image=target.image if target else s.target_image,
        target_confidence=EXACT if target is not None else MISSING,
        target_reason="named by the Sysmon 10 (TargetProcessGuid, TargetProcessId)" if target is not None
        else "the Sysmon 10 names no target process",
        access=s.granted, rights=rights_text(s.granted),
        twin=twin, handle=handle.index if handle else None,
        duplications=handle.duplications if handle is not None else (), risk=score, why_risky=why,
    )


def _open_access(model: CorrelationModel, o: Open, named: Named) -> ProcessAccess:
    """The access of a 4656 on a Process object without a Sysmon twin, its target `named`."""
    target, confidence, reason = named
    handle = model.handles[o.handle]
    source = model.processes[o.source]
    score, why = risk_of(source, target.name if target else o.target_image, o.mask)
    return ProcessAccess(
        computer=model.computer_of(o.host), evidence=o.ref, source=source, source_pid=source.pid,
        target=target, target_pid=target.pid if target else None,
        target_image=handle.object_name, target_confidence=confidence, target_reason=reason,
        access=o.mask, rights=rights_text(o.mask), twin=None,
        handle=handle.index, duplications=handle.duplications, risk=score, why_risky=why,
    )


def process_accesses(model: CorrelationModel) -> AccessList:
    """Every process access in the model, grouped by target, groups and rows by risk (made as
    read: see the module docstring)."""
    return AccessList(model)
