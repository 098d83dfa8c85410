"""Process access: every handle one process opened to another, and the credential-access chain.

(About 520 lines: the join of a 4656 with its Sysmon 10 and the paths it compares are one rule,
read best beside the tracker whose buckets it fills.)

Sysmon 10 (ProcessAccess: source, target, GrantedAccess) and the Security 4656 of a handle on a
Process object are one access seen twice when the same source process instance opens the same
target image at the same moment: they are joined (`AccessTracker.join`). The same image is the
same full path: a 4656 names it as a device path (`\\Device\\HarddiskVolume2\\Windows\\...`),
Sysmon as a drive path (`C:\\Windows\\...`), and which volume is which drive is not in the log,
so the paths are compared below their volumes (`target_path`); two drive (or two device) paths
compare their volumes too. A `lsass.exe` outside System32 is never the real one's twin; a path
naming no volume (a bare file name) is paired by its file name alone, inferred. Measured on the OTRF
datasets in ../shared/samples (17 pairs, covenant_psremoting and aptsimulator_cobaltstrike):
the 4656 is logged 0 to 10 ms before its Sysmon 10, with the same access mask in 13 of them
(Sysmon logs one event per OpenProcess call, so a 4656 may stand beside several Sysmon 10s of
other masks). A 4656 names its target only by image path (ObjectName), so its target process
comes from its Sysmon twin, else from the instance of that image alive at the time.

`core.correlate.access_list` lists them for the "Process access" view, grouped by target and
ranked by risk (`core.correlate.access_risk`): lsass first, then rights that read (or write)
memory, a non-system source, an unusual source image. 4690 duplications of a 4656 handle hang
under its row. Here: the tracker's join, the rows' types, and the per-image index of instances
(their lives by start and end: `core.correlate.image_lives`) that names a 4656's target.
"""

from __future__ import annotations

import bisect
import functools
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.correlate.columns import Index
from core.correlate.image_lives import Lives
from core.correlate.open_columns import Open, OpenColumns
from core.correlate.process_instance import process_label, process_name
from core.correlate.process_table import ProcessTable
from core.correlate.processes import (
    AMBIGUOUS,
    EXACT,
    INFERRED,
    MISSING,
    TICKS_PER_SECOND,
    Process,
    Ref,
    basename,
    pid_text,
)
from core.model.access import process_rights

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel
    from core.correlate.refcolumn import RefSource

#: How far apart a Sysmon 10 and the 4656 of the same access may be logged (measured: 10 ms).
ACCESS_WINDOW = TICKS_PER_SECOND // 2

#: A path's volume and the path below it, case-folded (`target_path`).
Place = tuple[str, str]

_DRIVE = re.compile(r"([a-z]:)(\\.+)")
_DEVICE = re.compile(r"(\\device\\[^\\]+)(\\.+)")
#: The prefixes of a Win32 path in the object manager's namespace (`\\??\\C:\\...`).
_WIN32_PREFIXES = ("\\\\?\\", "\\??\\", "\\\\.\\")


def target_path(path: str | None) -> Place | None:
    """(volume, the path below it) of an image path, case-folded: `\\Device\\HarddiskVolume2\\Windows\\a.exe`
    is ("\\device\\harddiskvolume2", "\\windows\\a.exe"), `C:\\Windows\\a.exe` ("c:", "\\windows\\a.exe"), a
    UNC path `\\\\server\\share\\a.exe` ("\\\\", "\\server\\share\\a.exe"), as `\\Device\\Mup\\server\\...` is
    below its volume. None for a path naming no volume (a bare file name, `%SystemRoot%\\...`)."""
    if not path:
        return None
    text = path.strip().replace("/", "\\").casefold()
    for prefix in _WIN32_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            if text.startswith("unc\\"):
                text = "\\" + text[3:]
            break
    if text.startswith("\\\\"):
        return ("\\\\", text[1:]) if len(text) > 2 else None
    m = _DRIVE.fullmatch(text) or _DEVICE.fullmatch(text)
    return (m.group(1), m.group(2)) if m else None


def same_place(a: Place | None, b: Place | None) -> bool | None:
    """Whether two `target_path`s are one file: the same path below the volume, and the same
    volume when both are drives or both devices (a drive and a device may be one volume: which
    is not in the log). None when either is unknown."""
    if a is None or b is None:
        return None
    if a[1] != b[1]:
        return False
    return a[0] == b[0] or _kind(a[0]) != _kind(b[0])


def _kind(volume: str) -> str:
    return "drive" if volume.endswith(":") else "unc" if volume == "\\\\" else "device"


