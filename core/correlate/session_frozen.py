"""A model's sessions once the scan is done: columns, each `Session` made when it is read.

Frozen as one object each (with its logoffs' `RefColumn` and its processes' `Indexes`) the
sessions were ~23 MB of the model at ten million churn events (53,000 sessions), held for its
life, and a busy domain controller logs a logon every few seconds. `FrozenSessions` keeps the
columns the tracker filled while it scanned (`SessionColumns`: computer, logon id, positions of
the 4624 and 4672, what the 4624 says as one shared tuple) and each session's logoffs and
processes as slices of two flat arrays: ~50 bytes a session. A session read is equal, field for
field, to the one frozen before; the last `MADE` read by index are kept, so that the events of
one session asked for it in turn share one object.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Final, overload

from core.correlate.evidence import Ref
from core.correlate.indexes import At, IndexesAt
from core.correlate.refcolumn import RefColumn, RefSource
from core.correlate.session import Session
from core.correlate.session_columns import Ints, Said, SessionColumns

#: Sessions kept made (emptied when full).
MADE: Final = 4096
#: Where a `Said` holds the linked logon id (`session_columns.Said`: its last field).
_LINKED: Final = 9


class FrozenSessions(Sequence[Session]):
    """The sessions of `columns` (row n: session n) with their processes (`members`: indexes
    per session), their events read from `facts`; see the module doc."""

    __slots__ = ("_computer", "_computers", "_ends", "_facts", "_logon_at", "_logon_id", "_made", "_members",
                 "_members_from", "_offs", "_offs_from", "_privileges_at", "_said", "_said_at")

    def __init__(self, columns: SessionColumns, members: Mapping[int, Sequence[int]], facts: RefSource,
                 ends: Mapping[int, Ref] | None = None) -> None:
        n = len(columns)
        self._computer = columns.place
        self._computers = [computer for _, computer in columns.places]
        self._logon_id = Ints()
        for lid in columns.logon_id:
            self._logon_id.append(lid)
        self._logon_at, self._privileges_at = columns.logon_at, columns.privileges_at
        self._said_at: array[int] = columns.said_at
        self._said: list[Said] = columns.said
        # Session i's logoffs are _offs[_offs_from[i]:_offs_from[i + 1]], its processes likewise.
        self._offs, self._offs_from = array("q"), array("q", [0])
        self._members, self._members_from = array("q"), array("q", [0])
        off_first = columns.off_first
        for idx in range(n):
            if off_first[idx] >= 0:  # (most sessions have none)
                self._offs.extend(columns.logoffs_at(idx))
            self._offs_from.append(len(self._offs))
            got = members.get(idx)
            if got:
                self._members.extend(got)
            self._members_from.append(len(self._members))
        self._facts = facts
        #: The restart that ended each session ended by one (`Session.restart`): a few per restart.
        self._ends: Mapping[int, Ref] = ends or {}
        self._made: dict[int, Session] = {}

    def __len__(self) -> int:
        return len(self._logon_at)

    @overload
    def __getitem__(self, index: int) -> Session: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Session, ...]: ...

    def __getitem__(self, index: int | slice) -> Session | tuple[Session, ...]:
        if isinstance(index, slice):
            return tuple(map(self._session, range(len(self))[index]))
        n = len(self)
        if not -n <= index < n:
            raise IndexError(index)
        return self._session(index % n)

    def __iter__(self) -> Iterator[Session]:
        # Made without being kept: a walk through all would only churn the sessions kept.
        made = self._made
        for idx in range(len(self)):
            yield made.get(idx) or self._make(idx)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (FrozenSessions, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"FrozenSessions({len(self)} sessions)"

    # -- read from the columns, no session made (a walk through every session for one field
    # -- made each: the Sessions view's walks took 1.7 s at 53,000 sessions instead of 0.4) --

    @property
    def facts(self) -> RefSource:
        """Where the sessions' events are (`Session.facts` of each)."""
        return self._facts

    def computer_names(self) -> list[str]:
        """The computers of the sessions as logged, each once."""
        return list(self._computers)

    def keys(self) -> Iterator[tuple[str, int, int | None]]:
        """(computer as logged, logon id, linked logon id) of each session, in order."""
        computers, said, said_at, lids = self._computers, self._said, self._said_at, self._logon_id
        for idx, place in enumerate(self._computer):
            lid = lids[idx]
            assert lid is not None
            yield computers[place], lid, said[said_at[idx]][_LINKED]

    def positions(self) -> list[int]:
        """Where each session starts in the facts table: its 4624, else its 4672 (-1: neither)."""
        return [logon if logon >= 0 else privileges for logon, privileges in zip(self._logon_at, self._privileges_at,
                                                                                 strict=True)]

    def processes_by_session(self) -> dict[int, IndexesAt]:
        """The processes of each session that has any, by its index."""
        bounds = self._members_from
        return {idx: IndexesAt(self._members, lo, hi)
                for idx, (lo, hi) in enumerate(pairwise(bounds)) if hi > lo}

    def _session(self, idx: int) -> Session:
        made = self._made.get(idx)
        if made is None:
            made = self._make(idx)
            if len(self._made) >= MADE:
                self._made.clear()
            self._made[idx] = made
        return made

    def _make(self, idx: int) -> Session:
        lid = self._logon_id[idx]
        assert lid is not None  # (a session's logon id is an int)
        lo, hi = self._offs_from[idx], self._offs_from[idx + 1]
        first, last = self._members_from[idx], self._members_from[idx + 1]
        return Session(
            idx,
            self._computers[self._computer[idx]],
            lid,
            self._logon_at[idx],
            RefColumn(self._facts, self._offs[lo:hi]) if hi > lo else (),
            self._privileges_at[idx],
            *self._said[self._said_at[idx]],
            IndexesAt(self._members, first, last) if last > first else (),
            self._facts,
            self._ends.get(idx),
        )


class SessionsAt(At[Session]):
    """The sessions at `indexes` of a model's, each made when read (`At`): a tree shows the
    first and last few of a thousand network logons, the Sessions list the rows on screen."""

    __slots__ = ()


def session_computers(sessions: Sequence[Session]) -> list[str]:
    """The computers of `sessions` as logged, each once (read from the columns when they are)."""
    if isinstance(sessions, FrozenSessions):
        return sessions.computer_names()
    return list(dict.fromkeys(s.computer for s in sessions))


def session_keys(sessions: Sequence[Session]) -> Iterator[tuple[str, int, int | None]]:
    """(computer as logged, logon id, linked logon id) of each of `sessions`, in order."""
    if isinstance(sessions, FrozenSessions):
        return sessions.keys()
    return ((s.computer, s.logon_id, s.linked_logon_id) for s in sessions)


def processes_by_session(sessions: Sequence[Session]) -> dict[int, Sequence[int]]:
    """The processes of each of `sessions` that has any, by its index."""
    if isinstance(sessions, FrozenSessions):
        return dict(sessions.processes_by_session())
    return {s.index: s.processes for s in sessions if s.processes}
