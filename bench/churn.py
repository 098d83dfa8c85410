"""A synthetic Security log with realistic process, handle and logon churn, written as a store.

    python -m bench.churn OUT.sqlite [--events 1000000] [--seed 18] [--computers 3]

`bench/table.py`'s store repeats four events (one pid, one handle, no logon id): its correlation
model has a single handle and no session, so it says nothing about the correlation views at scale.
This one simulates a few computers the way their Security logs read: logon sessions (4624 with
TargetLogonId, 4672 for admins and services, 4647/4634 logoffs; network logons come and go),
processes created (4688 with NewProcessId, the parent's ProcessId, SubjectLogonId or the new
session's TargetLogonId) and exiting (4689), pids multiples of 4 reused after exit, handles opened
(4656, a tenth of them to Process objects), used (4663) and closed (4658) with their values reused
after close, duplications between processes (4690, a quarter into System with the 4658 logged under
the source pid) and unrelated events (WFP, Kerberos, NTLM). Field names are those of Microsoft's
pages (../shared/seeds) and of the samples' real events: the ones the engine reads
(`core.correlate.roles`, `core.correlate.scan`).

(Over 500 lines: one simulation whose actors (sessions, processes, handles) share one clock and
one pid/handle allocator; its constant tables are already in `bench/churn_values.py`.)

Rows are encoded and inserted like `bench.table.build_store` (no EVTX, no parser): about 10 million
events in a few minutes. Deterministic for a seed (no set or hash order is ever iterated). The
build returns what the model must find (`Truth`): its process, handle and session counts, and for
each 4690 the store ids of the events that began the instances it names.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.churn_values import (  # noqa: E402
    ADMINS,
    BASE_TS,
    BATCH,
    DOMAIN,
    KEYWORDS,
    MS,
    NET_IPS,
    OBJECT_KINDS,
    PERMANENT,
    PROCESS_MASKS,
    PROVIDER,
    SERVICE_CHILDREN,
    SID_BASE,
    SYSTEM_FIELDS,
    SYSTEM_PID,
    USER_CHILDREN,
    USERS,
)
from core.model.rows import EventRow, Postings, encode_one, new_postings, postings_text, store_id  # noqa: E402
from core.store.store import Store  # noqa: E402

Pairs = tuple[tuple[str, str], ...]
#: SYSTEM, LOCAL SERVICE, NETWORK SERVICE: one session per computer and boot, whatever the 4624s
#: (their own truth here, not the engine's table).
WELL_KNOWN = frozenset((0x3E7, 0x3E5, 0x3E4))


@dataclass(slots=True)
class Handle:
    """One open handle: its owner, value and the pairs its events repeat."""

    owner: Proc
    hid: int
    #: Subject + ObjectServer/ObjectType/ObjectName/HandleId (a 4663's head).
    head: Pairs
    access: Pairs
    #: Where it sits in its host's `handles` (swap-remove).
    slot: int = -1
    #: Store id of the event that began it (4656 or 4690).
    began: int = 0


@dataclass(slots=True)
class Session:
    lid: int
    user: str
    sid: str
    logon_type: str
    procs: list[Proc] = field(default_factory=list)


@dataclass(slots=True)
class Proc:
    """A process instance: its pid, image and logon session, its open handles and free values."""

    pid: int
    image: str
    lid: int
    subject: Pairs
    #: ProcessId/ProcessName pairs (handle and exit events).
    tail: Pairs
    permanent: bool = False
    session: Session | None = None
    handles: list[Handle] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    next_hid: int = 0x84
    slot: int = -1
    alive: bool = True
    #: Store id of its 4688 (0: started before the log).
    created: int = 0
    #: Whether a scanned event has named it (permanent processes become instances only then).
    named: bool = False

    def alloc(self) -> int:
        """A handle value: the last freed one first (as the handle table reuses entries), else a new one."""
        if self.free:
            return self.free.pop()
        self.next_hid += 4
        return self.next_hid


@dataclass
class Truth:
    """What the model built from the store must find."""

    events: int = 0
    by_event_id: dict[int, int] = field(default_factory=dict)
    processes: int = 0
    handles: int = 0
    sessions: int = 0
    #: Per 4690 into a process other than System: (its store id, the store ids of the 4688s of its source and
    #: target processes (0: started before the log), of the source handle's 4656).
    duplications: list[tuple[int, int, int, int]] = field(default_factory=list)
    process_accesses: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "processes": self.processes, "handles": self.handles,
                "sessions": self.sessions, "duplications_between_processes": len(self.duplications),
                "process_accesses": self.process_accesses,
                "by_event_id": {str(k): v for k, v in sorted(self.by_event_id.items())}}


def _subject(sid: str, user: str, domain: str, lid: int) -> Pairs:
    return (("SubjectUserSid", sid), ("SubjectUserName", user), ("SubjectDomainName", domain),
            ("SubjectLogonId", f"0x{lid:x}"))


class Host:
    """One computer's state: its processes, open handles, sessions, free pids and logon ids."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        short = name.split(".")[0].upper()
        self.machine = f"{short}$"
        self.system_subject = _subject("S-1-5-18", self.machine, DOMAIN, 0x3E7)
        pids = list(range(0x100, 0x2000, 4))
        rng.shuffle(pids)
        self.free_pids: deque[int] = deque(pids)
        self.transient: list[Proc] = []
        self.handles: list[Handle] = []
        self.interactive: list[Session] = []
        self.network: list[Session] = []
        self.next_lid = 0x3A2B10 + rng.randrange(0x10000)
        self.system_hids = 0
        system = self._proc(SYSTEM_PID, "System", 0x3E7, self.system_subject, permanent=True)
        self.permanent = [system] + [self._proc(self.free_pids.popleft(), image, 0x3E7, self.system_subject,
                                                permanent=True) for image in PERMANENT]
        self.winlogon = next(p for p in self.permanent if p.image.endswith("winlogon.exe"))
        self.services = next(p for p in self.permanent if p.image.endswith("services.exe"))
        self.lsass = next(p for p in self.permanent if p.image.endswith("lsass.exe"))
        #: Actors of handle events besides transient processes (not System: it opens nothing audited).
        self.actors = self.permanent[1:]

    def _proc(self, pid: int, image: str, lid: int, subject: Pairs, *, permanent: bool = False,
              session: Session | None = None) -> Proc:
        tail = (("ProcessId", f"0x{pid:x}"), ("ProcessName", image))
        return Proc(pid, image, lid, subject, tail, permanent=permanent, session=session,
                    next_hid=0x80 + 4 * self.rng.randrange(64))

    def luid(self) -> int:
        self.next_lid += 0x40 + self.rng.randrange(0x4000)
        return self.next_lid


