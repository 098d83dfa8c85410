"""The EventData fields the correlation engine reads, and how it reads their numbers.

Shared by the scan's general steps (`core.correlate.scan`) and its loop over raw rows
(`core.correlate.scan_rows`), and by the model's own readers: names are matched case-blind to one
canonical spelling, numbers parsed once while they repeat (both bounded: names and values come
from the log).
"""

from __future__ import annotations

from core.correlate.roles import field_names, sysmon_field_names
from core.model.values import as_int as parse_int

Values = dict[str, str | None]
Pairs = tuple[tuple[str, str], ...]

#: EventData names the trackers read besides those the roles table names, so that exports that
#: change their case still match.
_TRACKER_NAMES = (
    "NewProcessName",
    "ProcessName",
    "ParentProcessName",
    "CommandLine",
    "TokenElevationType",
    "MandatoryLabel",
    "SubjectUserSid",
    "TargetUserSid",
    "ObjectType",
    "ObjectName",
    "AccessList",
    "AccessMask",
    "LogonType",
    "IpAddress",
    "WorkstationName",
    "AuthenticationPackageName",
    "LmPackageName",
    "LogonProcessName",
    "ElevatedToken",
    "TargetLinkedLogonId",
    "GrantedAccess",
    "User",
    "UtcTime",  # a Sysmon 1 logged late is joined by the creation time it says (`sysmon.creation_said`)
)
_CANON = {n.casefold(): n for n in (*_TRACKER_NAMES, *field_names(), *sysmon_field_names())}


#: `_CANON` by a name as logged (None: not read), so that the usual names cost one lookup and no
#: `casefold`; bounded, since names come from the log (an attacker's log can hold any).
_SEEN: dict[str, str | None] = {}
SEEN_NAMES = 4096


def canonical(name: str) -> str | None:
    """The canonical case of an EventData name the engine reads (None: not read)."""
    seen = _SEEN
    if name in seen:
        return seen[name]
    canon = _CANON.get(name.casefold())
    if len(seen) < SEEN_NAMES:
        seen[name] = canon
    return canon


def values_of(pairs: tuple[tuple[str, str], ...]) -> Values:
    """The EventData fields the engine reads (first value per name), in their canonical case:
    only those are kept, so a model over millions of events holds no more than it needs."""
    out: Values = {}
    seen = _SEEN
    for name, value in pairs:
        if name in seen:
            canon = seen[name]
        else:
            canon = _CANON.get(name.casefold())
            if len(seen) < SEEN_NAMES:
                seen[name] = canon
        if canon is not None and canon not in out:
            out[canon] = value
    return out


#: `parse_int` of values already read, bounded (cleared when full): pids, handles and logon ids
#: repeat from event to event, and a dict lookup costs a tenth of the regexes.
_PARSED: dict[str, int | None] = {}
PARSED_VALUES = 4096
_UNSEEN = object()


def as_int(value: str | None) -> int | None:
    """`core.model.values.as_int`, remembered."""
    if value is None:
        return None
    n = _PARSED.get(value, _UNSEEN)
    if n is _UNSEEN:
        n = parse_int(value)
        if len(_PARSED) >= PARSED_VALUES:
            _PARSED.clear()
        _PARSED[value] = n
    return n  # type: ignore[return-value]


def pid_of(values: Values, names: tuple[str, ...]) -> int | None:
    """The first of the fields `names` that holds a number."""
    for name in names:
        pid = as_int(values.get(name))
        if pid is not None:
            return pid
    return None


def logon_of(values: Values, names: tuple[str, ...]) -> int | None:
    """The first non-zero logon id of the fields `names` (else the last one's value)."""
    lid: int | None = None
    for name in names:
        lid = as_int(values.get(name))
        if lid:
            return lid
    return lid
