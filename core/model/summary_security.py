"""One-line summaries of Security (and System) events triage lives on: logons, Kerberos and NTLM,
processes, object access, services, scheduled tasks, audit policy, shares, the firewall and
cleared logs. Each names who/what/where and decodes its codes (`core.model.codes`,
`core.model.access`) as the detail pane does. Account and group changes: `summary_accounts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.model.access import decode_access_mask, decode_messages
from core.model.codes import (
    IP_PROTOCOLS,
    encryption_type,
    kerberos_status,
    logon_type,
    message,
    status_text,
    ticket_options,
)
from core.model.event import Event
from core.model.summary_util import basename, clean, g, proc, short_hex, source_of, who
from core.model.values import as_int

# -- logons and authentication -----------------------------------------------------------------


def _auth(e: Event) -> str:
    pkg = g(e, "AuthenticationPackageName")
    lm = g(e, "LmPackageName")
    if lm and pkg.upper() in ("NTLM", "NEGOTIATE"):
        pkg = lm  # "NTLM V1" is the finding, not "NTLM"
    return f" via {pkg}" if pkg else ""


def _4624(e: Event) -> str:
    elevated = " (elevated)" if g(e, "ElevatedToken") in ("%%1842", "Yes") else ""
    return f"{who(e, 'TargetUserName')} logon type {logon_type(e.get('LogonType'))}{source_of(e)}{_auth(e)}{elevated}"


def _4625(e: Event) -> str:
    status = g(e, "SubStatus")
    if not status or as_int(status) == 0:
        status = g(e, "Status")
    why = f": {status_text(status)}" if status else ""
    return f"failed logon {who(e, 'TargetUserName')} type {logon_type(e.get('LogonType'))}{source_of(e)}{_auth(e)}{why}"


def _4634(e: Event) -> str:
    kind = f" type {logon_type(e.get('LogonType'))}" if g(e, "LogonType") else ""
    return f"{who(e, 'TargetUserName')} logoff{kind} ({short_hex(e.get('TargetLogonId'))})"


def _4647(e: Event) -> str:
    return f"{who(e, 'TargetUserName')} initiated logoff ({short_hex(e.get('TargetLogonId'))})"


def _4648(e: Event) -> str:
    target = g(e, "TargetServerName")
    text = f"{who(e, 'SubjectUserName')} used explicit credentials of {who(e, 'TargetUserName')}"
    if target:
        text += f" for {target}"
    name = proc(e, "ProcessName")
    return f"{text} ({name})" if name else text


def _4672(e: Event) -> str:
    privs = g(e, "PrivilegeList")
    head = f"special privileges for {who(e, 'SubjectUserName')}"
    return f"{head}: {privs}" if privs else head


def _4768(e: Event) -> str:
    status = kerberos_status(e.get("Status"))
    text = f"Kerberos TGT for {who(e, 'TargetUserName')}{source_of(e)}: {status or '?'}"
    options = ticket_options(e.get("TicketOptions"))
    etype = encryption_type(e.get("TicketEncryptionType"))
    if etype and etype != "failed":
        text += f", {etype}"
    return f"{text}, options {options}" if options else text


def _4769(e: Event) -> str:
    status = kerberos_status(e.get("Status"))
    text = f"Kerberos service ticket {g(e, 'ServiceName') or '?'} for {who(e, 'TargetUserName')}{source_of(e)}"
    etype = encryption_type(e.get("TicketEncryptionType"))
    text += f": {status or '?'}"
    if etype and etype != "failed":
        text += f", {etype}"
    options = ticket_options(e.get("TicketOptions"))
    return f"{text}, options {options}" if options else text


def _4771(e: Event) -> str:
    return f"Kerberos pre-auth failed for {who(e, 'TargetUserName')}{source_of(e)}: {kerberos_status(e.get('Status'))}"


def _4776(e: Event) -> str:
    status = status_text(e.get("Status")) or "?"
    return f"NTLM validation of {who(e, 'TargetUserName')}{source_of(e)}: {status}"


# -- processes and objects -----------------------------------------------------------------------


def _4688(e: Event) -> str:
    parent = basename(e.get("ParentProcessName")) or f"pid {short_hex(e.get('ProcessId'))}"
    child = basename(e.get("NewProcessName")) or "?"
    text = f"{parent} -> {child} ({short_hex(e.get('NewProcessId'))})"
    cmd = g(e, "CommandLine")
    return f"{text}: {cmd}" if cmd else text


def _4689(e: Event) -> str:
    status = g(e, "Status")
    tail = f" status {short_hex(status)}" if status else ""
    return f"{proc(e, 'ProcessName') or '?'} ({short_hex(e.get('ProcessId'))}) exited{tail}"


def _object(e: Event) -> str:
    return f"{g(e, 'ObjectType')} {g(e, 'ObjectName')}".strip() or "object"


def access_text(e: Event) -> str:
    """The rights asked or used: the `%%` AccessList in words, else the mask decoded for the
    object's type; '' when the event has neither."""
    listed = decode_messages(g(e, "AccessList")) if g(e, "AccessList") else None
    if listed:
        return listed
    mask = as_int(g(e, "AccessMask"))
    return decode_access_mask(mask, g(e, "ObjectType") or None) if mask is not None else ""


