"""What each EventID means to correlation, as one table: adding an event type is adding a row.

A row (`Role`) says what the event does (`Act`: creates a process, opens a handle, ends a
session...), which of its EventData fields name the acting (source) process, the target or new
process, the handles and the logon session, and how its links are titled in trees, related-event
lists and its one-line summary. The scan (`core.correlate.scan`), the model
(`core.correlate.model`) and the trees (`core.correlate.tree`) read this table; none of them
tests an EventID itself.

Plain data: imports nothing of the project, so the trackers may read it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Act(Enum):
    """What an event does to the instances the trackers follow."""

    CREATE = "create"  # a process is created: source = its creator, target = the new process
    EXIT = "exit"  # a process exits (source)
    OPEN = "open"  # the source process opens a handle
    USE = "use"  # the source process uses a handle
    CLOSE = "close"  # the source process closes a handle
    DUPLICATE = "duplicate"  # a handle of the source process is duplicated into the target
    LOGON = "logon"  # a logon session begins
    LOGOFF = "logoff"  # a logon session ends
    PRIVILEGES = "privileges"  # a session is given special privileges (logged next to its logon)
    LOOKUP = "lookup"  # not in the model: its pids and logon id are looked up in it


#: The acts of the handle tracker and of the session tracker.
HANDLE_ACTS = frozenset({Act.OPEN, Act.USE, Act.CLOSE})
SESSION_ACTS = frozenset({Act.LOGON, Act.LOGOFF, Act.PRIVILEGES})

SUBJECT_USER = ("SubjectDomainName", "SubjectUserName")
TARGET_USER = ("TargetDomainName", "TargetUserName")


@dataclass(frozen=True, slots=True)
class Titles:
    """How an event's links are titled: in its tree (`source_process`...) and in its related
    events (`related_source`/`related_target` + " created", " exited"...)."""

    source_process: str = "process"
    target_process: str = "target process"
    source_handle: str = "handle"
    target_handle: str = "target handle"
    related_source: str = "process"
    related_target: str = "target process"


@dataclass(frozen=True, slots=True)
class Role:
    """One EventID's row. Field tuples are read in order: the first present value wins (a pid),
    or the first non-zero one (a logon id). `logon_id`/`user` name the event's session (its
    subject unless said otherwise); `new_logon_id` the new process's session (CREATE). An
    empty field name: the event names no such thing."""

    act: Act
    verb: str
    source_pid: tuple[str, ...] = ()
    source_name: str = ""
    target_pid: tuple[str, ...] = ()
    source_handle: str = ""
    target_handle: str = ""
    logon_id: tuple[str, ...] = ("SubjectLogonId",)
    user: tuple[str, str] = SUBJECT_USER
    new_logon_id: tuple[str, ...] = ()
    titles: Titles = Titles()


_ACTOR = ("ProcessId",)


def _handle(act: Act, verb: str) -> Role:
    """A handle event of the process that holds the handle (ProcessId, ProcessName, HandleId)."""
    return Role(act, verb, source_pid=_ACTOR, source_name="ProcessName", source_handle="HandleId")


#: The events the model is built from, by EventID.
ROLES: dict[int, Role] = {
    4688: Role(
        Act.CREATE, "process created", source_pid=_ACTOR, source_name="ParentProcessName",
        target_pid=("NewProcessId",), new_logon_id=("TargetLogonId", "SubjectLogonId"),
        titles=Titles(source_process="parent process", target_process="new process",
                      related_source="parent", related_target="process"),
    ),
    4689: Role(Act.EXIT, "process exited", source_pid=_ACTOR, source_name="ProcessName"),
    4656: _handle(Act.OPEN, "handle opened"),
    4661: _handle(Act.OPEN, "handle opened"),
    4663: _handle(Act.USE, "object accessed"),
    4660: _handle(Act.USE, "object deleted"),
    4658: _handle(Act.CLOSE, "handle closed"),
    4690: Role(
        Act.DUPLICATE, "handle duplicated", source_pid=("SourceProcessId",), target_pid=("TargetProcessId",),
        source_handle="SourceHandleId", target_handle="TargetHandleId",
        titles=Titles(source_process="source process", source_handle="source handle",
                      related_source="source process"),
    ),
    4624: Role(Act.LOGON, "logon", logon_id=("TargetLogonId",), user=TARGET_USER),
    4634: Role(Act.LOGOFF, "logoff", logon_id=("TargetLogonId",), user=TARGET_USER),
    4647: Role(Act.LOGOFF, "logoff requested", logon_id=("TargetLogonId",), user=TARGET_USER),
    4672: Role(Act.PRIVILEGES, "special privileges"),
}

#: Any other event (Sysmon, 4648, 4673...): whatever its pids and logon id name.
OTHER = Role(
    Act.LOOKUP, "record", source_pid=("SourceProcessId", "ProcessId"), target_pid=("TargetProcessId",),
    logon_id=("SubjectLogonId", "LogonId", "TargetLogonId"),
)


def role_of(event_id: int) -> Role:
    """The row of `event_id` (OTHER for events outside the model)."""
    return ROLES.get(event_id, OTHER)


def event_ids(*acts: Act) -> tuple[int, ...]:
    """The EventIDs of the rows doing one of `acts`, in order."""
    return tuple(sorted(eid for eid, role in ROLES.items() if role.act in acts))


def field_names() -> tuple[str, ...]:
    """Every EventData name the table reads."""
    names: list[str] = []
    for role in (*ROLES.values(), OTHER):
        names += [*role.source_pid, *role.target_pid, *role.logon_id, *role.user, *role.new_logon_id]
        names += [n for n in (role.source_name, role.source_handle, role.target_handle) if n]
    return tuple(dict.fromkeys(names))


# -- Sysmon: process identity by GUID -----------------------------------------------------------


class SysmonAct(Enum):
    """What a Sysmon event does to the process instances."""

    CREATE = "create"  # Sysmon 1: source = the parent, target = the new process
    EXIT = "exit"  # Sysmon 5: source = the exiting process
    ACCESS = "access"  # Sysmon 10: source opens a handle to target (GrantedAccess)
    ACT = "act"  # anything else a process (source) does, maybe to another one (target)


@dataclass(frozen=True, slots=True)
class Party:
    """The fields naming one process in a Sysmon event: its GUID, pid (decimal) and image."""

    guid: str
    pid: str
    image: str


_SELF = Party("ProcessGuid", "ProcessId", "Image")
_NONE = Party("", "", "")
_SOURCE = Party("SourceProcessGuid", "SourceProcessId", "SourceImage")
_TARGET = Party("TargetProcessGuid", "TargetProcessId", "TargetImage")


@dataclass(frozen=True, slots=True)
class SysmonRole:
    """One Sysmon EventID's row: `source`/`target` name the acting and the acted-on process."""

    act: SysmonAct
    verb: str
    source: Party = _SELF
    target: Party = _NONE
    logon_id: str = ""
    titles: Titles = Titles()


