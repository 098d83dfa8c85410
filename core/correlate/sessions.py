"""Logon sessions: (computer, logon id) from a 4624 to its 4634/4647, marked privileged by 4672.

Logon ids (LUIDs) are unique until the machine reboots, so they are scoped by computer and time
like pids: an event belongs to the latest session with that id that began before it. 4672 is
logged next to its 4624, on either side, so sessions are resolved after the whole scan. A 4634
or 4647 logged before any 4624 of its id ends no session of this log: it stands for a session
whose logon precedes the log (an orphan), never for the end of a later one. SYSTEM (0x3e7),
LOCAL SERVICE (0x3e5) and NETWORK SERVICE (0x3e4) are well-known sessions that begin at boot:
Windows logs no 4624 for them, which is not evidence of anything missing.

What a 4624 says about its logon (type, source address and workstation, packages, logon
process, elevated token, linked logon) is kept on the session as flat, interned strings and
ints, and its processes as indexes: a domain controller logs a network logon every few
seconds, and the model must stay small at millions of events (issue 18).

Just over 500 lines: the tracker, its memoised choices and the network-logon index share the session
rules; splitting them would spread one rule over modules.
"""

from __future__ import annotations

import bisect
import functools
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.correlate.processes import EXACT, INFERRED, MISSING, TICKS_PER_SECOND, Process, Ref
from core.correlate.refcolumn import RefColumn, RefSource
from core.model.sids import LOGON_TYPES
from core.model.values import as_int

#: Well-known logon ids and the account behind each.
WELL_KNOWN: dict[int, str] = {
    0x3E7: "NT AUTHORITY\\SYSTEM",
    0x3E5: "NT AUTHORITY\\LOCAL SERVICE",
    0x3E4: "NT AUTHORITY\\NETWORK SERVICE",
}
#: How far a 4672 or another event may precede the 4624 of its session and still belong to it.
LOGON_WINDOW = 2 * TICKS_PER_SECOND
#: Source addresses that mean "this computer itself" (not a remote source).
LOOPBACK = frozenset(("::1", "127.0.0.1"))
#: Keys beyond any event's (`SessionTracker._until`): before any order, after any time.
_FIRST = -(1 << 64)
_NEVER = (1 << 128, 0)
#: The 4624 ElevatedToken values (`%%1842` Yes, `%%1843` No; some exports render the word).
_ELEVATED = {"%%1842": True, "yes": True, "%%1843": False, "no": False}


def logon_type_name(raw: str | None) -> str:
    """`2` -> `Interactive`, `10` -> `RemoteInteractive`; "" for no or an unknown type."""
    number = as_int(raw) if raw else None
    name = LOGON_TYPES.get(number, "") if number is not None else ""
    return name.split(" (", 1)[0]


@dataclass(frozen=True, slots=True)
class Session:
    """One logon session: `logon` is its 4624 (None when only its end or privileges are seen),
    `logoffs` its 4634/4647, `privileges` the 4672 that marks it privileged.

    Those events are kept as their positions in the model's facts table (`logon_at`,
    `privileges_at`: -1 for none; `logoffs` a `RefColumn`), their `Ref`s made when read: a `Ref`
    held per event was most of what a session cost, and busy servers log millions of logons."""

    index: int
    computer: str
    logon_id: int
    logon_at: int
    logoffs: Sequence[Ref]
    privileges_at: int
    user: str | None
    user_sid: str | None
    logon_type: str | None
    #: The 4624's IpAddress as logged (`::1` included), None when it names none (`-`).
    ip: str | None = None
    #: The 4624's WorkstationName, AuthenticationPackageName, LmPackageName (NTLM version) and
    #: LogonProcessName, None when absent or `-`.
    workstation: str | None = None
    auth_package: str | None = None
    lm_package: str | None = None
    logon_process: str | None = None
    #: The 4624's ElevatedToken (Windows 10+): True/False, None when the event has no such field.
    elevated_token: bool | None = None
    #: The 4624's TargetLinkedLogonId: the other half of a split (UAC) logon, None when 0 or absent.
    linked_logon_id: int | None = None
    #: Indexes (in `CorrelationModel.processes`) of the processes started in the session, in
    #: time order: 4688s whose new process runs under its logon id, Sysmon 1s with its LogonId.
    processes: tuple[int, ...] = ()
    #: Where `logon_at` and `privileges_at` are (the model's facts table).
    facts: RefSource | None = field(default=None, repr=False, compare=False)

    @property
    def logon(self) -> Ref | None:
        return self.facts.ref(self.logon_at) if self.logon_at >= 0 and self.facts is not None else None

    @property
    def privileges(self) -> Ref | None:
        return self.facts.ref(self.privileges_at) if self.privileges_at >= 0 and self.facts is not None else None

    @property
    def privileged(self) -> bool:
        """Special privileges were assigned to the logon (a 4672 for its id on its computer)."""
        return self.privileges_at >= 0

    @property
    def end(self) -> Ref | None:
        """Where the session ended: its first 4634 (the session is gone), else its first 4647
        (logoff requested, the 4634 is not in the log); None while still open at the end of the log."""
        return next((r for r in self.logoffs if r.event_id == 4634), self.logoffs[0] if self.logoffs else None)

    @property
    def duration(self) -> float | None:
        """Seconds from the 4624 to the end, None when either is not in the log."""
        end = self.end
        if self.logon is None or end is None:
            return None
        return max(0, end.ts - self.logon.ts) / TICKS_PER_SECOND

    @property
    def remote_ip(self) -> str | None:
        """The source address when it is another machine (not `::1`/`127.0.0.1`)."""
        return self.ip if self.ip not in LOOPBACK else None

    @property
    def label(self) -> str:
        who = self.user or WELL_KNOWN.get(self.logon_id) or "?"
        return f"logon 0x{self.logon_id:x}: {who}"


