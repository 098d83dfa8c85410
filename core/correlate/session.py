"""One logon session as the model shows it (`Session`), and the logon ids every machine has.

A module of its own so that what holds the frozen sessions (`core.correlate.session_frozen`)
can make them without the tracker (`core.correlate.sessions`, which re-exports both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.correlate.processes import TICKS_PER_SECOND, Ref
from core.correlate.refcolumn import RefSource
from core.model.values import hex_id

#: Well-known logon ids and the account behind each.
WELL_KNOWN: dict[int, str] = {
    0x3E7: "NT AUTHORITY\\SYSTEM",
    0x3E5: "NT AUTHORITY\\LOCAL SERVICE",
    0x3E4: "NT AUTHORITY\\NETWORK SERVICE",
}
#: Source addresses that mean "this computer itself" (not a remote source).
LOOPBACK = frozenset(("::1", "127.0.0.1"))


@dataclass(frozen=True, slots=True)
class Session:
    """One logon session: `logon` is its 4624 (None when only its end or privileges are seen),
    `logoffs` its 4634/4647, `privileges` the 4672 that marks it privileged, `restart` the event
    of the restart of its computer that ended it (None: no logoff and no restart after it, or a
    logoff: see `end`).

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
    processes: Sequence[int] = ()
    #: Where `logon_at` and `privileges_at` are (the model's facts table).
    facts: RefSource | None = field(default=None, repr=False, compare=False)
    #: The restart that ended it (a session without a logoff: `core.correlate.process_boots`):
    #: its 4608 or 6005, or the 4688 of its computer's first process of the next boot.
    restart: Ref | None = None

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
        (logoff requested, the 4634 is not in the log), else the restart of its computer that
        ended it (`restart`); None while still open at the end of the log."""
        if not self.logoffs:
            return self.restart
        return next((r for r in self.logoffs if r.event_id == 4634), self.logoffs[0])

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
        return f"logon {hex_id(self.logon_id)}: {who}"