def _sysmon(verb: str) -> SysmonRole:
    return SysmonRole(SysmonAct.ACT, verb)


#: Sysmon (Microsoft-Windows-Sysmon/Operational) events by EventID. Only events that carry one of
#: their row's GUID fields are taken as Sysmon: other providers reuse these small EventIDs.
SYSMON: dict[int, SysmonRole] = {
    1: SysmonRole(
        SysmonAct.CREATE, "Sysmon process created", source=Party("ParentProcessGuid", "ParentProcessId", "ParentImage"),
        target=_SELF, logon_id="LogonId",
        titles=Titles(source_process="parent process", target_process="new process",
                      related_source="parent", related_target="process"),
    ),
    2: _sysmon("Sysmon file creation time changed"),
    3: _sysmon("Sysmon network connection"),
    5: SysmonRole(SysmonAct.EXIT, "Sysmon process terminated"),
    7: _sysmon("Sysmon image loaded"),
    8: SysmonRole(SysmonAct.ACT, "Sysmon remote thread created", source=_SOURCE, target=_TARGET,
                  titles=Titles(source_process="source process", related_source="source process")),
    9: _sysmon("Sysmon raw disk read"),
    10: SysmonRole(SysmonAct.ACCESS, "Sysmon process accessed", source=_SOURCE, target=_TARGET,
                   titles=Titles(source_process="source process", related_source="source process")),
    11: _sysmon("Sysmon file created"),
    12: _sysmon("Sysmon registry key created or deleted"),
    13: _sysmon("Sysmon registry value set"),
    14: _sysmon("Sysmon registry key renamed"),
    15: _sysmon("Sysmon file stream created"),
    17: _sysmon("Sysmon pipe created"),
    18: _sysmon("Sysmon pipe connected"),
    22: _sysmon("Sysmon DNS query"),
    23: _sysmon("Sysmon file deleted"),
    24: _sysmon("Sysmon clipboard changed"),
    25: _sysmon("Sysmon process tampering"),
    26: _sysmon("Sysmon file delete logged"),
}