@dataclass(slots=True)
class _Sysmon10:
    ref: Ref
    host: str
    source: int | None
    target: int | None
    target_image: str
    granted: int | None
    #: Its TargetImage's `target_path` (one tuple for all the accesses to a path).
    path: Place | None = None


@dataclass(frozen=True, slots=True)
class Twin:
    """The other record of the same access: for a Sysmon 10 its 4656 (`handle` is the handle
    index), for a 4656 one of its Sysmon 10s (`handle` None)."""

    ref: Ref
    handle: int | None
    confidence: str
    reason: str


class AccessTracker:
    """Collects Sysmon 10s and 4656s on Process objects during the scan; `join` pairs them."""

    def __init__(self, refs: RefSource) -> None:
        self.sysmon: list[_Sysmon10] = []
        #: The 4656s on Process objects, their records read from `refs` (the facts table).
        self.opens = OpenColumns(refs)
        #: Twins by the store id of either record.
        self.twins: dict[int, list[Twin]] = {}
        #: The opens' store ids sorted, and the index in `opens` of each (`opens_of`).
        self._ids: tuple[array[int], array[int]] | None = None
        #: Image path -> its file name folded, one string for all the accesses to it (a string
        #: each: 8 MB at ten million events).
        self._folded: dict[str | None, str] = {}
        #: Image path -> its `target_path`, one tuple for all the accesses to it; the opens' as
        #: indexes of `_places` (beside `opens`, in its order).
        self._paths: dict[str | None, Place | None] = {}
        self._places: Index[Place | None] = Index()
        self._open_place = array("i")

    def opens_of(self, store_id: int) -> list[Open]:
        """The 4656s on Process objects of store id `store_id` (the event trees' links read them):
        found in the store ids sorted once, an array each (as a dict of lists, 20 MB at ten
        million events)."""
        opens = self.opens
        ids, order = self._sorted_ids()
        lo = bisect.bisect_left(ids, store_id)
        hi = bisect.bisect_right(ids, store_id, lo)
        return [opens[order[i]] for i in range(lo, hi)]

    def _sorted_ids(self) -> tuple[array[int], array[int]]:
        """The opens' store ids sorted, and the index in `opens` of each, made once."""
        if self._ids is None:
            opens = self.opens
            ids = array("q", (opens.store_id(i) for i in range(len(opens))))
            by_id = sorted(range(len(opens)), key=ids.__getitem__)  # stable: scan order
            self._ids = (array("q", (ids[i] for i in by_id)), array("q", by_id))
        return self._ids

    def accessed(self, ref: Ref, host: str, source: int | None, target: int | None, target_image: str | None,
                 granted: int | None) -> None:
        self.sysmon.append(_Sysmon10(ref, host, source, target, _folded(self._folded, target_image), granted,
                                     self._path(target_image)))

    def _path(self, image: str | None) -> Place | None:
        """`target_path(image)`, remembered."""
        paths = self._paths
        if image in paths:
            return paths[image]
        place = paths[image] = target_path(image)
        return place

    def open_path(self, i: int) -> Place | None:
        """The `target_path` of the object name of open `i` (of `opens`)."""
        return self._places.distinct[at] if (at := self._open_place[i]) >= 0 else None

    def place_of(self, store_id: int) -> Place | None:
        """The `target_path` of the object name of the 4656 of store id `store_id` (None for
        another event, or a path naming no volume)."""
        if not len(self.opens):
            return None
        ids, order = self._sorted_ids()
        at = bisect.bisect_left(ids, store_id)
        return self.open_path(order[at]) if at < len(ids) and ids[at] == store_id else None

    def opened(self, position: int, key: tuple[int, int], host: str, source: int, handle: int,
               object_name: str | None, mask: int | None) -> None:
        """The 4656 at `position` of the facts table (its `Ref.key` `key`) opened `handle` on a
        Process object."""
        self.opens.append(position, key, host, source, handle, _folded(self._folded, object_name), mask)
        self._open_place.append(self._places[self._path(object_name)])
        self._ids = None

    def join(self) -> None:
        """Pair Sysmon 10s and 4656s one to one: same source instance and target image (the same
        path: `same_place`; a path naming no volume only by its file name, inferred), logged
        within ACCESS_WINDOW; first those with the same access mask, then (inferred) what is
        left with another mask. Among equally near candidates the first in log order wins, so
        eight identical opens at the same moment pair with eight Sysmon 10s in order (a
        candidate whose path is known to be the same before one whose path cannot be told)."""
        if not self.sysmon or not self.opens:
            return
        opens = self.opens
        buckets: dict[tuple[int, str], list[int]] = {}
        for i, source in enumerate(opens.source):
            buckets.setdefault((source, opens.image(i)), []).append(i)
        times: dict[tuple[int, str], list[int]] = {}
        keys: dict[int, tuple[int, int]] = {}  # (ts, order) of the opens in a bucket some Sysmon 10 may join
        wanted = {(s.source, s.target_image) for s in self.sysmon if s.source is not None}
        for key, idxs in buckets.items():
            if key not in wanted:
                continue
            for i in idxs:
                keys[i] = opens.key(i)
            idxs.sort(key=keys.__getitem__)
            times[key] = [keys[i][0] for i in idxs]
        taken: set[int] = set()
        linked: set[int] = set()
        for same_mask in (True, False):
            for n, s in enumerate(self.sysmon):
                if s.source is None or n in linked:
                    continue
                key = (s.source, s.target_image)
                bucket = buckets.get(key)
                if not bucket:
                    continue
                lo = bisect.bisect_left(times[key], s.ref.ts - ACCESS_WINDOW)
                hi = bisect.bisect_right(times[key], s.ref.ts + ACCESS_WINDOW)
                # Each near open's path against the Sysmon 10's: False (another file) is no twin.
                near: list[int] = []
                unsure: set[int] = set()
                for i in bucket[lo:hi][:256]:
                    if (opens.mask(i) == s.granted) != same_mask:
                        continue
                    same = same_place(self.open_path(i), s.path)
                    if same is False:
                        continue
                    near.append(i)
                    if same is None:
                        unsure.add(i)
                cands = [i for i in near if i not in taken]
                if not cands:
                    continue
                best = min(cands, key=lambda i: (i in unsure, abs(keys[i][0] - s.ref.ts), keys[i][1]))
                o = opens[best]
                gap = abs(o.ref.ts - s.ref.ts)
                ties = sum(1 for i in near if abs(keys[i][0] - s.ref.ts) == gap and (i in unsure) == (best in unsure))
                apart = f"logged {gap / (TICKS_PER_SECOND / 1000):.0f} ms apart"
                if best in unsure:
                    path = "the Sysmon 10's TargetImage" if s.path is None else "the 4656's ObjectName"
                    masks = (f"same access mask {pid_text(s.granted)}" if same_mask else
                             f"the 4656 asks for {pid_text(o.mask)} and Sysmon grants {pid_text(s.granted)}")
                    confidence, reason = INFERRED, (
                        f"same source process and target file name {s.target_image}, {apart}, {masks}; {path} names "
                        "no volume: the full paths cannot be compared")
                    taken.add(best)
                    linked.add(n)
                    self._pair(s, o, confidence, reason)
                    continue
                what = f"same source process and target image, {apart}"
                if not same_mask:
                    confidence, reason = INFERRED, (f"{what}, but the 4656 asks for {pid_text(o.mask)} and Sysmon "
                                                    f"grants {pid_text(s.granted)}")
                elif ties > 1:
                    confidence, reason = INFERRED, (f"{what}, same access mask {pid_text(s.granted)}; {ties} such "
                                                    "4656s are equally near: paired in log order")
                else:
                    confidence, reason = EXACT, f"{what}, same access mask {pid_text(s.granted)}"
                taken.add(best)
                linked.add(n)
                self._pair(s, o, confidence, reason)

    def _pair(self, s: _Sysmon10, o: Open, confidence: str, reason: str) -> None:
        self.twins.setdefault(s.ref.store_id, []).append(Twin(o.ref, o.handle, confidence, reason))
        self.twins.setdefault(o.ref.store_id, []).append(Twin(s.ref, None, confidence, reason))


