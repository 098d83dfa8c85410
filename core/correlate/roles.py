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