class Generator:
    """Emits the events of every host in one time line (one log forwarded from several computers)."""

    def __init__(self, n: int, seed: int, computers: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        names = ["DC01.corp.example.com", *(f"WS{i:02d}.corp.example.com" for i in range(1, max(computers, 1)))]
        self.hosts = [Host(name, self.rng) for name in names]
        #: The domain controller logs most (Kerberos, network logons, object access).
        self.host_weights = [3.0] + [1.0] * (len(self.hosts) - 1)
        self.truth = Truth()
        self.count = 0
        self.ts = BASE_TS
        self.rows: list[EventRow] = []
        self.postings: Postings = new_postings()
        #: The 4624s of logon ids other than the well-known ones (each its own session), and the
        #: (computer, well-known logon id) pairs logged on: one session each (one per boot, and
        #: this log has no restart), however many 4624s (a service's type 5 into SYSTEM's).
        self.logons = 0
        self.well_known: set[tuple[str, int]] = set()

    # -- writing ---------------------------------------------------------------------------------

    def emit(self, host: Host, eid: int, data: Pairs) -> int:
        """Append one event (just after the previous one) and return its store id."""
        self.count += 1
        self.ts += self.rng.randrange(1, 40) * MS
        sid = store_id(0, self.count)
        version, task = SYSTEM_FIELDS[eid]
        counts = self.truth.by_event_id
        counts[eid] = counts.get(eid, 0) + 1
        self.rows.append(encode_one(sid, self.postings, (
            0, self.count, self.count, self.ts, eid, version, 0, task, 0, KEYWORDS, "Security", PROVIDER, host.name,
            host.lsass.pid, 0x2A0 + 4 * (self.count % 64), None, data, self.count)))
        return sid

    def flush(self, store: Store) -> None:
        if self.rows:
            store.add_rows(self.rows, postings_text(self.postings))
            self.rows, self.postings = [], new_postings()

    def run(self, store: Store, progress: bool = False) -> Truth:
        t0 = time.perf_counter()
        while self.count < self.n:
            host = self.rng.choices(self.hosts, self.host_weights)[0]
            self.step(host)
            if len(self.rows) >= BATCH:
                self.flush(store)
                if progress and self.count % 1_000_000 < BATCH:
                    print(f"  {self.count:,} events, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        self.flush(store)
        truth = self.truth
        truth.events = self.count
        truth.processes = truth.by_event_id.get(4688, 0) + sum(p.named for h in self.hosts for p in h.permanent)
        truth.handles = truth.by_event_id.get(4656, 0) + truth.by_event_id.get(4690, 0)
        truth.sessions = self.logons + len(self.well_known)
        return truth

    # -- what happens next -----------------------------------------------------------------------

    def step(self, host: Host) -> None:
        """One action on `host`: the weights of ending things grow with how many are open, so that
        open processes, handles and sessions stay around a steady level."""
        rng = self.rng
        opened = len(host.handles)
        weights = (
            34.0 if opened else 0.0,  # use
            13.0,  # open
            13.0 * opened / 300,  # close
            2.0 if opened else 0.0,  # duplicate
            4.5,  # create
            4.5 * len(host.transient) / 120,  # exit
            0.35,  # network logon
            0.35 * len(host.network) / 6,  # network logoff
            0.03,  # interactive logon
            0.03 * len(host.interactive) / 3,  # interactive logoff
            0.1,  # service logon
            18.0,  # unrelated
        )
        pick = rng.random() * sum(weights)
        action = len(weights) - 1
        for i, w in enumerate(weights):
            pick -= w
            if pick < 0:
                action = i
                break
        if action == 0:
            self.use(host, host.handles[rng.randrange(opened)])
        elif action == 1:
            self.open(host)
        elif action == 2:
            self.close(host, host.handles[rng.randrange(opened)])
        elif action == 3:
            self.duplicate(host, host.handles[rng.randrange(opened)])
        elif action == 4:
            self.create(host)
        elif action == 5 and host.transient:
            self.exit(host, host.transient[rng.randrange(len(host.transient))])
        elif action == 6:
            self.network_logon(host)
        elif action == 7 and host.network:
            self.network_logoff(host)
        elif action == 8:
            self.interactive_logon(host)
        elif action == 9 and host.interactive:
            self.interactive_logoff(host, host.interactive[rng.randrange(len(host.interactive))])
        elif action == 10:
            self.service_logon(host)
        else:
            self.unrelated(host)

    # -- processes -------------------------------------------------------------------------------

    def _name(self, proc: Proc) -> Proc:
        proc.named = True
        return proc

    def create(self, host: Host, parent: Proc | None = None, image: str | None = None,
               session: Session | None = None, new_logon: Session | None = None) -> Proc | None:
        """A 4688: a new process under `parent` (a random one: a session's or a service's)."""
        rng = self.rng
        if not host.free_pids:
            return None
        if parent is None:
            users = [p for s in host.interactive for p in s.procs[:8]]
            if users and rng.random() < 0.6:
                parent = users[rng.randrange(len(users))]
            elif host.transient and rng.random() < 0.3:
                parent = host.transient[rng.randrange(len(host.transient))]
            else:
                parent = host.services if rng.random() < 0.5 else host.actors[rng.randrange(len(host.actors))]
        if session is None and new_logon is None:
            session = parent.session
        if image is None:
            image = rng.choice(USER_CHILDREN if session is not None else SERVICE_CHILDREN)
        pid = host.free_pids.popleft()
        owner = new_logon or session
        if owner is not None:
            lid, subject = owner.lid, _subject(owner.sid, owner.user, DOMAIN, owner.lid)
        else:
            lid, subject = 0x3E7, host.system_subject
        proc = host._proc(pid, image, lid, subject, session=owner)
        creator = parent.subject
        target: Pairs = (("TargetUserSid", "S-1-0-0"), ("TargetUserName", "-"), ("TargetDomainName", "-"),
                         ("TargetLogonId", "0x0"))
        if new_logon is not None:
            target = (("TargetUserSid", new_logon.sid), ("TargetUserName", new_logon.user),
                      ("TargetDomainName", DOMAIN), ("TargetLogonId", f"0x{new_logon.lid:x}"))
        elevated = owner is None or owner.user in ADMINS
        data = (*creator, ("NewProcessId", f"0x{pid:x}"), ("NewProcessName", image),
                ("TokenElevationType", "%%1936" if elevated else "%%1938"), ("ProcessId", f"0x{parent.pid:x}"),
                ("CommandLine", f"{image} /c {rng.randrange(1000)}" if session is not None else image), *target,
                ("ParentProcessName", parent.image), ("MandatoryLabel", "S-1-16-12288" if elevated else "S-1-16-8192"))
        proc.created = self.emit(host, 4688, data)
        self._name(parent)
        proc.slot = len(host.transient)
        host.transient.append(proc)
        if owner is not None:
            owner.procs.append(proc)
        return proc

    def exit(self, host: Host, proc: Proc) -> None:
        """A 4689, then the 4658s of most of its audited handles (the kernel closes them all)."""
        self.emit(host, 4689, (*proc.subject, ("Status", "0x0"), *proc.tail))
        for h in list(proc.handles):
            if self.rng.random() < 0.6:
                self.emit(host, 4658, (*proc.subject, ("ObjectServer", "Security"), ("HandleId", f"0x{h.hid:x}"),
                                       *proc.tail))
            self._drop(host, h)
        proc.alive = False
        last = host.transient.pop()
        if last is not proc:
            host.transient[proc.slot] = last
            last.slot = proc.slot
        if proc.session is not None:
            proc.session.procs.remove(proc)
        # The pid table's free entries are reused soon (a busy host reuses a pid within minutes).
        host.free_pids.insert(self.rng.randrange(min(64, len(host.free_pids) + 1)), proc.pid)

    # -- handles ---------------------------------------------------------------------------------

    def _actor(self, host: Host) -> Proc:
        rng = self.rng
        if host.transient and rng.random() < 0.5:
            return host.transient[rng.randrange(len(host.transient))]
        return host.actors[rng.randrange(len(host.actors))]

    def _add(self, host: Host, h: Handle) -> None:
        h.slot = len(host.handles)
        host.handles.append(h)
        h.owner.handles.append(h)

    def _drop(self, host: Host, h: Handle) -> None:
        last = host.handles.pop()
        if last is not h:
            host.handles[h.slot] = last
            last.slot = h.slot
        h.owner.handles.remove(h)
        h.owner.free.append(h.hid)

    def open(self, host: Host) -> None:
        """A 4656: a file or key, or (a tenth) another process, the target named by its image."""
        rng = self.rng
        proc = self._name(self._actor(host))
        hid = proc.alloc()
        if rng.random() < 0.1:
            victims = host.transient or host.actors
            target = victims[rng.randrange(len(victims))] if rng.random() < 0.7 else host.lsass
            mask, names = PROCESS_MASKS[rng.randrange(len(PROCESS_MASKS))]
            obj = ("Process", "\\Device\\HarddiskVolume2" + target.image[2:])
            access: Pairs = (("AccessList", "%%4484"), ("AccessMask", "0x10"))
            self.truth.process_accesses += 1
        else:
            kind, pool, names, mask = OBJECT_KINDS[rng.randrange(len(OBJECT_KINDS))]
            obj = (kind, pool[rng.randrange(len(pool))])
            access = (("AccessList", names), ("AccessMask", mask))
        head = (*proc.subject, ("ObjectServer", "Security"), ("ObjectType", obj[0]), ("ObjectName", obj[1]),
                ("HandleId", f"0x{hid:x}"))
        data = (*head, ("TransactionId", "{00000000-0000-0000-0000-000000000000}"), ("AccessList", names),
                ("AccessReason", "-"), ("AccessMask", mask), ("PrivilegeList", "-"), ("RestrictedSidCount", "0"),
                *proc.tail, ("ResourceAttributes", ""))
        h = Handle(proc, hid, head, access)
        h.began = self.emit(host, 4656, data)
        self._add(host, h)

    def use(self, host: Host, h: Handle) -> None:
        self.emit(host, 4663, (*h.head, *h.access, *h.owner.tail, ("ResourceAttributes", "")))

    def close(self, host: Host, h: Handle) -> None:
        owner = h.owner
        self.emit(host, 4658, (*owner.subject, ("ObjectServer", "Security"), ("HandleId", f"0x{h.hid:x}"),
                               *owner.tail))
        self._drop(host, h)

    def duplicate(self, host: Host, h: Handle) -> None:
        """A 4690 from the handle's process into another one, or into System: there the copy is
        closed at once and its 4658 is logged under the source process (as Windows does)."""
        rng = self.rng
        source = h.owner
        into_system = rng.random() < 0.25
        if into_system:
            target = host.permanent[0]
            host.system_hids = (host.system_hids + 1) % 256
            hid = 0x2000 + 4 * host.system_hids
        else:
            target = self._actor(host)
            hid = target.alloc()
        self._name(target)
        data = (*source.subject, ("SourceHandleId", f"0x{h.hid:x}"), ("SourceProcessId", f"0x{source.pid:x}"),
                ("TargetHandleId", f"0x{hid:x}"), ("TargetProcessId", f"0x{target.pid:x}"))
        sid = self.emit(host, 4690, data)
        if into_system:
            self.emit(host, 4658, (*source.subject, ("ObjectServer", "Security"), ("HandleId", f"0x{hid:x}"),
                                   *source.tail))
            return
        self.truth.duplications.append((sid, source.created, target.created, h.began))
        head = (*target.subject, *h.head[4:7], ("HandleId", f"0x{hid:x}"))
        copy = Handle(target, hid, head, h.access, began=sid)
        self._add(host, copy)

    # -- sessions --------------------------------------------------------------------------------

    def _logon(self, host: Host, user: str, logon_type: str, *, lid: int | None = None, linked: int = 0,
               elevated: bool = False, ip: str = "-") -> Session:
        rng = self.rng
        lid = host.luid() if lid is None else lid
        system = lid == 0x3E7
        sid = "S-1-5-18" if system else f"{SID_BASE}-{1100 + USERS.index(user) if user in USERS else 500}"
        domain = "NT AUTHORITY" if system else DOMAIN
        package = "Negotiate" if logon_type in ("2", "5", "10") else rng.choice(("Kerberos", "NTLM"))
        process = host.lsass if logon_type == "3" else host.winlogon if logon_type in ("2", "10") else host.services
        data = (*host.system_subject, ("TargetUserSid", sid), ("TargetUserName", user), ("TargetDomainName", domain),
                ("TargetLogonId", f"0x{lid:x}"), ("LogonType", logon_type),
                ("LogonProcessName", {"3": package, "5": "Advapi  "}.get(logon_type, "User32 ")),
                ("AuthenticationPackageName", package),
                ("WorkstationName", "-" if system else f"PC{rng.randrange(99)}"),
                ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"), ("TransmittedServices", "-"),
                ("LmPackageName", "NTLM V2" if package == "NTLM" else "-"), ("KeyLength", "0"),
                ("ProcessId", "0x0" if logon_type == "3" else f"0x{process.pid:x}"),
                ("ProcessName", "-" if logon_type == "3" else process.image), ("IpAddress", ip),
                ("IpPort", str(rng.randrange(49152, 65535)) if ip != "-" else "-"),
                ("ImpersonationLevel", "%%1833"), ("RestrictedAdminMode", "-"), ("VirtualAccount", "%%1843"),
                ("TargetLinkedLogonId", f"0x{linked:x}"), ("ElevatedToken", "%%1842" if elevated else "%%1843"))
        self.emit(host, 4624, data)
        if lid in WELL_KNOWN:
            self.well_known.add((host.name, lid))
        else:
            self.logons += 1
        if elevated:
            self.emit(host, 4672, (*_subject(sid, user, domain, lid),
                                   ("PrivilegeList", "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\t"
                                    "SeRestorePrivilege\n\t\t\tSeDebugPrivilege")))
        return Session(lid, user, sid, logon_type)

    def _logoff(self, host: Host, s: Session) -> None:
        self.emit(host, 4634, (("TargetUserSid", s.sid), ("TargetUserName", s.user), ("TargetDomainName", DOMAIN),
                               ("TargetLogonId", f"0x{s.lid:x}"), ("LogonType", s.logon_type)))

    def network_logon(self, host: Host) -> None:
        rng = self.rng
        admin = rng.random() < 0.3
        user = rng.choice(ADMINS) if admin else USERS[rng.randrange(len(USERS))]
        host.network.append(self._logon(host, user, "3", elevated=admin, ip=NET_IPS[rng.randrange(len(NET_IPS))]))

    def network_logoff(self, host: Host) -> None:
        self._logoff(host, host.network.pop(self.rng.randrange(len(host.network))))

    def interactive_logon(self, host: Host) -> None:
        """A user at the console or over RDP: an admin gets two linked sessions (split token); then
        winlogon starts userinit in the new session, which starts explorer and exits."""
        rng = self.rng
        admin = rng.random() < 0.3
        user = rng.choice(ADMINS) if admin else USERS[rng.randrange(len(USERS))]
        kind = rng.choice(("2", "10"))
        ip = "-" if kind == "2" else NET_IPS[rng.randrange(len(NET_IPS))]
        if admin:
            lid, elevated = host.luid(), host.luid()
            session = self._logon(host, user, kind, lid=lid, linked=elevated, ip=ip)
            self._logon(host, user, kind, lid=elevated, linked=lid, elevated=True, ip=ip)
        else:
            session = self._logon(host, user, kind, ip=ip)
        userinit = self.create(host, host.winlogon, "C:\\Windows\\System32\\userinit.exe", new_logon=session)
        if userinit is None:
            return
        host.interactive.append(session)
        self.create(host, userinit, "C:\\Windows\\explorer.exe", session=session)
        self.exit(host, userinit)

    def interactive_logoff(self, host: Host, s: Session) -> None:
        self.emit(host, 4647, (("TargetUserSid", s.sid), ("TargetUserName", s.user), ("TargetDomainName", DOMAIN),
                               ("TargetLogonId", f"0x{s.lid:x}")))
        for proc in list(s.procs):
            self.exit(host, proc)
        host.interactive.remove(s)
        self._logoff(host, s)

    def service_logon(self, host: Host) -> None:
        """A service starting as SYSTEM: 4624 type 5 and its 4672 (logon id 0x3e7), then its process."""
        self._logon(host, "SYSTEM", "5", lid=0x3E7, elevated=True)
        self.create(host, host.services, SERVICE_CHILDREN[self.rng.randrange(len(SERVICE_CHILDREN))])

    # -- the rest of a busy Security log ---------------------------------------------------------

    def unrelated(self, host: Host) -> None:
        """Events outside the model: network connections, Kerberos tickets, NTLM validations."""
        rng = self.rng
        roll = rng.random()
        ip = NET_IPS[rng.randrange(len(NET_IPS))]
        if roll < 0.55:
            proc = self._actor(host)
            self.emit(host, 5156 if roll < 0.5 else 5158, (
                ("ProcessID", str(proc.pid)), ("Application", "\\device\\harddiskvolume2" + proc.image[2:].lower()),
                ("Direction", "%%14593"), ("SourceAddress", "10.0.0.10"),
                ("SourcePort", str(rng.randrange(49152, 65535))),
                ("DestAddress", ip), ("DestPort", rng.choice(("443", "445", "389", "88", "53", "135"))),
                ("Protocol", "6"), ("FilterRTID", "0"), ("LayerName", "%%14611"), ("LayerRTID", "48"),
                ("RemoteUserID", "S-1-0-0"), ("RemoteMachineID", "S-1-0-0")))
            return
        user = USERS[rng.randrange(len(USERS))]
        if roll < 0.8:
            self.emit(host, 4769, (("TargetUserName", f"{user}@{DOMAIN}.EXAMPLE.COM"), ("TargetDomainName", DOMAIN),
                                   ("ServiceName", rng.choice(("krbtgt", "DC01$", "cifs", "ldap"))),
                                   ("ServiceSid", f"{SID_BASE}-502"), ("TicketOptions", "0x40810000"),
                                   ("TicketEncryptionType", "0x12"), ("IpAddress", f"::ffff:{ip}"),
                                   ("IpPort", str(rng.randrange(49152, 65535))), ("Status", "0x0")))
        elif roll < 0.9:
            self.emit(host, 4768, (("TargetUserName", user), ("TargetDomainName", DOMAIN),
                                   ("ServiceName", "krbtgt"), ("TicketOptions", "0x40810010"), ("Status", "0x0"),
                                   ("TicketEncryptionType", "0x12"), ("PreAuthType", "2"),
                                   ("IpAddress", f"::ffff:{ip}")))
        else:
            self.emit(host, 4776, (("PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"), ("TargetUserName", user),
                                   ("Workstation", f"PC{rng.randrange(99)}"), ("Status", "0x0")))


def build_churn_store(path: Path, n: int, seed: int = 18, computers: int = 3, progress: bool = False) -> Truth:
    """A store of `n` events (a few more: an action's last events are kept whole) written straight
    through `Store.add_rows`, indexed like a real one. Returns what its model must find."""
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with Store(tmp) as store:
        store.add_source("bench/Security.evtx", "evtx")
        truth = Generator(n, seed, computers).run(store, progress)
        store.finish_source(0, records=truth.events, parse_issues=0, error=None)
        if progress:
            print(f"  {truth.events:,} events written; building the indexes", file=sys.stderr, flush=True)
        store.build_indexes()
        store.set_meta("complete", "1")
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.replace(path)
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--computers", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    truth = build_churn_store(args.out, args.events, args.seed, args.computers, progress=True)
    out = truth.as_dict()
    out["build_s"] = round(time.perf_counter() - t0, 1)
    out["store_mb"] = round(args.out.stat().st_size / 1e6, 1)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