@dataclass(frozen=True, slots=True)
class SessionChoice:
    """The session an event belongs to, with the confidence of that link."""

    logon_id: int
    session: int | None
    confidence: str
    reason: str
    user: str | None


@dataclass(slots=True)
class _Session:
    index: int
    host: str
    computer: str
    logon_id: int
    first_seen: Ref
    logon: Ref | None = None
    logoffs: list[Ref] = field(default_factory=list)
    privileges: Ref | None = None
    #: Positions of `logon`, `logoffs`, `privileges` in the facts table (what `Session` keeps).
    logon_at: int = -1
    logoffs_at: array[int] = field(default_factory=lambda: array("q"))
    privileges_at: int = -1
    user: str | None = None
    user_sid: str | None = None
    logon_type: str | None = None
    ip: str | None = None
    workstation: str | None = None
    auth_package: str | None = None
    lm_package: str | None = None
    logon_process: str | None = None
    elevated_token: bool | None = None
    linked_logon_id: int | None = None


@functools.lru_cache(maxsize=4096)
def user_name(domain: str | None, name: str | None) -> str | None:
    """`DOMAIN\\name` (or the name alone), None for no account. Cached: every event of a
    session names the same few accounts, and one string each (not one per event) is what a
    model of a million events keeps."""
    if not name or name in ("-", ""):
        return None
    return f"{domain}\\{name}" if domain and domain not in ("-", "") else name