@dataclass(frozen=True, slots=True)
class ProcessAccess:
    """One handle opened by a process to another: a Sysmon 10 (with its 4656 twin when joined)
    or a 4656 on a Process object that Sysmon did not see. `evidence` opens its correlation."""

    computer: str
    evidence: Ref
    source: Process | None
    source_pid: int | None
    target: Process | None
    target_pid: int | None
    target_image: str | None
    target_confidence: str
    target_reason: str
    access: int | None
    rights: str
    twin: Twin | None
    handle: int | None
    duplications: Sequence[Ref]
    risk: int
    why_risky: tuple[str, ...]

    @property
    def source_name(self) -> str:
        return self.source.name if self.source is not None else "?"

    @property
    def target_name(self) -> str:
        if self.target is not None:
            return self.target.name
        return basename(self.target_image) or "?"


@dataclass(frozen=True, slots=True)
class AccessGroup:
    """Every access to one target (process instance, else image), riskiest first."""

    target: str
    computer: str
    risk: int
    accesses: tuple[ProcessAccess, ...]


@functools.lru_cache(maxsize=4096)
def rights_text(mask: int | None) -> str:
    """`process_rights`, remembered: a log asks for a few masks thousands of times (decoding
    them each time was a fifth of the view's time at a million events)."""
    return process_rights(mask) if mask is not None else "?"


