"""One line per event that says what happened, for the event table and reports.

An analyst scanning thousands of rows reads the summary column, not the EventData: so each
common event type gets a sentence built from the fields that matter for it (4688 "explorer.exe
-> cmd.exe (0x1a2c)", 4690 "handle 0x438 of 0x2bc duplicated into 0x4 as 0xd9c"), and every
other event falls back to its first few `name=value` pairs.

Pure and textual-free: the result is plain text which the UI still passes through
`core.model.text.printable` (values are attacker-controlled) before rendering it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.model.event import Event
from core.model.values import as_int

#: Longest summary we build: a cell shows far less, and reports should not carry megabytes.
MAX_SUMMARY = 400
_SPACES = re.compile(r"\s+")


def _clean(value: str | None) -> str:
    """One line: runs of whitespace (newlines included) become one space."""
    if not value:
        return ""
    return _SPACES.sub(" ", value[: MAX_SUMMARY * 2]).strip()


def _present(value: str | None) -> bool:
    return value is not None and value.strip() not in ("-", "")


def basename(path: str | None) -> str:
    """Last component of a Windows or POSIX path (`C:\\Windows\\cmd.exe` -> `cmd.exe`)."""
    if not path:
        return ""
    text = path.strip().strip('"')
    cut = max(text.rfind("\\"), text.rfind("/"))
    return text[cut + 1 :] if cut >= 0 else text


def short_hex(value: str | None) -> str:
    """A number as Windows' short hex (`0x0000000000000c8c` and `3212` -> `0xc8c`)."""
    n = as_int(value)
    if n is None:
        return _clean(value) or "?"
    if n < 0:
        n += 1 << 64
    return f"0x{n:x}"


def _g(event: Event, *names: str) -> str:
    """The first present value among `names` (cleaned), or ''."""
    for name in names:
        value = event.get(name)
        if _present(value):
            return _clean(value)
    return ""


def _user(event: Event, *names: str) -> str:
    name = _g(event, *names)
    return name or "?"


# -- per event type ---------------------------------------------------------------------------


def _4688(e: Event) -> str:
    parent = basename(e.get("ParentProcessName")) or f"pid {short_hex(e.get('ProcessId'))}"
    child = basename(e.get("NewProcessName")) or "?"
    text = f"{parent} -> {child} ({short_hex(e.get('NewProcessId'))})"
    cmd = _g(e, "CommandLine")
    return f"{text}: {cmd}" if cmd else text


def _4690(e: Event) -> str:
    return (
        f"handle {short_hex(e.get('SourceHandleId'))} of {short_hex(e.get('SourceProcessId'))} "
        f"duplicated into {short_hex(e.get('TargetProcessId'))} as {short_hex(e.get('TargetHandleId'))}"
    )


def _logon_from(e: Event) -> str:
    ip = _g(e, "IpAddress")
    ws = _g(e, "WorkstationName")
    if ip:
        return f" from {ip}"
    return f" from {ws}" if ws else ""


def _4624(e: Event) -> str:
    user = _user(e, "TargetUserName")
    return f"{user} logon type {_g(e, 'LogonType') or '?'}{_logon_from(e)}"


def _4625(e: Event) -> str:
    user = _user(e, "TargetUserName")
    status = _g(e, "SubStatus", "Status")
    tail = f" ({short_hex(status)})" if status else ""
    return f"failed logon {user} type {_g(e, 'LogonType') or '?'}{_logon_from(e)}{tail}"


def _4634(e: Event) -> str:
    return f"{_user(e, 'TargetUserName')} logoff ({short_hex(e.get('TargetLogonId'))})"


def _4647(e: Event) -> str:
    return f"{_user(e, 'TargetUserName')} initiated logoff ({short_hex(e.get('TargetLogonId'))})"


def _4648(e: Event) -> str:
    target = _g(e, "TargetServerName")
    proc = basename(e.get("ProcessName"))
    text = f"{_user(e, 'SubjectUserName')} used explicit credentials of {_user(e, 'TargetUserName')}"
    if target:
        text += f" for {target}"
    return f"{text} ({proc})" if proc else text


def _object(e: Event) -> str:
    kind = _g(e, "ObjectType")
    name = _g(e, "ObjectName")
    return f"{kind} {name}".strip() or "object"


def _4656(e: Event) -> str:
    proc = basename(e.get("ProcessName")) or short_hex(e.get("ProcessId"))
    return f"{proc} requested handle {short_hex(e.get('HandleId'))} to {_object(e)}"


def _4663(e: Event) -> str:
    proc = basename(e.get("ProcessName")) or short_hex(e.get("ProcessId"))
    mask = _g(e, "AccessMask")
    tail = f" (mask {short_hex(mask)})" if mask else ""
    return f"{proc} accessed {_object(e)} via handle {short_hex(e.get('HandleId'))}{tail}"


