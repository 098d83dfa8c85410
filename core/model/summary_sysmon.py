"""One-line summaries of Sysmon, Defender and PowerShell events: processes, connections, image
loads, remote threads, process access (rights decoded), files, registry, DNS, detections and
script text. Their EventIDs overlap the Security log's, so `core.model.summary` picks the table
by provider before looking the ID up."""

from __future__ import annotations

import re
from collections.abc import Callable

from core.model.access import decode_access_mask
from core.model.event import Event
from core.model.summary_util import basename, clean, g, proc, short_hex
from core.model.values import as_int

# -- Sysmon ---------------------------------------------------------------------------------------


def _img(e: Event, name: str = "Image") -> str:
    return basename(g(e, name)) or "?"


def _s1(e: Event) -> str:
    text = f"{_img(e, 'ParentImage')} -> {_img(e)} ({g(e, 'ProcessId') or '?'})"
    cmd = g(e, "CommandLine")
    return f"{text}: {cmd}" if cmd else text


def _s3(e: Event) -> str:
    host = g(e, "DestinationHostname")
    dst = f"{g(e, 'DestinationIp') or '?'}:{g(e, 'DestinationPort') or '?'}"
    proto = g(e, "Protocol")
    return f"{_img(e)} -> {dst}" + (f" ({host})" if host else "") + (f" {proto}" if proto else "")


def _s7(e: Event) -> str:
    signed = g(e, "Signed")
    sig = g(e, "Signature")
    how = f"signed by {sig}" if signed.lower() == "true" and sig else ("unsigned" if signed.lower() == "false" else "")
    return f"{_img(e)} loaded {g(e, 'ImageLoaded') or '?'}" + (f" ({how})" if how else "")


def _s8(e: Event) -> str:
    start = g(e, "StartFunction") or g(e, "StartAddress")
    tail = f" at {start}" if start else ""
    return f"{_img(e, 'SourceImage')} created a remote thread in {_img(e, 'TargetImage')}{tail}"


def _s10(e: Event) -> str:
    text = f"{_img(e, 'SourceImage')} opened {_img(e, 'TargetImage')}"
    mask = as_int(g(e, "GrantedAccess"))
    if mask is None:
        return text
    return f"{text} ({short_hex(g(e, 'GrantedAccess'))}: {decode_access_mask(mask, 'process')})"


def _s11(e: Event) -> str:
    return f"{_img(e)} created {g(e, 'TargetFilename') or '?'}"


def _s12(e: Event) -> str:
    kind = g(e, "EventType") or "registry"
    return f"{_img(e)} {kind} {g(e, 'TargetObject') or '?'}"


def _s13(e: Event) -> str:
    return f"{_img(e)} set {g(e, 'TargetObject') or '?'} = {g(e, 'Details') or '?'}"


def _s22(e: Event) -> str:
    results = g(e, "QueryResults")
    text = f"{_img(e)} DNS query {g(e, 'QueryName') or '?'}"
    return f"{text} -> {results}" if results else text


SYSMON: dict[int, Callable[[Event], str]] = {
    1: _s1, 3: _s3, 7: _s7, 8: _s8, 10: _s10, 11: _s11, 12: _s12, 13: _s13, 14: _s12, 22: _s22,
}

# -- Defender -------------------------------------------------------------------------------------


def _d1116(e: Event) -> str:
    sev = g(e, "Severity Name")
    text = f"malware detected: {g(e, 'Threat Name') or '?'}" + (f" ({sev})" if sev else "")
    path = g(e, "Path")
    by = basename(g(e, "Process Name"))
    text += f" in {path}" if path else ""
    return f"{text} by {by}" if by and by.lower() != "unknown" else text


def _d1117(e: Event) -> str:
    action = g(e, "Action Name") or "action taken"
    return f"{action}: {g(e, 'Threat Name') or '?'}" + (f" in {g(e, 'Path')}" if g(e, "Path") else "")


DEFENDER: dict[int, Callable[[Event], str]] = {1116: _d1116, 1117: _d1117}

# -- PowerShell -----------------------------------------------------------------------------------

_HOST_APP = re.compile(r"Host ?Application\s*=\s*([^\n\r]{1,1000})")
_INVOCATION = re.compile(r"CommandInvocation\(([^)]{1,200})\)")


def _4104(e: Event) -> str:
    part = ""
    number, total = as_int(g(e, "MessageNumber")), as_int(g(e, "MessageTotal"))
    if number is not None and total is not None and total > 1:
        part = f" (part {number}/{total})"
    return f"script block{part}: {g(e, 'ScriptBlockText')}"


def _4103(e: Event) -> str:
    payload = g(e, "Payload")
    host = _HOST_APP.search(e.get("ContextInfo") or "")
    text = f"pipeline: {payload}" if payload else "pipeline executed"
    return f"{text} (host: {clean(host.group(1))})" if host and not payload else text


def _800(e: Event) -> str:
    texts = [v for _, v in e.data if v and v.strip()]
    joined = "\n".join(texts)
    invoked = [m.group(1) for m in _INVOCATION.finditer(joined[:65536])][:8]
    host = _HOST_APP.search(joined)
    if invoked:
        return "pipeline: " + ", ".join(dict.fromkeys(clean(i) for i in invoked))
    return f"pipeline executed by {clean(host.group(1))}" if host else f"pipeline: {clean(texts[0]) if texts else '?'}"


POWERSHELL: dict[int, Callable[[Event], str]] = {4104: _4104, 4103: _4103, 800: _800}


#: Sysmon's `User` (`CORP\\bob`), or the source process's user of events 8/10 (SourceUser): the
#: User column's fields for Sysmon (`core.model.summary.event_user_field`).
SYSMON_USER_FIELDS = ("User", "SourceUser")


__all__ = ["DEFENDER", "POWERSHELL", "SYSMON", "SYSMON_USER_FIELDS", "proc"]
