"""Helpers the one-line summaries share (`core.model.summary` and its per-source tables): one
clean line per value, base names of paths, Windows' short hex, the first present field."""

from __future__ import annotations

import re

from core.model.event import Event
from core.model.values import as_int

#: Longest summary we build: a cell shows far less, and reports should not carry megabytes.
MAX_SUMMARY = 400
_SPACES = re.compile(r"\s+")
_CN = re.compile(r"\s*CN=((?:[^,\\]|\\.){1,256})", re.IGNORECASE)


def clean(value: str | None) -> str:
    """One line: runs of whitespace (newlines included) become one space."""
    if not value:
        return ""
    return _SPACES.sub(" ", value[: MAX_SUMMARY * 2]).strip()


def present(value: str | None) -> bool:
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
        return clean(value) or "?"
    if n < 0:
        n += 1 << 64
    return f"0x{n:x}"


def g(event: Event, *names: str) -> str:
    """The first present value among `names` (cleaned), or ''."""
    for name in names:
        value = event.get(name)
        if present(value):
            return clean(value)
    return ""


def who(event: Event, *names: str) -> str:
    """A name to show for an account (the first present of `names`), or '?'."""
    return g(event, *names) or "?"


def member(event: Event) -> str:
    """The member of a group change: `bob` from `CN=bob,OU=...`, else the member SID."""
    name = g(event, "MemberName")
    if name:
        m = _CN.match(name)
        return m.group(1).replace("\\,", ",") if m else name
    return g(event, "MemberSid", "TargetUserName") or "?"


def proc(event: Event, *names: str) -> str:
    """The base name of the first present image among `names` (default: the process's own)."""
    return basename(g(event, *(names or ("ProcessName", "Image", "NewProcessName", "Application"))))


def source_of(event: Event) -> str:
    """` from 10.0.0.9 (WS02)` / ` from WS02` / '' for a logon's or request's origin."""
    ip = g(event, "IpAddress", "SourceNetworkAddress", "ClientAddress")
    if ip.startswith("::ffff:"):
        ip = ip[7:]
    ws = g(event, "WorkstationName", "Workstation", "ClientName")
    if ip in ("::1", "127.0.0.1") and ws:
        ip = ""
    if ip and ws and ws.lower() != ip.lower():
        return f" from {ip} ({ws})"
    return f" from {ip or ws}" if ip or ws else ""