def _with_access(text: str, e: Event) -> str:
    rights = access_text(e)
    return f"{text}: {rights}" if rights else text


def _4656(e: Event) -> str:
    who_did = proc(e) or short_hex(e.get("ProcessId"))
    return _with_access(f"{who_did} requested handle {short_hex(e.get('HandleId'))} to {_object(e)}", e)


def _4663(e: Event) -> str:
    who_did = proc(e) or short_hex(e.get("ProcessId"))
    return _with_access(f"{who_did} accessed {_object(e)} via handle {short_hex(e.get('HandleId'))}", e)


def _4658(e: Event) -> str:
    return f"handle {short_hex(e.get('HandleId'))} closed by {proc(e) or short_hex(e.get('ProcessId'))}"


def _4690(e: Event) -> str:
    return (
        f"handle {short_hex(e.get('SourceHandleId'))} of {short_hex(e.get('SourceProcessId'))} "
        f"duplicated into {short_hex(e.get('TargetProcessId'))} as {short_hex(e.get('TargetHandleId'))}"
    )


# -- services, tasks, policy ---------------------------------------------------------------------

_START_TYPES = {"0": "boot start", "1": "system start", "2": "auto start", "3": "demand start", "4": "disabled"}


def _service(name: str, image: str, start: str, account: str) -> str:
    text = f"service installed: {name or '?'}"
    if image:
        text += f" ({image})"
    start = _START_TYPES.get(start, start)
    if start:
        text += f", {start}"
    return f"{text} as {account}" if account else text


def _4697(e: Event) -> str:
    return _service(g(e, "ServiceName"), g(e, "ServiceFileName"), g(e, "ServiceStartType"), g(e, "ServiceAccount"))


def _7045(e: Event) -> str:
    return _service(g(e, "ServiceName"), g(e, "ImagePath"), g(e, "StartType"), g(e, "AccountName"))


_TASK_EXEC = re.compile(r"<Exec>.{0,4000}?</Exec>", re.DOTALL)
_COMMAND = re.compile(r"<Command>(.{0,2000}?)</Command>", re.DOTALL)
_ARGS = re.compile(r"<Arguments>(.{0,2000}?)</Arguments>", re.DOTALL)
_XML_ENTITIES = (("&quot;", '"'), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def task_command(content: str | None) -> str:
    """The command a scheduled task's XML (4698 TaskContent) runs: `<Command> <Arguments>`."""
    text = (content or "")[:65536]
    exec_block = _TASK_EXEC.search(text)
    block = exec_block.group(0) if exec_block else text
    parts = [m.group(1).strip() for rx in (_COMMAND, _ARGS) if (m := rx.search(block))]
    out = " ".join(p for p in parts if p)
    for entity, char in _XML_ENTITIES:
        out = out.replace(entity, char)
    return clean(out)


def _task(verb: str) -> Callable[[Event], str]:
    def build(e: Event) -> str:
        text = f"scheduled task {verb}: {g(e, 'TaskName') or '?'}"
        cmd = task_command(e.get("TaskContent") or e.get("TaskContentNew"))
        return f"{text}: {cmd}" if cmd else text

    return build


def _4719(e: Event) -> str:
    what = " / ".join(x for x in (message(g(e, "CategoryId")), message(g(e, "SubcategoryId"))) if x)
    return f"audit policy changed: {what or '?'}: {message(g(e, 'AuditPolicyChanges')) or '?'}"


def _1102(e: Event) -> str:
    return f"audit log cleared by {who(e, 'SubjectUserName')}"


def _104(e: Event) -> str:
    return f"{g(e, 'Channel') or '?'} log cleared by {who(e, 'SubjectUserName')}"


# -- shares and network ---------------------------------------------------------------------------


def _5140(e: Event) -> str:
    return _with_access(f"share {g(e, 'ShareName') or '?'} accessed{source_of(e)}", e)


def _5145(e: Event) -> str:
    path = g(e, "RelativeTargetName")
    target = f"{g(e, 'ShareName') or '?'}\\{path}" if path else g(e, "ShareName") or "?"
    return _with_access(f"share object {target}{source_of(e)}", e)


def _5156(e: Event) -> str:
    app = basename(g(e, "Application")) or "?"
    proto = IP_PROTOCOLS.get(as_int(g(e, "Protocol")) or -1, g(e, "Protocol"))
    src = f"{g(e, 'SourceAddress')}:{g(e, 'SourcePort')}"
    dst = f"{g(e, 'DestAddress')}:{g(e, 'DestPort')}"
    direction = message(g(e, "Direction"))
    return f"connection allowed {app} {src} -> {dst} {proto}" + (f" ({direction})" if direction else "")


SECURITY: dict[int, Callable[[Event], str]] = {
    4624: _4624, 4625: _4625, 4634: _4634, 4647: _4647, 4648: _4648, 4672: _4672,
    4768: _4768, 4769: _4769, 4771: _4771, 4776: _4776,
    4688: _4688, 4689: _4689, 4656: _4656, 4663: _4663, 4658: _4658, 4690: _4690,
    4697: _4697, 7045: _7045, 4698: _task("created"), 4699: _task("deleted"), 4702: _task("updated"),
    4719: _4719, 1102: _1102, 104: _104,
    5140: _5140, 5145: _5145, 5156: _5156,
}
