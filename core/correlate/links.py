"""The correlation engine's answers as plain frozen data: links from an event to the process,
handle and session instances behind it (each with its confidence and reason), and `Node`, the
one tree node type the UI, the CLI and the exports all show.

Labels and reasons hold event data verbatim (attacker-controlled): whoever renders them must
show them as literal text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.correlate.handles import Handle
from core.correlate.processes import SYSTEM_PID, Process, Ref, pid_text
from core.correlate.roles import Titles
from core.correlate.sessions import Session

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel


@dataclass(frozen=True, slots=True)
class Node:
    """One line of a correlation or process tree: `store_id` is the store row id of its
    evidence event (to jump to), None when the line has none."""

    label: str
    confidence: str
    store_id: int | None = None
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProcessLink:
    """An event's link to a process instance (None when no instance could be named)."""

    pid: int | None
    process: Process | None
    confidence: str
    reason: str
    candidates: tuple[Process, ...] = ()

    @property
    def name(self) -> str:
        if self.process is not None:
            return self.process.name
        return "System" if self.pid == SYSTEM_PID else "?"

    @property
    def label(self) -> str:
        if self.process is not None:
            return self.process.label
        if self.pid is None:  # (a 4688 without a NewProcessId: not "? ?")
            return "no process id"
        return f"{self.name} {pid_text(self.pid)} ({self.pid})"


@dataclass(frozen=True, slots=True)
class HandleLink:
    """An event's link to a handle instance."""

    handle_id: int | None
    handle: Handle | None
    confidence: str
    reason: str
    candidates: tuple[Handle, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionLink:
    """An event's link to a logon session (`session` None for well-known or missing ones)."""

    logon_id: int
    session: Session | None
    confidence: str
    reason: str
    user: str | None


@dataclass(frozen=True, slots=True)
class Related:
    """An event tied to the correlated one, and how (`source handle opened`, ...)."""

    ref: Ref
    relation: str


@dataclass(frozen=True, slots=True)
class EventLink:
    """A link from the correlated event to another record beyond its process, handle and
    session roles: the other channel's record of the same access or install, the install that
    started this process, the process a service or task started... (`relation` says which)."""

    relation: str
    ref: Ref | None
    confidence: str
    reason: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Duplication:
    """One 4690 with both processes and both handles resolved (the Handles view's rows)."""

    event: Ref
    computer: str
    source: ProcessLink
    target: ProcessLink
    source_handle: HandleLink
    target_handle: HandleLink
    session: SessionLink | None

    @property
    def source_name(self) -> str:
        return self.source.name

    @property
    def target_name(self) -> str:
        return self.target.name

    @property
    def object_name(self) -> str:
        """What the duplicated handle is to: its object (a process handle names the target
        process image), from the target handle, else the source handle; "" when unknown."""
        for link in (self.target_handle, self.source_handle):
            h = link.handle
            if h is not None and (h.object_name or h.object_type):
                return " ".join(x for x in (h.object_type, h.object_name) if x)
        return ""


@dataclass(frozen=True)
class Correlation:
    """Everything tied to one event. Which roles apply depends on the event:

    * 4690: source/target process (SourceProcessId/TargetProcessId), source/target handle;
    * 4688: source = the creator (parent), target = the new process;
    * 4689: source = the exiting process;
    * 4656/4661/4663/4660/4658: source = the process named by ProcessId, source handle = the
      handle's instance (for a 4658 under the source pid of a 4690 into System, the target handle);
    * 4624/4634/4647/4672 and any event with a logon id: the session;
    * other events: whatever their ProcessId/SourceProcessId/TargetProcessId and logon id name.
    Roles that do not apply are None.
    """

    event: Ref
    computer: str
    summary: str
    source_process: ProcessLink | None
    target_process: ProcessLink | None
    source_handle: HandleLink | None
    target_handle: HandleLink | None
    session: SessionLink | None
    related: tuple[Related, ...]
    model: CorrelationModel = field(repr=False, compare=False)
    #: Links beyond the roles above (`EventLink`); `titles` overrides the roles table's for
    #: events outside it (Sysmon).
    links: tuple[EventLink, ...] = ()
    titles: Titles | None = None
    #: This event is a copy of that one (the same record loaded twice: `core.model.same_records`),
    #: whose answers these are.
    same_as: Ref | None = None

    def tree(self) -> Node:
        """The correlation as a tree for the UI, CLI and export, every node labelled with its
        confidence (`core.correlate.tree`)."""
        return self.model.tree_of(self)
