"""What the session tracker knows of each session while the scan runs, in columns.

A busy server logs a logon every few seconds: the 1 GB replica of a real Security log holds
359,000 sessions. As one working object each (`_Session`, with the `Ref`s of its 4624, logoffs
and 4672 and a list of its logoffs) the tracker held about 1 KB per session until the model was
made, and the model's frozen sessions were made while those copies lived (a third of the app's
peak at 1 GB). Here a session is a row of a few `array`s (its computer, logon id, where it
starts, its 4624 and 4672 as positions in the facts table, what its 4624 says as one shared
tuple) and its logoffs rows of their own, linked per session: ~100 bytes a session. Every value
comes back exactly: an int that does not fit 64 bits (or None) is kept aside (`Ints`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from operator import itemgetter
from typing import Final

#: The slot of None (or of a value kept aside) in an `Ints`.
_NONE: Final = -(1 << 63)
_MAX: Final = (1 << 63) - 1
_BOUNDS: Final = (_NONE, _MAX)
#: Sessions whose logoffs `SessionColumns.logoffs` remembers.
LOGOFFS_KEPT: Final = 1024
#: ... and how many logoffs in all (~150 bytes each: a session may have thousands).
LOGOFFS_HELD: Final = 1 << 16
#: A logoff's `Ref.key` in `SessionColumns.logoffs`' tuples.
_KEY: Final = itemgetter(0)

#: What a 4624 says of its session (`Session`'s fields of that name, in this order): user,
#: user_sid, logon_type, ip, workstation, auth_package, lm_package, logon_process,
#: elevated_token, linked_logon_id.
Said = tuple[str | None, str | None, str | None, str | None, str | None, str | None, str | None, str | None,
             bool | None, int | None]
NOTHING_SAID: Final[Said] = (None, None, None, None, None, None, None, None, None, None)


def clamped(value: int) -> int:
    """`value` within 64 bits (the order of values is kept, ties aside)."""
    return _NONE if value < _NONE else _MAX if value > _MAX else value


class Ints:
    """Ints (None allowed) unboxed in an `array('q')`: a value that does not fit, or equals the
    reserved slot, is kept aside, so that each comes back exactly."""

    __slots__ = ("_aside", "_slots")

    def __init__(self) -> None:
        self._slots: array[int] = array("q")
        self._aside: dict[int, int | None] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def append(self, value: int | None) -> None:
        if value is not None and _NONE < value <= _MAX:
            self._slots.append(value)
        else:
            self._aside[len(self._slots)] = value
            self._slots.append(_NONE)

    def __getitem__(self, at: int) -> int | None:
        value = self._slots[at]
        return value if value != _NONE else self._aside[at]

    def slots(self) -> array[int] | None:
        """The raw slots when no value is kept aside (each slot is then its value), else None."""
        return None if self._aside else self._slots


class SessionColumns:
    """The sessions the scan found so far (row n: session n), and their logoffs."""

    def __init__(self) -> None:
        #: (case-folded host, computer as logged) of each session, by index in `places`.
        self.place: array[int] = array("i")
        self.places: list[tuple[str, str]] = []
        self._place_of: dict[tuple[str, str], int] = {}
        #: Its index and logon id as int objects: the frozen session and its answers
        #: (`SessionChoice`) share them, one object each rather than one per holder.
        self.index: list[int] = []
        self.logon_id: list[int] = []
        #: Where the session starts (the event that made it known: its `Ref.key` and record id)
        #: and that event's position in the facts table.
        #: (Its exact `Ref.key` where a part did not fit 64 bits: `start_clamped` and
        #: `order_clamped` are then its bounds.)
        self.start_aside: dict[int, tuple[int, int]] = {}
        #: Its start's time and order clamped to 64 bits (in the same order as the exact ones):
        #: the sessions of a logon id are bisected on them at C speed (`SessionTracker._after`).
        self.start_clamped: array[int] = array("q")
        self.order_clamped: array[int] = array("q")
        self.start_record: list[int | None] = []
        self.start_at: array[int] = array("q")
        #: Positions of its 4624 (which is then its start) and 4672; -1: none.
        self.logon_at: array[int] = array("q")
        self.privileges_at: array[int] = array("q")
        #: What its 4624 (or the event that made it known) says (`Said`), by index in `said`.
        self.said_at: array[int] = array("i")
        self.said: list[Said] = [NOTHING_SAID]
        self._said_of: dict[Said, int] = {NOTHING_SAID: 0}
        #: Its first and last logoff (rows of the `off_*` columns; -1: none).
        self.off_first: array[int] = array("q")
        self.off_last: array[int] = array("q")
        #: Logoffs in the order they were logged: `Ref.key`, EventID, record id, position, and
        #: the next logoff of the same session (-1: none).
        self.off_ts = Ints()
        self.off_order = Ints()
        self.off_event = Ints()
        self.off_record = Ints()
        self.off_at: array[int] = array("q")
        self.off_next: array[int] = array("q")
        #: `logoffs` of the sessions last asked for.
        self._logoffs: dict[int, list[tuple[tuple[int, int], int, int | None]]] = {}
        self._held = 0  # logoffs in `_logoffs` (counted when remembered: a bound, not a tally)

    def __len__(self) -> int:
        return len(self.start_at)

    def add(self, host: str, computer: str, lid: int, key: tuple[int, int], record: int | None, at: int) -> int:
        """A new session starting at the event of `key` (at position `at`); its index."""
        idx = len(self.start_at)
        where = (host, computer)
        place = self._place_of.get(where)
        if place is None:
            place = self._place_of[where] = len(self.places)
            self.places.append(where)
        self.place.append(place)
        self.index.append(idx)
        self.logon_id.append(lid)
        ts, order = clamped(key[0]), clamped(key[1])
        if ts in _BOUNDS or order in _BOUNDS:
            self.start_aside[idx] = key
        self.start_clamped.append(ts)
        self.order_clamped.append(order)
        self.start_record.append(record)
        self.start_at.append(at)
        for column in (self.logon_at, self.privileges_at, self.off_first, self.off_last):
            column.append(-1)
        self.said_at.append(0)
        return idx

    def say(self, idx: int, said: Said) -> None:
        """What the event that made session `idx` known says of it (one tuple per distinct one)."""
        at = self._said_of.get(said)
        if at is None:
            at = self._said_of[said] = len(self.said)
            self.said.append(said)
        self.said_at[idx] = at

    def said_of(self, idx: int) -> Said:
        return self.said[self.said_at[idx]]

    def logoff(self, idx: int, key: tuple[int, int], event_id: int, record: int | None, at: int) -> None:
        row = len(self.off_at)
        self.off_ts.append(key[0])
        self.off_order.append(key[1])
        self.off_event.append(event_id)
        self.off_record.append(record)
        self.off_at.append(at)
        self.off_next.append(-1)
        self._logoffs.pop(idx, None)
        last = self.off_last[idx]
        if last < 0:
            self.off_first[idx] = row
        else:
            self.off_next[last] = row
        self.off_last[idx] = row

    def start(self, idx: int) -> tuple[int, int]:
        """The `Ref.key` of the event that made session `idx` known."""
        ts, order = self.start_clamped[idx], self.order_clamped[idx]
        if ts in _BOUNDS or order in _BOUNDS:
            return self.start_aside[idx]
        return ts, order

    def _off_rows(self, idx: int) -> Iterator[int]:
        row = self.off_first[idx]
        while row >= 0:  # bounded: each row links to a later one
            yield row
            row = self.off_next[row]

    def logoffs(self, idx: int) -> list[tuple[tuple[int, int], int, int | None]]:
        """(`Ref.key`, EventID, record id) of each logoff of session `idx`, in key order (do not
        change the list: the last LOGOFFS_KEPT sessions' are remembered until a logoff is added,
        since a session with thousands of logoffs is asked for them at each of its answers)."""
        out = self._logoffs.get(idx)
        if out is not None:
            return out
        out = []
        for row in self._off_rows(idx):
            ts, order, event_id = self.off_ts[row], self.off_order[row], self.off_event[row]
            assert ts is not None and order is not None and event_id is not None
            out.append(((ts, order), event_id, self.off_record[row]))
        # In key order, which the tracker bisects: the scan logs them so (a sort of a sorted
        # list is one pass at C speed), and this holds it whatever fed them.
        out.sort(key=_KEY)
        self._held += len(out)
        if len(self._logoffs) >= LOGOFFS_KEPT or self._held > LOGOFFS_HELD:
            self._logoffs.clear()
            self._held = len(out)
        self._logoffs[idx] = out
        return out

    def logoffs_at(self, idx: int) -> array[int]:
        """The positions of the logoffs of session `idx`, in order."""
        return array("q", map(self.off_at.__getitem__, self._off_rows(idx)))


class Privileges:
    """The 4672s the scan saw, resolved once every 4624 is known (`finish_privileges`): each
    one's place, logon id, `Ref.key`, record id, position and user, in columns."""

    def __init__(self) -> None:
        self.places: list[tuple[str, str]] = []
        self._place_of: dict[tuple[str, str], int] = {}
        self.place: array[int] = array("i")
        self.logon_id: list[int] = []
        self.ts: array[int] = array("q")
        self.order: array[int] = array("q")
        self.aside: dict[int, tuple[int, int]] = {}
        self.record = Ints()
        self.at: array[int] = array("q")
        self.user: list[str | None] = []

    def __len__(self) -> int:
        return len(self.at)

    def add(self, host: str, computer: str, lid: int, key: tuple[int, int], record: int | None, at: int,
            user: str | None) -> None:
        where = (host, computer)
        place = self._place_of.get(where)
        if place is None:
            place = self._place_of[where] = len(self.places)
            self.places.append(where)
        ts, order = clamped(key[0]), clamped(key[1])
        if ts in _BOUNDS or order in _BOUNDS:
            self.aside[len(self.at)] = key
        self.place.append(place)
        self.logon_id.append(lid)
        self.ts.append(ts)
        self.order.append(order)
        self.record.append(record)
        self.at.append(at)
        self.user.append(user)

    def key(self, n: int) -> tuple[int, int]:
        ts, order = self.ts[n], self.order[n]
        return self.aside[n] if ts in _BOUNDS or order in _BOUNDS else (ts, order)
