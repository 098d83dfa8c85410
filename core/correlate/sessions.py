"""Logon sessions: (computer, logon id) from a 4624 to its 4634/4647, marked privileged by 4672.

(About 620 lines: every way of finding a session (an event's, a logoff's, a 4672's, a process's)
and the answers' memos rest on the same rules, the boots' bounds among them, and on what each
answer may change at (`_until`): read best in one place.)

Logon ids (LUIDs) are unique until the machine reboots, so they are scoped by computer and time
like pids: an event belongs to the latest session with that id that began before it in the same
boot. A restart of the computer (`core.correlate.process_boots`) ends every session begun before
it (`Session.restart`); an event after it never belongs to one of those (its logon id is another
logon's, whose 4624 is not in the log: `NO_LOGON_SINCE_RESTART`). 4672 is logged next to its
4624, on either side, so sessions are resolved after the whole scan. A 4634 or 4647 logged before
any 4624 of its id (in its boot) ends no session of this log: it stands for a session whose logon
precedes the log (an orphan), from the log's start (`LOG_START`) or the restart to that logoff,
never for the end of a later one: the events of its id logged before the logoff are that
session's, those after it use it after its logoff. A session's own logoffs are no use of it
after its logoff (Windows logs a 4647, then the 4634 of the same logoff).

SYSTEM (0x3e7), LOCAL SERVICE (0x3e5) and NETWORK SERVICE (0x3e4) are well-known sessions, one per
boot. Windows logs a 4624 of type 0 for SYSTEM's at boot and one of type 5 (a service logging on
as the account) for each service it starts: the first 4624 of a well-known id in a boot makes its
session, the later ones are logons into it (`WELL_KNOWN_ANOTHER`), and the session holds every
event and process of its id in that boot, before its first 4624 too (`WELL_KNOWN_BEFORE`). With no
4624 of its id in a boot, no session is made: Windows need not log one, which is no evidence of
anything missing.

What a 4624 says about its logon (type, source address and workstation, packages, logon
process, elevated token, linked logon) is kept as one shared tuple of interned strings and
ints, and a session's processes as indexes: a domain controller logs a network logon every few
seconds, and the model must stay small at millions of events (issue 18).

Here: the tracker and its memoised choices (they share the session rules). Elsewhere: what a
`Session` is (`session`), what holds the sessions while the scan runs (`session_columns`), finds
them (`session_index`) and holds them once frozen (`session_frozen`), the answers of the events
(`session_choices`) and the network-logon index (`session_network`).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

from core.correlate.process_boots import Restart
from core.correlate.process_table import logons
from core.correlate.processes import EXACT, INFERRED, MISSING, TICKS_PER_SECOND, Process, Ref
from core.correlate.refcolumn import RefSource
from core.correlate.session import LOOPBACK, WELL_KNOWN, Session
from core.correlate.session_columns import LOGOFFS_HELD, LOGOFFS_KEPT, NOTHING_SAID, Privileges, Said, SessionColumns
from core.correlate.session_frozen import FrozenSessions
from core.correlate.session_index import SessionIndex
from core.correlate.session_network import NetworkIndex, network_index, network_logons
from core.model.values import hex_id

# Their home until they grew apart:
__all__ = ["LOOPBACK", "WELL_KNOWN", "NetworkIndex", "Session", "network_index", "network_logons"]
from core.model.sids import LOGON_TYPES
from core.model.values import as_int

#: How far a 4672 or another event may precede the 4624 of its session and still belong to it.
LOGON_WINDOW = 2 * TICKS_PER_SECOND
#: Keys beyond any event's (`SessionTracker._until`): before any order, after any time.
_FIRST = -(1 << 64)
_NEVER = (1 << 128, 0)
#: A logoff's `Ref.key` in `Known` (bisected at C speed).
_OFF_KEY = itemgetter(0)
#: Where an event is on the model time line: a model event's `Ref.key`, or an event outside the
#: model's place among them, half way between two (`CorrelationModel.place`: order + 0.5).
Place = tuple[int, float]
#: What `SessionTracker.logon` remembers at most (a few hundred KB: a server's service logons
#: are a handful of distinct sets of values, a user's interactive logons differ anyway).
_SAID_KEPT = 1024
#: Every 4624 field `SessionTracker.logon` reads.
_SAID_NAMES = ("TargetDomainName", "TargetUserName", "TargetUserSid", "LogonType", "IpAddress", "WorkstationName",
               "AuthenticationPackageName", "LmPackageName", "LogonProcessName", "ElevatedToken",
               "TargetLinkedLogonId")
#: The bounds of a 64-bit slot (`session_columns.clamped`).
_NONE, _MAX = -(1 << 63), (1 << 63) - 1
#: Where a session made by a logoff logged before any 4624 of its id starts: before every event.
LOG_START = (_NONE + 1, 0)  # (within 64 bits: its start is bisected as any other's)
#: The reasons `SessionTracker._answer` words from numbers (`session_choices` keeps each coded).
NO_LOGON_KNOWN = "no 4624 for logon {} in this log; the session is known from its logoff or privileges only"
LOGON_JUST_AFTER = "its 4624 (record {}) is logged just after this event"
USED_AFTER_LOGOFF = "used after its logoff ({} record {})"
LOGON_RECORD = "logon 4624 record {}"
LOGON_BEFORE_LOG = "no 4624 for logon {} in this log: the logon happened before the log begins"
KNOWN_FROM_LOGOFF = LOGON_BEFORE_LOG + "; the session is known from its logoff ({} record {})"
#: ... after a restart of its computer (`{}`: `the restart (4608 record 6: ...)`).
NO_LOGON_SINCE_RESTART = "no 4624 for logon {} since {}: logon ids are unique only within one boot"
KNOWN_FROM_LOGOFF_SINCE_RESTART = (NO_LOGON_SINCE_RESTART.removesuffix(": logon ids are unique only within one boot")
                                   + "; the session is known from its logoff ({} record {})")
#: A well-known session (SYSTEM...) at an event before its first 4624 of the boot, and at a later
#: 4624 of its id (a service logging on as that account): account, logon id, the session's 4624.
WELL_KNOWN_BEFORE = ("well-known session of {} ({}), one per boot: its first 4624 in this boot, record {}, is "
                     "logged after this event")
WELL_KNOWN_ANOTHER = ("another logon into the well-known session of {} ({}) begun by 4624 record {}: Windows keeps "
                      "one per boot (a service logging on as this account)")
REASONS = (NO_LOGON_KNOWN, LOGON_JUST_AFTER, USED_AFTER_LOGOFF, LOGON_RECORD, LOGON_BEFORE_LOG, KNOWN_FROM_LOGOFF,
           # (each well-known id's with its account and id worded: templates hold numbers only)
           *(said.format(account, hex_id(lid), "{}") for said in (WELL_KNOWN_BEFORE, WELL_KNOWN_ANOTHER)
             for lid, account in WELL_KNOWN.items()))
#: The 4624 ElevatedToken values (`%%1842` Yes, `%%1843` No; some exports render the word).
_ELEVATED = {"%%1842": True, "yes": True, "%%1843": False, "no": False}


def logon_type_name(raw: str | None) -> str:
    """`2` -> `Interactive`, `10` -> `RemoteInteractive`; "" for no or an unknown type."""
    number = as_int(raw) if raw else None
    name = LOGON_TYPES.get(number, "") if number is not None else ""
    return name.split(" (", 1)[0]


@dataclass(frozen=True, slots=True)
class SessionChoice:
    """The session an event belongs to, with the confidence of that link."""

    logon_id: int
    session: int | None
    confidence: str
    reason: str
    user: str | None


@functools.lru_cache(maxsize=4096)
def user_name(domain: str | None, name: str | None) -> str | None:
    """`DOMAIN\\name` (or the name alone), None for no account. Cached: every event of a
    session names the same few accounts, and one string each (not one per event) is what a
    model of a million events keeps."""
    if not name or name in ("-", ""):
        return None
    return f"{domain}\\{name}" if domain and domain not in ("-", "") else name


#: What an answer says of a session (`SessionTracker._known`): its index and logon id, user,
#: 4624 ((`Ref.key`, record id), None without one) and logoffs ((`Ref.key`, EventID, record id)).
Known = tuple[int, int, str | None, tuple[tuple[int, int], int | None] | None,
              list[tuple[tuple[int, int], int, int | None]]]


def ended_before(logoffs: list[tuple[tuple[int, int], int, int | None]],
                 key: Place) -> tuple[tuple[int, int], int, int | None] | None:
    """The first of a session's `logoffs` (in key order) when the event at `key` is used after
    it: logged after it and none of the session's logoffs itself (a 4634 logged after the 4647
    of its logoff, or a second 4634, ends the session too; it does not use it)."""
    if not logoffs or not logoffs[0][0] < key:
        return None
    i = bisect.bisect_left(logoffs, key, key=_OFF_KEY)
    return None if i < len(logoffs) and logoffs[i][0] == key else logoffs[0]


class SessionTracker:
    """Builds sessions from 4624/4634/4647 in time order; 4672s and references are resolved
    in `finish`, once every 4624 is known.

    While the scan runs the sessions are rows of columns (`core.correlate.session_columns`), no
    object each; `finish` makes the frozen `Session`s from them and drops them, keeping only what
    finds a session again for the events linked afterwards (`choose`): its computer, where it
    starts, and the sessions sorted by logon id (`session_index`: ~40 bytes a session)."""

    #: Answers remembered by what they were made from (`_memo`), and the last answer per
    #: computer, logon id and user (`_last`), at most: the events of a session mostly follow
    #: each other, and kept for every session the two took ~0.5 KB a session until the model
    #: was made (tens of MB for a busy server's log).
    REMEMBERED = 1 << 14

    def __init__(self) -> None:
        #: Logon, logoff and privilege events whose logon id is no number (no session made of them).
        self.unreadable = 0
        #: The sessions while the scan runs (None once `finish` made the frozen ones).
        self._columns: SessionColumns | None = SessionColumns()
        #: The frozen sessions once `finish` made them.
        self._frozen: FrozenSessions | None = None
        #: The sessions of each (host, logon id), sorted by start (`core.correlate.session_index`).
        self._index = SessionIndex(self._columns)
        #: The 4672s, resolved by `finish_privileges`.
        self._privileges: Privileges | None = Privileges()
        self.logons: Counter[str] = Counter()
        self._answers: dict[SessionChoice, SessionChoice] = {}
        #: The shared answer by what it was made from (`choose_at`); emptied when sessions change.
        self._memo: dict[tuple[object, ...], SessionChoice] = {}
        #: The last answer per (host, computer as logged, logon id, user) and the keys [from,
        #: until) it holds for (`_until`): the events of one session mostly follow each other.
        self._last: dict[tuple[str, str, int, str | None], tuple[Place, tuple[int, int], SessionChoice]] = {}
        #: One string object per distinct 4624 value (packages, types, workstations, addresses).
        self._strings: dict[str, str] = {}
        #: Processes whose logon id has no session, per (computer, logon id) (`finish`).
        self.orphans: dict[tuple[str, int], tuple[int, ...]] = {}
        #: `_known`'s logoffs of the frozen sessions last asked for (by session index).
        self._frozen_offs: dict[int, list[tuple[tuple[int, int], int, int | None]]] = {}
        self._offs_held = 0
        #: What `logon` made of a 4624's values (`_SAID_NAMES`), by those values.
        self._said: dict[tuple[str | None, ...], Said] = {}
        #: Each computer's restarts (`restart`), in time order, and the keys where they begin.
        self._restarts: dict[str, list[Restart]] = {}
        self._boot_keys: dict[str, list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        """How many sessions are known."""
        return len(self._columns) if self._columns is not None else len(self._frozen or ())

    def _text(self, value: str | None) -> str | None:
        """`value` as one shared string, None for no value (`-`, empty)."""
        if value is None:
            return None
        value = value.strip()
        if not value or value == "-":
            return None
        return self._strings.setdefault(value, value)

    def _working(self) -> SessionColumns:
        if self._columns is None:
            raise RuntimeError("the sessions are frozen: no session can be added")
        return self._columns

    def _new(self, host: str, computer: str, lid: int, key: tuple[int, int], record: int | None, at: int) -> int:
        columns = self._working()
        idx = columns.add(host, computer, lid, key, record, at)
        self._forget()  # an answer may change: only `choose` after the scan fills these
        # Kept sorted by start: a session starts at the event that created it.
        self._index.add(host, lid, idx)
        return idx

    def restart(self, restart: Restart) -> None:
        """Its computer restarted (the scan is at `restart.key`): the sessions begun before end there."""
        self._restarts.setdefault(restart.host, []).append(restart)
        self._boot_keys.setdefault(restart.host, []).append(restart.key)
        self._forget()

    def _epoch(self, host: str, key: Place) -> tuple[Restart | None, tuple[int, int] | None]:
        """The restart of `host` the event at `key` comes after (None: none in the log), and where
        the next one begins (None: none)."""
        keys = self._boot_keys.get(host)
        if not keys:
            return None, None
        i = bisect.bisect_right(keys, key)
        return (self._restarts[host][i - 1] if i else None), (keys[i] if i < len(keys) else None)

    def _narrowed(self, host: str, key: Place, seq: Sequence[int], lo: int,
                  hi: int) -> tuple[int, int, Restart | None, tuple[int, int] | None]:
        """`seq[lo:hi]` (the sessions of a logon id on `host`, by start) narrowed to those begun in
        the boot of the event at `key`, that boot's restart and where the next begins (`_epoch`)."""
        restart, nxt = self._epoch(host, key)
        index = self._index
        if restart is not None:  # (the first begun at its key or after: orders are ints)
            lo = index.after(seq, (restart.key[0], restart.key[1] - 1), lo, hi)
        if nxt is not None:
            hi = index.after(seq, (nxt[0], nxt[1] - 1), lo, hi)
        return lo, hi, restart, nxt

    def logon(self, host: str, computer: str, lid: int, ref: Ref, values: dict[str, str | None], *, at: int) -> int:
        """A 4624 (`at`: its position in the facts table): a new session; or, for a well-known
        logon id whose session of this boot is known, another logon into it (see the module doc)."""
        self.logons[host] += 1
        if lid in WELL_KNOWN:
            known = self._find(host, lid, ref.key, False, later=False)
            if known is not None:
                return known
        idx = self._new(host, computer, lid, ref.key, ref.record_id, at)
        columns = self._working()
        columns.logon_at[idx] = at
        # What a 4624 says, read once per distinct set of its values (a server logs the same
        # service logon over and over; reading it was a tenth of such a log's build).
        raw = tuple(map(values.get, _SAID_NAMES))
        said = self._said.get(raw)
        if said is not None:
            columns.say(idx, said)
            return idx
        elevated = values.get("ElevatedToken")
        said = (
            user_name(values.get("TargetDomainName"), values.get("TargetUserName")),
            self._text(values.get("TargetUserSid")),
            self._text(values.get("LogonType")),
            self._text(values.get("IpAddress")),
            self._text(values.get("WorkstationName")),
            self._text(values.get("AuthenticationPackageName")),
            self._text(values.get("LmPackageName")),
            self._text(values.get("LogonProcessName")),
            _ELEVATED.get(elevated.strip().casefold()) if elevated else None,
            as_int(values.get("TargetLinkedLogonId")) or None,
        )
        if len(self._said) >= _SAID_KEPT:
            self._said.clear()
        self._said[raw] = said
        columns.say(idx, said)
        return idx

    def logoff(self, host: str, computer: str, lid: int, ref: Ref, values: dict[str, str | None], *, at: int) -> int:
        """A 4634/4647 ends the latest session with its id begun before it in its boot; logged
        before any 4624 of its id (even just before one), it is a session of its own whose logon
        precedes the log, begun at the log's start (`LOG_START`), or at its computer's last restart."""
        idx = self.find(host, lid, ref, later=False)
        columns = self._working()
        if idx is None:  # (no session of its id began before it: none at all, the scan is in time order)
            restart = self._epoch(host, ref.key)[0] if self._boot_keys else None
            idx = self._new(host, computer, lid, restart.key if restart is not None else LOG_START, ref.record_id, at)
            columns.say(idx, (user_name(values.get("TargetDomainName"), values.get("TargetUserName")),
                              self._text(values.get("TargetUserSid")), self._text(values.get("LogonType")),
                              *NOTHING_SAID[3:]))
        columns.logoff(idx, ref.key, ref.event_id, ref.record_id, at)
        self._forget()
        return idx

    def privileged(self, host: str, computer: str, lid: int, ref: Ref, user: str | None, *, at: int) -> None:
        if self._privileges is None:
            self._privileges = Privileges()
        self._privileges.add(host, computer, lid, ref.key, ref.record_id, at, user)

    def find(self, host: str, lid: int, ref: Ref, *, adjacent: bool = False, later: bool = True) -> int | None:
        """The latest session with this id begun before `ref`, else (unless not `later`) one
        whose 4624 is logged just after it (within LOGON_WINDOW), else None.

        `adjacent` is for a 4672, which is logged next to its own 4624: a session starting just
        after it wins over an earlier one begun longer before, since logon ids are reused after
        a reboot and the 4672 of the new logon usually precedes its 4624."""
        return self._find(host, lid, ref.key, adjacent, later)

    def _find(self, host: str, lid: int, key: tuple[int, int], adjacent: bool, later: bool = True) -> int | None:
        """`find` of an event at `key` (its `Ref.key`): the scan's facts give keys, not `Ref`s."""
        seq, lo, hi = self._index.range(host, lid)
        if host in self._boot_keys:
            lo, hi, _, _ = self._narrowed(host, key, seq, lo, hi)
        return self._pick(seq, lo, self._index.after(seq, key, lo, hi), hi, key[0], adjacent, later, lid in WELL_KNOWN)

    def _pick(self, seq: Sequence[int], lo: int, pos: int, hi: int, ts: int, adjacent: bool,
              later: bool, anywhere: bool = False) -> int | None:
        """`_find`'s session among `seq[lo:hi]` (sorted by start, of one boot), `pos` the first to
        start after the event; `anywhere` (a well-known logon id): the first begun after it in
        its boot however long after, when none began before."""
        if lo >= hi:
            return None
        start = self._index.ts
        after = (seq[pos] if later and pos < hi and (anywhere or start(seq[pos]) - ts <= LOGON_WINDOW)
                 else None)
        if pos > lo:
            before = seq[pos - 1]
            if adjacent and after is not None and start(after) - ts < ts - start(before):
                return after
            return before
        return after

    def _known(self, idx: int) -> Known:
        """What an answer says of session `idx`: its index and logon id objects (an answer shares
        them), user, 4624 (`Ref.key`, record id; None without one) and logoffs ((`Ref.key`,
        EventID, record id) each, in order)."""
        columns = self._columns
        if columns is not None:  # (read inline: this runs for most model events)
            logon = None
            if columns.logon_at[idx] >= 0:
                ts, order = columns.start_clamped[idx], columns.order_clamped[idx]
                key = (ts, order) if _NONE < ts < _MAX and _NONE < order < _MAX else columns.start(idx)
                logon = key, columns.start_record[idx]
            return (columns.index[idx], columns.logon_id[idx], columns.said[columns.said_at[idx]][0], logon,
                    columns.logoffs(idx) if columns.off_first[idx] >= 0 else [])
        assert self._frozen is not None
        s = self._frozen[idx]
        ref = s.logon
        offs = self._frozen_offs.get(idx)
        if offs is None:  # (remembered: a session may have thousands, asked for at each answer)
            offs = sorted(((r.key, r.event_id, r.record_id) for r in s.logoffs), key=_OFF_KEY)
            self._offs_held += len(offs)
            if len(self._frozen_offs) >= LOGOFFS_KEPT or self._offs_held > LOGOFFS_HELD:
                self._frozen_offs.clear()
                self._offs_held = len(offs)
            self._frozen_offs[idx] = offs
        return (s.index, s.logon_id, s.user, (ref.key, ref.record_id) if ref is not None else None, offs)

    def finish_privileges(self) -> None:
        """Attach each 4672 to its session (creating one when its 4624 is not in the log)."""
        seen = self._privileges or Privileges()
        columns = self._working()
        for n, user in enumerate(seen.user):
            host, computer = seen.places[seen.place[n]]
            lid, key, at = seen.logon_id[n], seen.key(n), seen.at[n]
            idx = self._find(host, lid, key, True)
            if idx is None:
                idx = self._new(host, computer, lid, key, seen.record[n], at)
                columns.say(idx, (user, *NOTHING_SAID[1:]))
            if columns.privileges_at[idx] < 0:
                columns.privileges_at[idx] = at
        self._privileges = None  # done with: a model keeps its tracker
        self._forget()

    def choose(
        self, host: str, computer: str, lid: int, ref: Ref, user: str | None, *, adjacent: bool = False
    ) -> SessionChoice:
        """The session an event with logon id `lid` belongs to, and how sure that is
        (`adjacent`: see `find`). Equal answers are one shared object: the events of a session
        mostly get the same one, and the model keeps an answer per event (a fifth of the
        memory of a real log's model went to copies)."""
        return self.choose_at(host, computer, lid, ref.key, user, adjacent)

    def choose_at(
        self, host: str, computer: str, lid: int, key: Place, user: str | None, adjacent: bool = False
    ) -> SessionChoice:
        """`choose` for an event at `key` (its `Ref.key`, or the place of an event outside the
        model). Every input of an answer is in its `_memo` key, so that the events of a session
        (all but a few of a log's) reuse the shared answer without its text being formatted and
        hashed again (a third of the model's session work at a million events)."""
        order = key[1]
        whole = type(order) is int
        # (Not for a place half way between two orders: the spans end "just after" a logoff as
        # the next whole order, and such a place may be between the two.)
        if not adjacent and whole:
            last = self._last.get((host, computer, lid, user))
            if last is not None and last[0] <= key < last[1]:
                return last[2]
        seq, lo, hi = self._index.range(host, lid)
        restart: Restart | None = None
        nxt: tuple[int, int] | None = None
        if host in self._boot_keys:
            lo, hi, restart, nxt = self._narrowed(host, key, seq, lo, hi)
        # Half way between two orders: no session starts there, so it goes where the lower one does.
        pos = self._index.after(seq, (key[0], math.floor(order)), lo, hi)
        idx = self._pick(seq, lo, pos, hi, key[0], adjacent, True, lid in WELL_KNOWN)
        known = self._known(idx) if idx is not None else None
        memo: tuple[object, ...]
        if known is not None:
            who, logon = known[2] or user, known[3]
            if logon is not None and logon[0] > key:
                memo = (idx, lid, 1, who)
            else:  # (with a 4624 or without, used after its logoff is the same answer)
                ended = ended_before(known[4], key)
                memo = (idx, lid, 0 if logon is None else 3, who) if ended is None else (idx, lid, 2, who, *ended[1:])
        elif lid in WELL_KNOWN:
            memo = (-1, lid)
        else:
            memo = (-2, lid, user, computer if self.logons[host] == 0 else None, restart)
        choice = self._memo.get(memo)
        if choice is None:
            made = self._answer(host, computer, lid, key, user, known, restart)
            if len(self._memo) >= self.REMEMBERED:
                self._memo.clear()
                self._answers.clear()
            choice = self._memo[memo] = self._answers.setdefault(made, made)
        if not adjacent:
            if len(self._last) >= self.REMEMBERED:
                self._last.clear()
            self._last[(host, computer, lid, user)] = (key, self._until(seq, pos, hi, key, known, nxt), choice)
        return choice

    def choose_logon(self, host: str, computer: str, lid: int, key: Place, user: str | None) -> SessionChoice:
        """`choose_at` for a 4624 of a well-known logon id at `key`: a later 4624 of its session's
        boot is another logon into that session, and says so (`WELL_KNOWN_ANOTHER`)."""
        choice = self.choose_at(host, computer, lid, key, user)
        if choice.session is None or lid not in WELL_KNOWN:
            return choice
        logon = self._known(choice.session)[3]
        if logon is None or logon[0] == key:
            return choice
        made = SessionChoice(lid, choice.session, EXACT,
                             WELL_KNOWN_ANOTHER.format(WELL_KNOWN[lid], hex_id(lid), logon[1]), choice.user)
        if len(self._answers) >= self.REMEMBERED:
            self._memo.clear()
            self._answers.clear()
        return self._answers.setdefault(made, made)

    def choose_span(self, host: str, computer: str, lid: int, key: Place, user: str | None,
                    adjacent: bool = False) -> tuple[SessionChoice, tuple[int, int] | None]:
        """`choose_at`, and the key up to which (not included) its answer holds for later events of the same
        computer, logon id and user (None: ask again): the facts table asks once per stretch of a session."""
        choice = self.choose_at(host, computer, lid, key, user, adjacent)
        last = None if adjacent else self._last.get((host, computer, lid, user))
        return choice, last[1] if last is not None and last[2] is choice and last[0] <= key < last[1] else None

    def _until(self, seq: Sequence[int], pos: int, hi: int, key: Place,
               known: Known | None, restart: tuple[int, int] | None = None) -> tuple[int, int]:
        """The first key after `key` where the answer of `choose_at` (not `adjacent`) may differ:
        where a later session of the id starts (`seq[pos]`, the first to start after `key` among
        those of `seq[:hi]`), or comes within LOGON_WINDOW, or where the found session's
        (`known`) 4624 or a logoff is passed. Each of those conditions only turns one way as
        the key grows, so the answer holds up to the nearest one still ahead; but for a logoff
        itself, whose answer is never "used after its logoff" (`ended_before`): an event used
        after the first logoff holds its answer up to the next one, not past it."""
        # (The nearest of those after `key`, without a list: this runs for most model events.)
        until = _NEVER if restart is None or not key < restart else restart  # (the next restart: a new boot)
        if pos < hi:
            start = self._index.start(seq[pos])
            if key < start < until:
                until = start
            near = (start[0] - LOGON_WINDOW, _FIRST)
            if key < near < until:
                until = near
        if known is not None:
            logon = known[3]
            if logon is not None and key < logon[0] < until:
                until = logon[0]
            # The first logoff at or after `key` (they are in key order: a session can have
            # thousands, and a loop over them each was most of a replicated DC log's build):
            # just after it is where `r.key < key` turns; past the first one, an event between
            # two logoffs is used after the first, the next one is not (`ended_before`).
            offs = known[4]
            i = bisect.bisect_left(offs, key, key=_OFF_KEY) if offs else 0
            if i < len(offs):
                off = offs[i][0]
                after = off if i and key < off else (off[0], off[1] + 1)
                if key < after < until:
                    until = after
        return until

    def _forget(self) -> None:
        """Sessions changed: the remembered answers may be wrong."""
        self._memo.clear()
        self._last.clear()

    def settled(self) -> None:
        """Every event of the scan has its answer: what was remembered for them goes (the events
        linked afterwards are few, and remember their own)."""
        self._memo.clear()
        self._last.clear()
        self._answers.clear()
        self._said.clear()

    def _choose(
        self, host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, adjacent: bool
    ) -> SessionChoice:
        """The answer of `choose_at`, made afresh."""
        idx = self._find(host, lid, key, adjacent)
        return self._answer(host, computer, lid, key, user, self._known(idx) if idx is not None else None,
                            self._epoch(host, key)[0])

    def _answer(self, host: str, computer: str, lid: int, key: Place, user: str | None,
                known: Known | None, restart: Restart | None = None) -> SessionChoice:
        """The answer for an event at `key` in the session `known` (`_known`; None: no session),
        after `restart` (its computer's last before it, None for none)."""
        if known is not None:
            idx, lid, who, logon, logoffs = known
            who = who or user
            if logon is not None and logon[0] > key:
                if lid in WELL_KNOWN:
                    return SessionChoice(lid, idx, EXACT, WELL_KNOWN_BEFORE.format(WELL_KNOWN[lid], hex_id(lid),
                                                                                   logon[1]), who)
                return SessionChoice(lid, idx, INFERRED, LOGON_JUST_AFTER.format(logon[1]), who)
            first = ended_before(logoffs, key)
            if first is not None:
                return SessionChoice(lid, idx, INFERRED, USED_AFTER_LOGOFF.format(first[1], first[2]), who)
            if logon is not None:
                return SessionChoice(lid, idx, EXACT, LOGON_RECORD.format(logon[1]), who)
            if not logoffs:  # (known from a 4672 only)
                return SessionChoice(lid, idx, INFERRED, NO_LOGON_KNOWN.format(hex_id(lid)), who)
            if restart is not None:  # (made by its logoff, after a restart: begun there)
                why = KNOWN_FROM_LOGOFF_SINCE_RESTART.format(hex_id(lid), restart.text, logoffs[0][1], logoffs[0][2])
            else:  # (made by its logoff)
                why = KNOWN_FROM_LOGOFF.format(hex_id(lid), logoffs[0][1], logoffs[0][2])
            return SessionChoice(lid, idx, INFERRED, why, who)
        if lid in WELL_KNOWN:
            return SessionChoice(
                lid,
                None,
                EXACT,
                f"well-known session of {WELL_KNOWN[lid]} ({hex_id(lid)}): it begins "
                "at boot and Windows logs no 4624 for it",
                WELL_KNOWN[lid],
            )
        if self.logons[host] == 0:
            return SessionChoice(
                lid,
                None,
                MISSING,
                f"no 4624 for logon {hex_id(lid)}: there is no 4624 at all for "
                f"{computer} in this log (Logon auditing seems off)",
                user,
            )
        if restart is not None:
            return SessionChoice(lid, None, MISSING, NO_LOGON_SINCE_RESTART.format(hex_id(lid), restart.text), user)
        return SessionChoice(lid, None, MISSING, LOGON_BEFORE_LOG.format(hex_id(lid)), user)

    def finish(self, facts: RefSource, processes: Sequence[Process] = ()) -> FrozenSessions:
        """The sessions, each with the processes started in it (`assign`); the processes
        whose logon id has no session go to `orphans`. Their events are read from `facts`.
        The working columns are the frozen sessions' (`FrozenSessions`): afterwards sessions
        are found from those."""
        members = self.assign(processes)
        ends = self._restart_ends()
        # (`ends` given only when a session has one: the usual log has no restart)
        self._frozen = FrozenSessions(self._working(), members, facts, *((ends,) if ends else ()))
        self._index.freeze(facts)
        self._columns = None
        self.settled()
        return self._frozen

    def _restart_ends(self) -> dict[int, Ref]:
        """The restart (its event) that ended each session without a logoff begun before one."""
        columns = self._working()
        ends: dict[int, Ref] = {}
        if not self._boot_keys:
            return ends
        places = [self._boot_keys.get(host) for host, _ in columns.places]
        for idx in range(len(columns)):
            keys = places[columns.place[idx]]
            if keys is None or columns.off_first[idx] >= 0:
                continue
            i = bisect.bisect_right(keys, columns.start(idx))
            if i < len(keys):
                ends[idx] = self._restarts[columns.places[columns.place[idx]][0]][i].ref
        return ends

    def assign(self, processes: Sequence[Process]) -> dict[int, list[int]]:
        """Process indexes per session index: a process (4688 new logon id, else its subject's;
        Sysmon 1 LogonId) goes to the latest session with its logon id on its computer begun
        before it started in its boot, never to one on another computer or of another boot; of a
        well-known id, to the session of its boot however late that begins. One begun before any
        session of its id in its boot (its logon precedes the log or the restart, or a
        well-known id without a 4624 in that boot) goes to `orphans`."""
        members: dict[int, list[int]] = {}
        orphans: dict[tuple[str, int], list[int]] = {}
        restarted = self._boot_keys
        for index, computer, lid, start in logons(processes):
            host = computer.casefold()
            seq, lo, hi = self._index.range(host, lid)
            if host in restarted:
                lo, hi, _, _ = self._narrowed(host, start, seq, lo, hi)
            pos = self._index.after(seq, start, lo, hi) - 1
            if pos >= lo:
                members.setdefault(seq[pos], []).append(index)
            elif lid in WELL_KNOWN and lo < hi:  # before its first 4624 of the boot: still its session
                members.setdefault(seq[lo], []).append(index)
            else:
                orphans.setdefault((computer, lid), []).append(index)
        self.orphans = {key: tuple(items) for key, items in orphans.items()}
        return members