class SessionTracker:
    """Builds sessions from 4624/4634/4647 in time order; 4672s and references are resolved
    in `finish`, once every 4624 is known."""

    def __init__(self) -> None:
        self.sessions: list[_Session] = []
        #: The frozen sessions once `finish` made them: `choose` reads those afterwards, and the
        #: scan's copies are dropped (the model keeps the tracker to link events outside the scan).
        self._frozen: tuple[Session, ...] | None = None
        self._by_key: dict[tuple[str, int], list[tuple[tuple[int, int], int]]] = {}
        self._privileges: list[tuple[str, str, int, Ref, str | None, int]] = []
        self.logons: Counter[str] = Counter()
        self._answers: dict[SessionChoice, SessionChoice] = {}
        #: The shared answer by what it was made from (`choose_at`); emptied when sessions change.
        self._memo: dict[tuple[object, ...], SessionChoice] = {}
        #: The last answer per (host, computer as logged, logon id, user) and the keys [from,
        #: until) it holds for (`_until`): the events of one session mostly follow each other.
        self._last: dict[tuple[str, str, int, str | None],
                         tuple[tuple[int, int], tuple[int, int], SessionChoice]] = {}
        #: One string object per distinct 4624 value (packages, types, workstations, addresses).
        self._strings: dict[str, str] = {}
        #: Processes whose logon id has no session, per (computer, logon id) (`finish`).
        self.orphans: dict[tuple[str, int], tuple[int, ...]] = {}

    def _text(self, value: str | None) -> str | None:
        """`value` as one shared string, None for no value (`-`, empty)."""
        if value is None:
            return None
        value = value.strip()
        if not value or value == "-":
            return None
        return self._strings.setdefault(value, value)

    def _new(self, host: str, computer: str, lid: int, ref: Ref) -> _Session:
        s = _Session(len(self.sessions), host, computer, lid, ref)
        self.sessions.append(s)
        self._forget()  # an answer may change: only `choose` after the scan fills these
        # (start, index), kept sorted: a session starts at the event that created it
        bisect.insort(self._by_key.setdefault((host, lid), []), (ref.key, s.index))
        return s

    def logon(self, host: str, computer: str, lid: int, ref: Ref, values: dict[str, str | None], *, at: int) -> int:
        """A 4624 (`at`: its position in the facts table): a new session."""
        self.logons[host] += 1
        s = self._new(host, computer, lid, ref)
        s.logon, s.logon_at = ref, at
        s.user = user_name(values.get("TargetDomainName"), values.get("TargetUserName"))
        s.user_sid = self._text(values.get("TargetUserSid"))
        s.logon_type = self._text(values.get("LogonType"))
        s.ip = self._text(values.get("IpAddress"))
        s.workstation = self._text(values.get("WorkstationName"))
        s.auth_package = self._text(values.get("AuthenticationPackageName"))
        s.lm_package = self._text(values.get("LmPackageName"))
        s.logon_process = self._text(values.get("LogonProcessName"))
        elevated = values.get("ElevatedToken")
        s.elevated_token = _ELEVATED.get(elevated.strip().casefold()) if elevated else None
        s.linked_logon_id = as_int(values.get("TargetLinkedLogonId")) or None
        return s.index

    def logoff(self, host: str, computer: str, lid: int, ref: Ref, values: dict[str, str | None], *, at: int) -> int:
        """A 4634/4647 ends the latest session with its id begun before it; logged before any
        4624 of its id (even just before one), it is a session of its own whose logon precedes
        the log."""
        idx = self.find(host, lid, ref, later=False)
        if idx is None:
            s = self._new(host, computer, lid, ref)
            s.user = user_name(values.get("TargetDomainName"), values.get("TargetUserName"))
            s.user_sid = self._text(values.get("TargetUserSid"))
            s.logon_type = self._text(values.get("LogonType"))
            idx = s.index
        self.sessions[idx].logoffs.append(ref)
        self.sessions[idx].logoffs_at.append(at)
        self._forget()
        return idx

    def privileged(self, host: str, computer: str, lid: int, ref: Ref, user: str | None, *, at: int) -> None:
        self._privileges.append((host, computer, lid, ref, user, at))

    def find(self, host: str, lid: int, ref: Ref, *, adjacent: bool = False, later: bool = True) -> int | None:
        """The latest session with this id begun before `ref`, else (unless not `later`) one
        whose 4624 is logged just after it (within LOGON_WINDOW), else None.

        `adjacent` is for a 4672, which is logged next to its own 4624: a session starting just
        after it wins over an earlier one begun longer before, since logon ids are reused after
        a reboot and the 4672 of the new logon usually precedes its 4624."""
        return self._find(host, lid, ref.key, adjacent, later)

    def _find(self, host: str, lid: int, key: tuple[int, int], adjacent: bool, later: bool = True) -> int | None:
        """`find` of an event at `key` (its `Ref.key`): the scan's facts give keys, not `Ref`s."""
        starts = self._by_key.get((host, lid))
        if not starts:
            return None
        ts = key[0]
        pos = bisect.bisect_right(starts, (key, len(self.sessions) if self._frozen is None else len(self._frozen)))
        after = (starts[pos] if later and pos < len(starts) and starts[pos][0][0] - ts <= LOGON_WINDOW
                 else None)
        if pos > 0:
            before = starts[pos - 1]
            if adjacent and after is not None and after[0][0] - ts < ts - before[0][0]:
                return after[1]
            return before[1]
        return after[1] if after is not None else None

    def finish_privileges(self) -> None:
        """Attach each 4672 to its session (creating one when its 4624 is not in the log)."""
        for host, computer, lid, ref, user, at in self._privileges:
            idx = self.find(host, lid, ref, adjacent=True)
            if idx is None:
                s = self._new(host, computer, lid, ref)
                s.user = user
                idx = s.index
            s = self.sessions[idx]
            if s.privileges is None:
                s.privileges, s.privileges_at = ref, at
        self._privileges = []  # done with: a model keeps its tracker
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
        self, host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, adjacent: bool = False
    ) -> SessionChoice:
        """`choose` for an event at `key` (its `Ref.key`). Every input of an answer is in its
        `_memo` key, so that the events of a session (all but a few of a log's) reuse the shared
        answer without its text being formatted and hashed again (a third of the model's
        session work at a million events)."""
        if not adjacent:
            last = self._last.get((host, computer, lid, user))
            if last is not None and last[0] <= key < last[1]:
                return last[2]
        idx = self._find(host, lid, key, adjacent)
        memo: tuple[object, ...]
        if idx is not None:
            s: _Session | Session = self.sessions[idx] if self._frozen is None else self._frozen[idx]
            who = s.user or user
            logon = s.logon
            if logon is None:
                memo = (idx, lid, 0, who)
            elif logon.key > key:
                memo = (idx, lid, 1, who)
            else:
                ended = next((r for r in s.logoffs if r.key < key), None)
                memo = (idx, lid, 3, who) if ended is None else (idx, lid, 2, who, ended.event_id, ended.record_id)
        elif lid in WELL_KNOWN:
            memo = (-1, lid)
        else:
            memo = (-2, lid, user, computer if self.logons[host] == 0 else None)
        choice = self._memo.get(memo)
        if choice is None:
            made = self._choose(host, computer, lid, key, user, adjacent)
            choice = self._memo[memo] = self._answers.setdefault(made, made)
        if not adjacent:
            self._last[(host, computer, lid, user)] = (key, self._until(host, lid, key, idx), choice)
        return choice

    def choose_span(self, host: str, computer: str, lid: int, key: tuple[int, int], user: str | None,
                    adjacent: bool = False) -> tuple[SessionChoice, tuple[int, int] | None]:
        """`choose_at`, and the key up to which (not included) its answer holds for later events of the same
        computer, logon id and user (None: ask again): the facts table asks once per stretch of a session."""
        choice = self.choose_at(host, computer, lid, key, user, adjacent)
        last = None if adjacent else self._last.get((host, computer, lid, user))
        return choice, last[1] if last is not None and last[2] is choice and last[0] <= key < last[1] else None

    def _until(self, host: str, lid: int, key: tuple[int, int], idx: int | None) -> tuple[int, int]:
        """The first key after `key` where the answer of `choose_at` (not `adjacent`) may differ:
        where a later session of the id starts, or comes within LOGON_WINDOW, or where the found
        session's 4624 or a logoff is passed. Each of those conditions only turns one way as
        the key grows, so the answer holds up to the nearest one still ahead."""
        bounds = [_NEVER]
        starts = self._by_key.get((host, lid))
        if starts:
            pos = bisect.bisect_right(starts, (key, len(self.sessions) if self._frozen is None else len(self._frozen)))
            if pos < len(starts):
                start = starts[pos][0]
                bounds += [start, (start[0] - LOGON_WINDOW, _FIRST)]
        if idx is not None:
            s: _Session | Session = self.sessions[idx] if self._frozen is None else self._frozen[idx]
            logon = s.logon
            if logon is not None:
                bounds.append(logon.key)
            bounds += [(r.ts, r.order + 1) for r in s.logoffs]  # just after it: where `r.key < key` turns
        return min(b for b in bounds if b > key)

    def _forget(self) -> None:
        """Sessions changed: the remembered answers may be wrong."""
        self._memo.clear()
        self._last.clear()

    def _choose(
        self, host: str, computer: str, lid: int, key: tuple[int, int], user: str | None, adjacent: bool
    ) -> SessionChoice:
        idx = self._find(host, lid, key, adjacent)
        if idx is not None:
            s: _Session | Session = self.sessions[idx] if self._frozen is None else self._frozen[idx]
            who = s.user or user
            if s.logon is None:
                return SessionChoice(
                    lid,
                    idx,
                    INFERRED,
                    f"no 4624 for logon 0x{lid:x} in this log; the session is known from its logoff or privileges only",
                    who,
                )
            if s.logon.key > key:
                return SessionChoice(
                    lid, idx, INFERRED, f"its 4624 (record {s.logon.record_id}) is logged just after this event", who
                )
            ended = [r for r in s.logoffs if r.key < key]
            if ended:
                return SessionChoice(
                    lid, idx, INFERRED, f"used after its logoff ({ended[0].event_id} record {ended[0].record_id})", who
                )
            return SessionChoice(lid, idx, EXACT, f"logon 4624 record {s.logon.record_id}", who)
        if lid in WELL_KNOWN:
            return SessionChoice(
                lid,
                None,
                EXACT,
                f"well-known session of {WELL_KNOWN[lid]} (0x{lid:x}): it begins "
                "at boot and Windows logs no 4624 for it",
                WELL_KNOWN[lid],
            )
        if self.logons[host] == 0:
            return SessionChoice(
                lid,
                None,
                MISSING,
                f"no 4624 for logon 0x{lid:x}: there is no 4624 at all for "
                f"{computer} in this log (Logon auditing seems off)",
                user,
            )
        return SessionChoice(
            lid,
            None,
            MISSING,
            f"no 4624 for logon 0x{lid:x} in this log: the logon happened before the log begins",
            user,
        )

    def finish(self, facts: RefSource, processes: tuple[Process, ...] = ()) -> list[Session]:
        """The sessions, each with the processes started in it (`assign`); the processes
        whose logon id has no session go to `orphans`. Their events are read from `facts`."""
        members = self.assign(processes)
        frozen = [
            Session(
                s.index,
                s.computer,
                s.logon_id,
                s.logon_at,
                RefColumn(facts, s.logoffs_at) if s.logoffs_at else (),
                s.privileges_at,
                s.user,
                s.user_sid,
                s.logon_type,
                s.ip,
                s.workstation,
                s.auth_package,
                s.lm_package,
                s.logon_process,
                s.elevated_token,
                s.linked_logon_id,
                tuple(members.get(s.index, ())),
                facts,
            )
            for s in self.sessions
        ]
        self._frozen, self.sessions = tuple(frozen), []
        self._forget()
        return frozen

    def assign(self, processes: tuple[Process, ...]) -> dict[int, list[int]]:
        """Process indexes per session index: a process (4688 new logon id, else its subject's;
        Sysmon 1 LogonId) goes to the latest session with its logon id on its computer begun
        before it started, never to one on another computer. One begun before any session of
        its id (its logon precedes the log, or a well-known id) goes to `orphans`."""
        keys: dict[tuple[str, int], tuple[list[tuple[int, int]], list[int]]] = {}
        for s in sorted(self.sessions, key=lambda s: _start(s).key):
            starts, indexes = keys.setdefault((s.host, s.logon_id), ([], []))
            starts.append(_start(s).key)
            indexes.append(s.index)
        members: dict[int, list[int]] = {}
        orphans: dict[tuple[str, int], list[int]] = {}
        for p in processes:
            lid = p.logon_id
            if not lid:
                continue
            found = keys.get((p.computer.casefold(), lid))
            pos = bisect.bisect_right(found[0], p.start or p.first_seen.key) - 1 if found else -1
            if found is not None and pos >= 0:
                members.setdefault(found[1][pos], []).append(p.index)
            else:
                orphans.setdefault((p.computer, lid), []).append(p.index)
        self.orphans = {key: tuple(items) for key, items in orphans.items()}
        return members


