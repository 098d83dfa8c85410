"""Where the session tracker finds the sessions of a (host, logon id), sorted by start.

While the scan runs: a list of session indexes per (host, logon id). Once the sessions are frozen
(`freeze`): no dict, but every session sorted by (logon id, host, start) in `array`s, bisected
(~40 bytes a session: a dict entry per session was ~150). Within a logon id, sessions are
bisected on their start times and orders clamped to 64 bits, at C speed (an id logged on over and
over has a session per logon: a Python key per probe made the model build twice as slow); a
value out of bounds is compared exactly.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

from core.correlate.refcolumn import RefSource
from core.correlate.session_columns import SessionColumns, clamped

_NONE, _MAX = -(1 << 63), (1 << 63) - 1
#: Ranges whose last search `after` remembers (then forgets them all), and how many sessions
#: on from there it looks before it bisects.
_HINTS = 1 << 14
_STEPS = 3


class SessionIndex:
    """The sessions of `columns` by (host, logon id), sorted by start."""

    def __init__(self, columns: SessionColumns) -> None:
        self._columns: SessionColumns | None = columns
        self._by_key: dict[tuple[str, int], list[int]] = {}
        #: Each session's start time and order, clamped (kept after `freeze`).
        self._clamped = columns.start_clamped
        self._orders = columns.order_clamped
        #: After `freeze`: the sessions sorted by (logon id, host, start), their logon ids and
        #: hosts (as numbers: `_host_number`), their starts' positions in the facts table.
        self._sorted_ids: Sequence[int] = array("q")
        self._sorted: array[int] = array("i")
        self._sorted_hosts: array[int] = array("i")
        self._host_number: dict[str, int] = {}
        self._start_at: array[int] = array("q")
        self._facts: RefSource | None = None
        #: (seq's id, lo) -> where `after` last found a key in that range.
        self._hints: dict[tuple[int, int], int] = {}

    def add(self, host: str, lid: int, idx: int) -> None:
        """Session `idx` (just added to the columns) among those of (host, logon id)."""
        found = self._by_key.setdefault((host, lid), [])
        start = self.start(idx)
        if not found or self.start(found[-1]) <= start:  # the usual case: sessions come in time order
            found.append(idx)
        else:
            found.insert(self.after(found, start, 0, len(found)), idx)

    def range(self, host: str, lid: int) -> tuple[Sequence[int], int, int]:
        """The sessions of logon id `lid` on `host`, sorted by start: `seq[lo:hi]` (never copied)."""
        if self._columns is not None:
            found = self._by_key.get((host, lid), [])
            return found, 0, len(found)
        ids, seq, hosts = self._sorted_ids, self._sorted, self._sorted_hosts
        lo = bisect.bisect_left(ids, lid)
        hi = bisect.bisect_right(ids, lid, lo)
        number = self._host_number.get(host)
        if number is None or lo == hi:
            return seq, lo, lo
        return seq, bisect.bisect_left(hosts, number, lo, hi), bisect.bisect_right(hosts, number, lo, hi)

    def after(self, seq: Sequence[int], key: tuple[int, int], lo: int, hi: int) -> int:
        """`bisect_right` of `key` among the starts of the sessions `seq[lo:hi]` (sorted by
        start): where the last search in that range ended, or a step or two on, when that is
        where `key` goes (the build asks in time order: an id with a session per service logon,
        SYSTEM's, has hundreds of thousands, and a search each was a tenth of a DC log's build);
        else on their clamped times at C speed, then exactly among equal ones (few)."""
        if hi - lo == 1:  # one session of the id (the usual case): no bisection
            return lo + (self.start(seq[lo]) <= key)
        if hi <= lo:
            return lo
        # A hint is checked against its neighbours' starts, so any (even a stale one) is safe.
        slot = (id(seq), lo)
        hints = self._hints
        pos = hints.get(slot)
        if pos is not None and lo <= pos <= hi:
            start = self.start
            if pos == lo or start(seq[pos - 1]) <= key:
                for _ in range(_STEPS):
                    if pos == hi or key < start(seq[pos]):
                        hints[slot] = pos
                        return pos
                    pos += 1
                lo = pos  # every start before it is <= key: search on from there
        pos = self._bisect(seq, key, lo, hi)
        if len(hints) >= _HINTS:
            hints.clear()
        hints[slot] = pos
        return pos

    def _bisect(self, seq: Sequence[int], key: tuple[int, int], lo: int, hi: int) -> int:
        """`after` by bisection."""
        at = self._clamped.__getitem__
        ts, order = key
        inside = _NONE < ts < _MAX
        bound = ts if inside else clamped(ts)
        lo = bisect.bisect_left(seq, bound, lo, hi, key=at)
        hi = bisect.bisect_right(seq, bound, lo, hi, key=at)
        if lo == hi:
            return lo
        if inside and _NONE < order < _MAX:  # a time within bounds: the same for all, by order
            return bisect.bisect_right(seq, order, lo, hi, key=self._orders.__getitem__)
        return bisect.bisect_right(seq, key, lo, hi, key=self.start)

    def ts(self, idx: int) -> int:
        """The time where session `idx` starts (`start(idx)[0]`)."""
        ts = self._clamped[idx]
        return ts if _NONE < ts < _MAX else self.start(idx)[0]

    def start(self, idx: int) -> tuple[int, int]:
        """The `Ref.key` where session `idx` starts (the event that made it known)."""
        ts, order = self._clamped[idx], self._orders[idx]
        if _NONE < ts < _MAX and _NONE < order < _MAX:
            return ts, order
        if self._columns is not None:
            return self._columns.start(idx)
        assert self._facts is not None
        return self._facts.key(self._start_at[idx])

    def freeze(self, facts: RefSource) -> None:
        """The sessions are frozen (their events in `facts`): sorted once, the columns let go."""
        columns = self._columns
        assert columns is not None
        for host, _ in columns.places:
            self._host_number.setdefault(host, len(self._host_number))
        place_host = array("i", (self._host_number[host] for host, _ in columns.places))
        hosts = array("i", map(place_host.__getitem__, columns.place))  # by session
        order = sorted(range(len(columns)), key=columns.start_at.__getitem__)  # facts order: time order
        order.sort(key=hosts.__getitem__)  # stable: by start within a host
        ids = columns.logon_id
        order.sort(key=ids.__getitem__)
        try:
            self._sorted_ids = array("q", map(ids.__getitem__, order))
        except OverflowError:  # beyond 64 bits (`as_int` reads none such from a log): as a list
            self._sorted_ids = list(map(ids.__getitem__, order))
        self._sorted = array("i", order)
        self._sorted_hosts = array("i", map(hosts.__getitem__, order))
        self._start_at, self._facts, self._columns, self._by_key = columns.start_at, facts, None, {}
        self._hints.clear()
