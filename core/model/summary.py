"""One line per event that says what happened, for the event table and reports.

An analyst scanning thousands of rows reads the Summary and User columns, not the EventData: so
each event type triage lives on gets a sentence built from the fields that matter for it, its
codes decoded (4625 "failed logon bob type 3 Network from 10.0.0.9: bad password (0xc000006a)",
4728 "admmig added bob to global group Domain Admins"), and every other event falls back to its
first few `name=value` pairs. The tables are per source, keyed by EventID:
`summary_security` (logons, Kerberos/NTLM, processes, objects, services, tasks, policy, shares,
firewall, cleared logs), `summary_accounts` (4720-4767), `summary_sysmon` (Sysmon, Defender,
PowerShell); the provider picks the table, as Sysmon's small EventIDs mean other things
elsewhere.

The User column is the actor: whoever did it (the subject), or for a logon or an
authentication the account logging on. Never a group name, never the account created or
changed (that is in the summary), never `None`.

Pure and textual-free: the result is plain text which the UI still passes through
`core.model.text.printable` (values are attacker-controlled) before rendering it.
"""

from __future__ import annotations

from collections.abc import Callable

from core.model.event import Event
from core.model.summary_accounts import ACCOUNTS
from core.model.summary_security import SECURITY
from core.model.summary_sysmon import DEFENDER, POWERSHELL, SYSMON, SYSMON_USER_FIELDS
from core.model.summary_util import MAX_SUMMARY, basename, clean, g, present, short_hex

__all__ = [
    "MAX_SUMMARY", "basename", "event_image", "event_user", "event_user_field", "fallback", "short_hex", "summarize",
]

_GENERIC: dict[int, Callable[[Event], str]] = {**SECURITY, **ACCOUNTS}
#: EventIDs of the generic table that other providers also use: only these providers' count.
_PROVIDER_OF = {104: "eventlog", 7045: "service control manager"}


def _table(event: Event) -> dict[int, Callable[[Event], str]]:
    provider = event.provider.lower()
    if "sysmon" in provider or "sysmon" in event.channel.lower():
        return SYSMON
    if "defender" in provider:
        return DEFENDER
    if "powershell" in provider:
        return POWERSHELL
    return _GENERIC


def fallback(event: Event, count: int = 4) -> str:
    """The first few present `name=value` pairs: better than nothing for unknown types."""
    parts = [f"{name}={clean(value)}" for name, value in event.data if present(value)][:count]
    return " ".join(parts)


def summarize(event: Event) -> str:
    """The one-line summary of `event` (plain text, at most `MAX_SUMMARY` characters)."""
    builder = _table(event).get(event.event_id)
    need = _PROVIDER_OF.get(event.event_id)
    if builder is not None and need is not None and need not in event.provider.lower():
        builder = None
    try:
        text = builder(event) if builder is not None else fallback(event)
    except Exception:  # noqa: BLE001 - odd data in one event must not break the table
        text = fallback(event)
    return text[:MAX_SUMMARY]


# -- table columns ----------------------------------------------------------------------------

#: Events whose actor is the account logging on or authenticating (TargetUserName), not the
#: subject (often the machine account or nobody, `-`).
_TARGET_ACTS = frozenset({4624, 4625, 4634, 4647, 4740, 4768, 4769, 4771, 4776})
_ACCOUNT_NAMES = {"S-1-5-18": "SYSTEM", "S-1-5-19": "LOCAL SERVICE", "S-1-5-20": "NETWORK SERVICE",
                  "S-1-5-7": "ANONYMOUS LOGON"}
_IMAGE_FIELDS = ("NewProcessName", "ProcessName", "Image", "SourceImage", "Application", "ImagePath",
                 "CallerProcessName")


def _sid_name(sid: str | None) -> str:
    text = (sid or "").strip()
    return _ACCOUNT_NAMES.get(text.upper(), text) if present(text) else ""


#: Fields that hold a SID: the User column shows a well-known one by its name (`SYSTEM`).
_SID_FIELDS = frozenset({"SubjectUserSid", "TargetUserSid", "TargetSid", "UserID"})


def _user_names(event: Event) -> tuple[str, ...]:
    """The fields that may name the event's actor, first present wins (the module docstring)."""
    table = _table(event)
    if table is SYSMON:
        return SYSMON_USER_FIELDS
    if table is DEFENDER:
        return ("Detection User",)
    if event.event_id in _TARGET_ACTS and table is _GENERIC:
        return ("TargetUserName", "TargetUserSid", "TargetSid")
    names: tuple[str, ...] = ("SubjectUserName", "SubjectUserSid")
    if "TargetUserName" not in dict(event.data) and "MemberName" not in dict(event.data) and event.event_id != 7045:
        names += ("User", "UserName", "AccountName")
    return names


def _user_shown(name: str, value: str) -> str:
    return _sid_name(value) if name in _SID_FIELDS else clean(value)


def event_user_field(event: Event) -> tuple[str, str] | None:
    """(field, value as logged) behind the event's User cell, or None when it names nobody:
    `UserID` for the System user. A pivot on the cell filters by this, not by what the cell
    shows (`SYSTEM` for S-1-5-18, a value cleaned for the table), which no field holds."""
    for name in _user_names(event):
        value = event.get(name)
        if value is not None and present(value) and _user_shown(name, value):
            return name, value
    sid = event.user_sid
    if sid is not None and _sid_name(sid):
        return "UserID", sid
    return None


def event_user(event: Event) -> str:
    """Who did it (see the module docstring): a name a human recognises, else the SID; ''
    when the event names nobody."""
    found = event_user_field(event)
    return _user_shown(*found) if found is not None else ""


def event_image(event: Event) -> str:
    """The executable the event is about (base name), or ''."""
    return basename(g(event, *_IMAGE_FIELDS))