def sysmon_guid_names() -> frozenset[str]:
    """Every GUID field of the Sysmon rows: an event with one of them is a Sysmon event."""
    return frozenset(p.guid for r in SYSMON.values() for p in (r.source, r.target) if p.guid)


def sysmon_field_names() -> tuple[str, ...]:
    names: list[str] = []
    for role in SYSMON.values():
        for party in (role.source, role.target):
            names += [n for n in (party.guid, party.pid, party.image) if n]
        if role.logon_id:
            names.append(role.logon_id)
    return tuple(dict.fromkeys(names))


# -- events attached to a process or session after the scan (looked up, not scanned) ---------------


@dataclass(frozen=True, slots=True)
class Attach:
    """A Security/System event attached to the process instance (`pid` fields, read in order)
    and the logon session that did it, with the fields that say what it did (`details`).
    `kind` groups rows the persistence and share links read ("service", "task", "share")."""

    verb: str
    pid: tuple[str, ...] = ("ProcessId",)
    name: str = "ProcessName"
    logon_id: tuple[str, ...] = ("SubjectLogonId",)
    details: tuple[str, ...] = ()
    kind: str = ""


#: Events attached to the process or session that did them (item 3 and 4 of issue 17).
ATTACHED: dict[int, Attach] = {
    4648: Attach("explicit credentials used", details=("TargetDomainName", "TargetUserName", "TargetServerName",
                                                       "TargetInfo")),
    4673: Attach("privileged service called", details=("PrivilegeList", "Service")),
    4674: Attach("privileged object operation", details=("PrivilegeList", "ObjectType", "ObjectName")),
    4703: Attach("token right adjusted", details=("EnabledPrivilegeList", "DisabledPrivilegeList",
                                                  "TargetUserName")),
    4697: Attach("service installed", pid=("ClientProcessId",), name="",
                 details=("ServiceName", "ServiceFileName", "ServiceAccount"), kind="service"),
    7045: Attach("service installed", pid=(), name="", logon_id=(),
                 details=("ServiceName", "ImagePath", "AccountName"), kind="service"),
    4698: Attach("scheduled task created", pid=("ClientProcessId",), name="", details=("TaskName",), kind="task"),
    4699: Attach("scheduled task deleted", pid=("ClientProcessId",), name="", details=("TaskName",), kind="task"),
    4702: Attach("scheduled task updated", pid=("ClientProcessId",), name="", details=("TaskName",), kind="task"),
    5140: Attach("network share accessed", pid=(), name="", details=("ShareName", "IpAddress"), kind="share"),
    5145: Attach("network share object checked", pid=(), name="",
                 details=("ShareName", "RelativeTargetName", "IpAddress"), kind="share"),
}


def scanned_event_ids() -> tuple[int, ...]:
    """Every EventID the scan reads from the store: the model's rows and the Sysmon rows."""
    return tuple(sorted({*ROLES, *SYSMON}))