#: A 4656's target instance (None unless exactly one is alive), confidence and reason.
Named = tuple[Process | None, str, str]


def process_named(model: CorrelationModel, computer: str, image: str, ref: Ref) -> Named:
    """The instance of the image file name `image` alive on `computer` at `ref` (a 4656 on a
    Process object names its target by path only), with the confidence and reason: of the same
    path as the 4656's ObjectName (`target_path`), when `ref` is a 4656 the tracker holds."""
    path = model.access_tracker.place_of(ref.store_id)
    return _named(model, computer, image, image_index(model).alive(computer, image, ref.key), path)


def targets_named(model: CorrelationModel, asked: Sequence[tuple[str, str, Ref]]) -> list[Named]:
    """`process_named` of each (computer, image, ref) of `asked`, in one sweep through time per
    image rather than a look-up each: the tree walks of 14,000 look-ups were most of the
    Process access view's second at a million events."""
    by_image: dict[tuple[str, str], list[int]] = {}
    for n, (computer, image, _) in enumerate(asked):
        by_image.setdefault((computer, image), []).append(n)
    index = image_index(model)
    tracker = model.access_tracker
    out: list[Named] = [(None, MISSING, "")] * len(asked)
    for (computer, image), ns in by_image.items():
        found = index.first_alive(computer, image, [asked[n][2].key for n in ns], _LISTED + 1)
        # 4656s close in time see the same instances alive
        made: dict[tuple[tuple[int, ...], Place | None], Named] = {}
        for n, alive in zip(ns, found, strict=True):
            path = tracker.place_of(asked[n][2].store_id)
            seen = (tuple(alive), path)
            answer = made.get(seen)
            if answer is None:
                answer = made[seen] = _named(model, computer, image, alive, path)
            out[n] = answer
    return out


#: How many of several instances alive a reason lists.
_LISTED = 8


def image_index(model: CorrelationModel) -> ImageIndex:
    """The model's `ImageIndex`, made on first use (and again after `release_lists`: read once,
    as another thread may let it go meanwhile)."""
    index = model.by_image
    if index is None:
        index = model.by_image = ImageIndex(model.processes)
    return index


def _named(model: CorrelationModel, computer: str, image: str, alive: list[int], path: Place | None = None) -> Named:
    """The answer of `process_named` from the indexes alive (ascending; the first few suffice),
    those of another file than `path` (the 4656's ObjectName) left out, and named."""
    alive, other = on_path(model, alive, path)
    elsewhere = f"; {_labels(model, other)}: another file" if other else ""
    if len(alive) == 1:
        return (model.processes[alive[0]], INFERRED,
                f"the only {image} alive at this time (the 4656 names its target by path only){elsewhere}")
    if alive:
        return None, AMBIGUOUS, f"several {image} alive at this time: {_labels(model, alive)}{elsewhere}"
    if other:
        return None, MISSING, (f"no {image} of the 4656's path alive on {computer} at this time in this log"
                               f"{elsewhere}")
    return None, MISSING, f"no {image} alive on {computer} at this time in this log"


def _labels(model: CorrelationModel, indexes: list[int]) -> str:
    """The labels of the first `_LISTED` of `indexes`, listed."""
    processes, shown = model.processes, indexes[:_LISTED]
    if isinstance(processes, ProcessTable):  # read from the columns: no `Process` made for a label
        return ", ".join(map(process_label, processes.values("pid", shown), processes.values("image", shown)))
    return ", ".join(processes[i].label for i in shown)


def on_path(model: CorrelationModel, alive: list[int], path: Place | None) -> tuple[list[int], list[int]]:
    """`alive` split into the instances that may be the file `path` (`same_place`: their image's
    path is the same, or either cannot be told) and those that are another file (a lsass.exe
    outside System32 is not the real one)."""
    if path is None or not alive:
        return alive, []
    processes = model.processes
    images = (processes.values("image", alive) if isinstance(processes, ProcessTable)
              else [processes[i].image for i in alive])
    kept: list[int] = []
    other: list[int] = []
    for i, image in zip(alive, images, strict=True):
        (other if same_place(_image_path(image), path) is False else kept).append(i)
    return kept, other


@functools.lru_cache(maxsize=4096)
def _image_path(image: str | None) -> Place | None:
    """`target_path`, remembered: the instances alive are the same few images over and over."""
    return target_path(image)


