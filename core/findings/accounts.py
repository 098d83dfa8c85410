"""Who an event names, and what kind of account each is (machine, well-known, local, domain).

The 4688 recommendations name the "Creator Subject" and the "Target Subject": both are checked
by the account rules. The account a new process runs as is the Target Subject when the event
has one (the creator started it for another logon), else the Creator Subject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.findings.rules import glob_match
from core.model.event import Event

# -- accounts ---------------------------------------------------------------------------------

_NULL_SIDS = {"", "-", "S-1-0-0"}
_WELL_KNOWN_DOMAINS = {
    "NT AUTHORITY",
    "NT-AUTORITÄT",
    "AUTORITE NT",
    "AUTORIDAD NT",
    "NT SERVICE",
    "WINDOW MANAGER",
    "FONT DRIVER HOST",
    "IIS APPPOOL",
    "NT VIRTUAL MACHINE",
    "VIRTUAL USERS",
}
_WELL_KNOWN_NAMES = {"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON", "LOCALSERVICE", "NETWORKSERVICE"}


@dataclass(frozen=True, slots=True)
class Account:
    """An account named by an event: its role ("Creator Subject" / "Target Subject")."""

    role: str
    sid: str
    name: str
    domain: str

    @property
    def display(self) -> str:
        who = f"{self.domain}\\{self.name}" if self.domain and self.domain != "-" else self.name or "-"
        sid = self.sid if self.sid not in _NULL_SIDS else ""
        return f"{who} ({sid})" if sid and sid.upper() != who.upper() else who


def accounts(event: Event) -> list[Account]:
    """The Creator Subject and the Target Subject of an event, when present (Target only if it
    names another account). Several rules ask for the same event's in a row: the last answer
    is kept (for that very Event object)."""
    global _LAST_ACCOUNTS
    last = _LAST_ACCOUNTS  # one read: another thread may replace it, never change it
    if last is not None and last[0] is event:
        return list(last[1])
    found = _accounts(event)
    _LAST_ACCOUNTS = (event, tuple(found))
    return found


_LAST_ACCOUNTS: tuple[Event, tuple[Account, ...]] | None = None


def _accounts(event: Event) -> list[Account]:
    out: list[Account] = []
    for role, prefix in (("Creator Subject", "Subject"), ("Target Subject", "Target")):
        sid = (event.get(prefix + "UserSid") or "").strip()
        name = (event.get(prefix + "UserName") or "").strip()
        domain = (event.get(prefix + "DomainName") or "").strip()
        if sid.upper() in _NULL_SIDS and name in ("", "-"):
            continue
        acc = Account(role, sid, name if name != "-" else "", domain if domain != "-" else "")
        if out and (acc.sid.upper(), acc.name.lower()) == (out[0].sid.upper(), out[0].name.lower()):
            continue
        out.append(acc)
    return out


def running_account(event: Event) -> Account | None:
    """The account the new process runs as: Target Subject when present, else Creator Subject."""
    accs = accounts(event)
    for acc in accs:
        if acc.role == "Target Subject":
            return acc
    return accs[0] if accs else None


def short_name(computer: str) -> str:
    """`WS01.contoso.local` -> `ws01` (lower-cased)."""
    return computer.strip().split(".", 1)[0].lower()


def account_kind(acc: Account, computer: str) -> str:
    """machine (NAME$), well-known (SYSTEM, services, DWM-1...), local-user or domain-user."""
    if acc.name.endswith("$"):
        return "machine"
    sid = acc.sid.upper()
    domain = acc.domain.upper()
    if sid not in _NULL_SIDS:
        if not sid.startswith("S-1-5-21-"):
            return "well-known"
    elif domain in _WELL_KNOWN_DOMAINS or acc.name.upper() in _WELL_KNOWN_NAMES:
        return "well-known"
    if domain and domain.lower() == short_name(computer):
        return "local-user"
    return "domain-user"


def is_real_user(acc: Account, computer: str) -> bool:
    return account_kind(acc, computer) in ("local-user", "domain-user")


def account_matches(acc: Account, patterns: Iterable[str]) -> bool:
    """`S-1-...` patterns match the SID, `DOMAIN\\name` the qualified name, others the name."""
    for pattern in patterns:
        if pattern.upper().startswith("S-1-"):
            if acc.sid and glob_match(acc.sid, (pattern,)):
                return True
        elif "\\" in pattern:
            if glob_match(f"{acc.domain}\\{acc.name}", (pattern,)):
                return True
        elif acc.name and glob_match(acc.name, (pattern,)):
            return True
    return False