def _start(s: _Session) -> Ref:
    """Where a session begins on the time line: its 4624, else the event that made it known."""
    return s.logon or s.first_seen


#: The type-3 (network) logons by (IP address, computer casefolded), in the sessions' order.
NetworkIndex = dict[tuple[str | None, str], list[Session]]


def network_index(sessions: Sequence[Session]) -> NetworkIndex:
    """The type-3 logons grouped for `network_logons`: without it each call scans every session
    (9 ms at 5,000 sessions; the event trees of the Handles view, 20,000 of them, spent a third
    of their time there)."""
    index: NetworkIndex = {}
    for s in sessions:
        if s.logon_type == "3":
            index.setdefault((s.ip, s.computer.casefold()), []).append(s)
    return index


def network_logons(sessions: tuple[Session, ...], session: Session,
                   index: NetworkIndex | None = None) -> list[Session]:
    """The other type-3 (network) logons to the same computer from the same (remote) IP address
    (from `index`, `network_index(sessions)`, when given)."""
    if not session.remote_ip:
        return []
    host = session.computer.casefold()
    if index is not None:
        return [s for s in index.get((session.ip, host), ()) if s.index != session.index][:1000]
    return [s for s in sessions if s.index != session.index and s.ip == session.ip
            and s.computer.casefold() == host and s.logon_type == "3"][:1000]
