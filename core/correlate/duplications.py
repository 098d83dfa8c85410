"""The Handles list: every 4690 of the model with its processes and handles resolved, made as it is read.

`CorrelationModel.handle_duplications` gives a `DuplicationList`: it knows at once how many
4690s the model holds (their positions in the facts table, found at C speed) and makes each
`Duplication` when it is read, equal to what the model made for it before (the same links, from
the same facts). The Handles view shown from the model reads its count and the lines on screen
(making all 22,000 of a million-event log was most of the view's time, 0.35 s of CPU, and the
tables' writer shared the GIL meanwhile); the tables' writer reads all of them, a chunk at a time.
The last `KEEP` made are remembered (the screen reads its lines again as it redraws), not all:
each holds its processes and handles, and keeping every one of a 10M-event log's 220,000 held
~0.2 GB after the writer had read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from core.correlate.links import Duplication, HandleLink, ProcessLink, SessionLink
from core.correlate.processes import MISSING

if TYPE_CHECKING:
    from core.correlate.facts import Facts, FactsTable
    from core.correlate.sessions import SessionChoice

#: Duplications made at once when the list is read in order (one column read of the facts each).
CHUNK = 4096
#: Duplications remembered once made (all forgotten when full), and process/session links: a
#: screen shows a few dozen lines; 8,192 and 16,384 held 14 MB more of the writer's heap at its
#: end (with the Process access list's `KEEP`, 1M churn events, bench/first_peak.py).
KEEP = 1 << 10
LINKS_KEPT = 1 << 11

PLink = Callable[[int | None, int | None, str | None], ProcessLink | None]
HandlesOf = Callable[["Facts"], tuple[HandleLink | None, HandleLink | None]]


class _Maker:
    """Makes the `Duplication` of a 4690's `Facts` with the model's resolvers. Links are frozen:
    one object per distinct process or session link, shared by the 4690s naming it (fewer to
    make, and less to hold, at a million events)."""

    def __init__(self, plink: PLink, session_of: Callable[[SessionChoice | None], SessionLink | None],
                 dup_handles: HandlesOf) -> None:
        self._plink, self._session_of, self._dup_handles = plink, session_of, dup_handles
        self._plinks: dict[tuple[int | None, int | None, str | None], ProcessLink | None] = {}
        self._slinks: dict[SessionChoice, SessionLink | None] = {}
        self._missing_p = ProcessLink(None, None, MISSING, "the 4690 carries no process id")
        self._missing_h = HandleLink(None, None, MISSING, "the 4690 carries no handle id")

    def __call__(self, found: Facts) -> Duplication:
        plinks, slinks = self._plinks, self._slinks
        if len(plinks) >= LINKS_KEPT:
            plinks.clear()
        if len(slinks) >= LINKS_KEPT:
            slinks.clear()
        key = (found.source_pid, found.source_proc, found.source_note)
        source = plinks[key] if key in plinks else plinks.setdefault(key, self._plink(*key))
        key = (found.target_pid, found.target_proc, found.target_note)
        target = plinks[key] if key in plinks else plinks.setdefault(key, self._plink(*key))
        choice = found.session
        session = None if choice is None else slinks.get(choice) or slinks.setdefault(choice, self._session_of(choice))
        sh, th = self._dup_handles(found)
        return Duplication(found.ref, found.computer, source or self._missing_p, target or self._missing_p,
                           sh or self._missing_h, th or self._missing_h, session)


class DuplicationList(Sequence[Duplication]):
    """Read-only, in time order, each item made when read (see the module docstring). A slice is
    another list over the same items (sharing what is remembered); it compares equal to any
    sequence of the same duplications, as the list it stands for did. Safe to read from two
    threads: one may make an item the other makes too, equal, and one of them is kept."""

    __slots__ = ("_facts", "_hi", "_lo", "_made", "_make", "_positions")

    def __init__(self, facts: FactsTable, positions: Sequence[int], make: Callable[[Facts], Duplication],
                 made: dict[int, Duplication] | None = None, lo: int = 0, hi: int | None = None) -> None:
        self._facts, self._positions, self._make = facts, positions, make
        #: The last made, by position in `_positions` (`KEEP` at most).
        self._made: dict[int, Duplication] = made if made is not None else {}
        self._lo = lo
        self._hi = len(positions) if hi is None else hi

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> Duplication: ...

    @overload
    def __getitem__(self, index: slice) -> DuplicationList: ...

    def __getitem__(self, index: int | slice) -> Duplication | DuplicationList:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:  # (items of its own)
                return DuplicationList(self._facts, [self._positions[self._lo + i] for i in range(start, stop, step)],
                                       self._make)
            return DuplicationList(self._facts, self._positions, self._make, self._made, self._lo + start,
                                   self._lo + max(start, stop))
        n = len(self)
        if not -n <= index < n:
            raise IndexError(index)
        at = self._lo + (index % n)
        made = self._made.get(at)
        return made if made is not None else self._items(at, at + 1)[0]

    def _items(self, lo: int, hi: int) -> list[Duplication]:
        """The items lo..hi-1: those not remembered are made, and the last `KEEP` made remembered."""
        made = self._made
        out = [made.get(at) for at in range(lo, hi)]
        missing = [i for i, item in enumerate(out) if item is None]
        if not missing:
            return out  # type: ignore[return-value]
        positions = self._positions
        for i, found in zip(missing, self._facts.facts_at([positions[lo + i] for i in missing]), strict=True):
            out[i] = self._make(found)
        if len(made) + len(missing) > KEEP:
            made.clear()
        for i in missing[-KEEP:]:
            made[lo + i] = out[i]  # type: ignore[assignment]
        return out  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Duplication]:
        for lo in range(self._lo, self._hi, CHUNK):
            yield from self._items(lo, min(lo + CHUNK, self._hi))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[Duplication]) -> list[Duplication]:
        return [*self, *other]

    def __mul__(self, times: int) -> list[Duplication]:
        return list(self) * times

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"DuplicationList({len(self)} 4690s)"


def duplication_list(facts: FactsTable, duplicates: frozenset[int], plink: PLink,
                     session_of: Callable[[SessionChoice | None], SessionLink | None],
                     dup_handles: HandlesOf) -> DuplicationList:
    """The `DuplicationList` of the events of EventIDs `duplicates` in `facts`."""
    return DuplicationList(facts, facts.positions_of(duplicates), _Maker(plink, session_of, dup_handles))