def _4658(e: Event) -> str:
    proc = basename(e.get("ProcessName")) or short_hex(e.get("ProcessId"))
    return f"handle {short_hex(e.get('HandleId'))} closed by {proc}"


def _4689(e: Event) -> str:
    proc = basename(e.get("ProcessName")) or "?"
    status = _g(e, "Status")
    tail = f" status {short_hex(status)}" if status else ""
    return f"{proc} ({short_hex(e.get('ProcessId'))}) exited{tail}"


def _4672(e: Event) -> str:
    privs = _g(e, "PrivilegeList")
    return (
        f"special privileges for {_user(e, 'SubjectUserName')}: {privs}"
        if privs
        else (f"special privileges for {_user(e, 'SubjectUserName')}")
    )


def _7045(e: Event) -> str:
    image = _g(e, "ImagePath")
    name = _g(e, "ServiceName") or "?"
    return f"service installed: {name} ({image})" if image else f"service installed: {name}"


def _4104(e: Event) -> str:
    return f"script block: {_g(e, 'ScriptBlockText')}"


def _4720(e: Event) -> str:
    return f"{_user(e, 'SubjectUserName')} created user {_user(e, 'TargetUserName')}"


def _4732(e: Event) -> str:
    member = _g(e, "MemberName", "MemberSid") or "?"
    return f"{member} added to group {_user(e, 'TargetUserName')} by {_user(e, 'SubjectUserName')}"


def _1102(e: Event) -> str:
    return f"audit log cleared by {_user(e, 'SubjectUserName')}"


def _sysmon_1(e: Event) -> str:
    parent = basename(e.get("ParentImage")) or "?"
    child = basename(e.get("Image")) or "?"
    text = f"{parent} -> {child} ({_g(e, 'ProcessId') or '?'})"
    cmd = _g(e, "CommandLine")
    return f"{text}: {cmd}" if cmd else text


def _sysmon_3(e: Event) -> str:
    image = basename(e.get("Image")) or "?"
    return f"{image} -> {_g(e, 'DestinationIp') or '?'}:{_g(e, 'DestinationPort') or '?'}"


def _sysmon_11(e: Event) -> str:
    return f"{basename(e.get('Image')) or '?'} created {_g(e, 'TargetFilename') or '?'}"


_SECURITY: dict[int, Callable[[Event], str]] = {
    4688: _4688,
    4690: _4690,
    4624: _4624,
    4625: _4625,
    4634: _4634,
    4647: _4647,
    4648: _4648,
    4656: _4656,
    4663: _4663,
    4658: _4658,
    4689: _4689,
    4672: _4672,
    4720: _4720,
    4732: _4732,
    1102: _1102,
    7045: _7045,
    4104: _4104,
}

_SYSMON: dict[int, Callable[[Event], str]] = {1: _sysmon_1, 3: _sysmon_3, 11: _sysmon_11}


def _is_sysmon(event: Event) -> bool:
    return "sysmon" in event.provider.lower() or "sysmon" in event.channel.lower()


def fallback(event: Event, count: int = 4) -> str:
    """The first few present `name=value` pairs: better than nothing for unknown types."""
    parts = [f"{name}={_clean(value)}" for name, value in event.data if _present(value)][:count]
    return " ".join(parts)


def summarize(event: Event) -> str:
    """The one-line summary of `event` (plain text, at most `MAX_SUMMARY` characters)."""
    table = _SYSMON if _is_sysmon(event) else _SECURITY
    builder = table.get(event.event_id)
    try:
        text = builder(event) if builder is not None else fallback(event)
    except Exception:  # noqa: BLE001 - odd data in one event must not break the table
        text = fallback(event)
    return text[:MAX_SUMMARY]


# -- table columns ----------------------------------------------------------------------------

_USER_FIELDS = ("TargetUserName", "SubjectUserName", "User", "UserName", "AccountName")
_IMAGE_FIELDS = ("NewProcessName", "ProcessName", "Image", "Application", "ImagePath", "CallerProcessName")


def event_user(event: Event) -> str:
    """Who the event is about: the account name a human recognises, else the System SID."""
    if event.event_id in (4688, 4656, 4663, 4658, 4689, 4690, 4672, 4648):
        name = _g(event, "SubjectUserName", "TargetUserName")
    else:
        name = _g(event, *_USER_FIELDS)
    return name or event.user_sid or ""


def event_image(event: Event) -> str:
    """The executable the event is about (base name), or ''."""
    return basename(_g(event, *_IMAGE_FIELDS))
