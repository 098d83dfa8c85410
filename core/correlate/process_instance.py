"""A process instance as the model keeps it (`Process`), and how it keeps its events: as their
positions in the model's facts table, made into `Ref`s when read.

Apart from the tracker that builds them (`core.correlate.processes`, which re-exports `Process`):
the views, trees and persistence read instances, only the scan builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.correlate.evidence import SYSTEM_PID, Ref, basename
from core.model.slots import slot_maker
from core.model.values import hex_id

if TYPE_CHECKING:
    from core.correlate.facts import FactsTable
    from core.correlate.refcolumn import RefSource


@dataclass(frozen=True, slots=True)
class SysmonView:
    """Sysmon's records of a process instance: its ProcessGuid, its Sysmon 1 and Sysmon 5, why
    the Sysmon 1 and the 4688 are taken as one process, and the other Sysmon events its GUID
    (or, when Sysmon logged another GUID, its pid and time) names."""

    guid: str | None
    created: Ref | None
    exited: Ref | None
    joined: str | None
    events: tuple[Ref, ...]


#: The reason of an instance a 4688 created (`ProcessTracker._confidence`): `ProcessTable`
#: keeps it as that record id and makes it again when read.
CREATED_BY_4688 = "created by 4688 record {}"

#: A model event an instance keeps: its position in the facts table, or (a Sysmon event, which
#: the table does not hold) its `Ref`; None for none.
Held = Ref | int | None
#: Where an instance's life begins or ends: the position in the facts table of the event it
#: begins or ends at, the bound itself when that event is not there, None for none.
Bound = tuple[int, int] | int | None


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Process:
    """One process instance on one computer.

    `created` is its 4688 (None for an inferred instance); `pre_existing` says it was running
    before the log begins (no earlier instance of that pid in the log). `parent` is the index
    (in `CorrelationModel.processes`) of the instance that created it, as alive at creation
    time. `start`/`end` bound its life on the model time line ((ts, order); None = before the
    log / to the end of the log); `exited` is its 4689 and `replaced_by` the 4688 that reused
    its pid without a 4689 first. `names` lists every distinct image name events gave it, with
    the first record naming it: more than one means the pid was probably reused unseen.

    It can be weakly referenced: `ProcessTable` hands out the one alive of each instance (every
    holder shares it, as they shared the frozen object when the model held them all).

    Its model events are held as their positions in the model's facts table (`created_at`,
    `exited_at`...: a `Ref` itself only for a Sysmon event, which the table does not hold), made
    into `Ref`s when read: a `Ref` held per event was a third of what an instance cost.
    """

    index: int
    computer: str
    pid: int
    created_at: Held
    image: str | None
    command_line: str | None
    parent_pid: int | None
    parent: int | None
    user: str | None
    user_sid: str | None
    logon_id: int | None
    elevation: str | None
    integrity: str | None
    exited_at: Held
    replaced_by_at: Held
    #: `start`/`end` as the position in the facts table of the event they are the time of
    #: (a `(ts, order)` bound itself when that event is not there, as a Sysmon one).
    start_at: Bound
    end_at: Bound
    first_seen_at: Ref | int
    pre_existing: bool
    confidence: str
    reason: str
    #: Every name with the record naming it; None for the usual one: its image, named by its
    #: first record (`names` words both ways alike).
    names_at: tuple[tuple[str, Ref | int], ...] | None
    children: Sequence[int]
    handles: Sequence[int]
    #: Sysmon's view of the same instance (None when Sysmon never names it): one field, so that
    #: the instances of a log without Sysmon cost what they did.
    sysmon: SysmonView | None = None
    #: Where the `_at` positions are (the model's facts table).
    facts: RefSource | None = field(default=None, repr=False, compare=False)

    def _ref(self, held: Held) -> Ref | None:
        if isinstance(held, int):
            assert self.facts is not None
            return self.facts.ref(held)
        return held

    @property
    def created(self) -> Ref | None:
        return self._ref(self.created_at)

    @property
    def exited(self) -> Ref | None:
        return self._ref(self.exited_at)

    @property
    def replaced_by(self) -> Ref | None:
        return self._ref(self.replaced_by_at)

    @property
    def first_seen(self) -> Ref:
        return self._held(self.first_seen_at)

    @property
    def start(self) -> tuple[int, int] | None:
        return self._bound(self.start_at)

    @property
    def end(self) -> tuple[int, int] | None:
        return self._bound(self.end_at)

    def _bound(self, bound: Bound) -> tuple[int, int] | None:
        if isinstance(bound, int):
            assert self.facts is not None
            return self.facts.key(bound)
        return bound

    @property
    def names(self) -> tuple[tuple[str, Ref], ...]:
        if self.names_at is None:
            assert self.image is not None
            return ((self.image, self.first_seen),)
        return tuple((name, self._held(held)) for name, held in self.names_at)

    def _held(self, held: Ref | int) -> Ref:
        if isinstance(held, int):
            assert self.facts is not None
            return self.facts.ref(held)
        return held

    @property
    def guid(self) -> str | None:
        return self.sysmon.guid if self.sysmon is not None else None

    @property
    def sysmon_created(self) -> Ref | None:
        return self.sysmon.created if self.sysmon is not None else None

    @property
    def sysmon_exited(self) -> Ref | None:
        return self.sysmon.exited if self.sysmon is not None else None

    @property
    def joined(self) -> str | None:
        return self.sysmon.joined if self.sysmon is not None else None

    @property
    def sysmon_events(self) -> tuple[Ref, ...]:
        return self.sysmon.events if self.sysmon is not None else ()

    @property
    def name(self) -> str:
        """The image's file name, or `?` when no event names the process."""
        return process_name(self.pid, self.image)

    @property
    def label(self) -> str:
        """`cmd.exe 0x8cc (2252)`: how the UI and CLI name an instance."""
        return process_label(self.pid, self.image)


#: `Process(...)` of every field, without the frozen dataclass' `__init__`.
make_process = slot_maker(Process)


def process_name(pid: int, image: str | None) -> str:
    """`Process.name` of an instance of `pid` named `image` (read from columns, none made)."""
    if pid == SYSTEM_PID and not image:
        return "System"
    return basename(image) or "?"


def process_label(pid: int, image: str | None) -> str:
    """`Process.label` of an instance of `pid` named `image` (read from columns, none made)."""
    return f"{process_name(pid, image)} {hex_id(pid)} ({pid})"


def keeper(facts: FactsTable) -> Callable[[Ref | None], Held]:
    """What an instance keeps of a `Ref`: its position in `facts`, or itself when not there."""
    def keep(ref: Ref | None) -> Held:
        if ref is None:
            return None
        pos = facts.at_order(ref.order)
        return ref if pos is None else pos
    return keep


def bounder(facts: FactsTable) -> Callable[..., Bound]:
    """What an instance keeps of a `start`/`end` bound: the position in `facts` of the event it
    is the key of (the same int object as one of `held`, its events' positions, when it is one of
    them: no int of its own), else the bound itself."""
    def bound(key: tuple[int, int] | None, *held: Held) -> Bound:
        if key is None:
            return None
        pos = facts.at_order(key[1])
        if pos is None or facts.key(pos) != key:
            return key
        for at in held:
            if at == pos and type(at) is int:
                return at
        return pos
    return bound