class ImageIndex:
    """Process instances by (computer, image file name), case-folded, to find those alive at a
    time without scanning every instance of the image: a busy log has thousands of svchost.exe
    or cmd.exe instances per computer and a 4656 on a Process object per few hundred events, so
    a scan per 4656 grows with the square of the log. Each image's instances are sorted by start
    (none = before the log) with a tree of the latest end (none = to the end of the log) over
    that order: a look-up visits only the branches holding an instance still alive."""

    def __init__(self, processes: Sequence[Process]) -> None:
        self._processes = processes
        #: Instance indexes under each (computer, file name): no `Process` held, no boxed int (as
        #: lists, 20 MB at ten million events).
        names: dict[tuple[str, str], array[int]] = {}
        #: The names (`Process.name`, as logged) of the instances under each key.
        called: dict[tuple[str, str], set[str]] = {}
        folded: dict[str | None, str] = {}  # image path -> folded file name: thousands share a path
        # Most instances have one image path and no other name: grouped by (computer, path) first
        # (no set, no folding per instance), each group then filed under its path's file name.
        by_path: dict[tuple[str, str], array[int]] = {}
        fields: Iterable[tuple[str, str | None, tuple[tuple[str, Ref | int], ...] | None, int]]
        indexes: Iterable[int]
        if isinstance(processes, ProcessTable):  # read from the columns, none made; most grouped there
            by_path, odd = processes.path_groups()
            indexes = odd
            fields = zip(processes.values("computer", odd), processes.values("image", odd),
                         processes.values("names_at", odd), processes.values("pid", odd), strict=True)
        else:
            indexes = range(len(processes))
            fields = ((p.computer, p.image, p.names_at, p.pid) for p in processes)
        for i, (logged, image, names_at, pid) in zip(indexes, fields, strict=True):
            if names_at is None and image:
                group = by_path.get((logged, image))
                if group is None:
                    by_path[(logged, image)] = array("q", [i])
                else:
                    group.append(i)
                continue
            # `names_at` rather than `names`: the file names without making each naming record.
            paths = (image,) if names_at is None else (n for n, _ in names_at)
            name = process_name(pid, image)
            own = {name.casefold() if not image else _folded(folded, image) or "?"}  # p.name, folded
            for path in paths:
                own.add(_folded(folded, path))
            computer = logged.casefold()
            for folded_name in own:
                filed = names.get((computer, folded_name))
                if filed is None:
                    filed = names[(computer, folded_name)] = array("q")
                filed.append(i)
                called.setdefault((computer, folded_name), set()).add(name)
        for (computer, image), group in by_path.items():
            name = basename(image) or "?"  # `Process.name` of each of the group (an image: not "System")
            for key in {(computer.casefold(), _folded(folded, image) or "?"), (computer.casefold(),
                                                                               _folded(folded, image))}:
                filed = names.get(key)
                if filed is None:
                    filed = names[key] = array("q")
                filed.extend(group if group.typecode == "q" else array("q", group))
                called.setdefault(key, set()).add(name)
        self._by_name = names
        self._called = called
        self._built: dict[tuple[str, str], Lives] = {}

    def names_of(self, computer: str, image: str) -> set[str]:
        """The names (`Process.name`) of the instances `alive` may give for `image` on `computer`."""
        return self._called.get((computer.casefold(), image.casefold()), set())

    def alive(self, computer: str, image: str, at: tuple[int, int]) -> list[int]:
        """Indexes (ascending) of the instances of `image` on `computer` with start <= at <= end."""
        return self._lives(computer, image).alive(at)

    def first_alive(self, computer: str, image: str, ats: list[tuple[int, int]], limit: int, *,
                    keep: bool = True) -> list[list[int]]:
        """For each of `ats`, the `limit` lowest of `alive(computer, image, at)`; `keep` False:
        the image's lives are not kept for the next call (the Process access list sweeps each
        image once: kept, every image's were ~120 MB at ten million events)."""
        return self._lives(computer, image, keep).first_alive(ats, limit)

    def _lives(self, computer: str, image: str, keep: bool = True) -> Lives:
        key = (computer.casefold(), image.casefold())
        lives = self._built.get(key)
        if lives is None:
            lives = Lives(self._processes, self._by_name.get(key, array("q")))
            if keep:
                self._built[key] = lives
        return lives


def _folded(folded: dict[str | None, str], path: str | None) -> str:
    """`basename(path).casefold()`, remembered in `folded`."""
    name = folded.get(path)
    if name is None:
        name = folded[path] = basename(path).casefold()
    return name
