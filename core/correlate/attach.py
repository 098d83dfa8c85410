"""Events attached to the process instance and the logon session that did them.

Privilege use (4673/4674), token rights adjusted (4703), explicit credentials (4648: whose, to
which server), services installed (4697/7045), scheduled tasks (4698/4699/4702) and share access
(5140/5145) are not part of the scan: once the process and session timelines are built, each is
looked up by (computer, pid, time) and (computer, logon id, time) and hung on what it names,
with the link's confidence. The table of what each EventID names is `roles.ATTACHED`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.correlate.links import ProcessLink, SessionLink
from core.correlate.processes import Ref
from core.correlate.roles import ATTACHED
from core.correlate.sessions import user_name
from core.model.event import EventKeys
from core.model.values import as_int

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel

#: Fields kept besides the row's own (a task's definition names the program it runs).
_EXTRA = ("TaskContent", "TaskContentNew", "SubjectDomainName", "SubjectUserName", "IpAddress")
#: Field values kept at most this long (a task definition is a few KB of XML).
MAX_VALUE = 16_384


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached event: what it did (`verb`, `details`), the process and session behind it."""

    ref: Ref
    computer: str
    verb: str
    kind: str
    process: ProcessLink | None
    session: SessionLink | None
    details: tuple[tuple[str, str], ...]

    def detail(self, name: str) -> str | None:
        for key, value in self.details:
            if key == name:
                return value
        return None

    @property
    def text(self) -> str:
        """`4648 explicit credentials used: TargetUserName=admin, TargetServerName=dc01`."""
        shown = ", ".join(f"{k}={v}" for k, v in self.details if not k.startswith("TaskContent")
                          and not k.startswith("Subject"))
        return f"{self.ref.event_id} {self.verb}" + (f": {shown}" if shown else "")


def _values(data: tuple[tuple[str, str], ...], wanted: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in data:
        canon = name if name in wanted else None
        if canon is None:
            continue
        if canon not in out and value and value.strip() not in ("", "-"):
            out[canon] = value[:MAX_VALUE]
    return out


def attach(model: CorrelationModel, keys: Iterable[EventKeys]) -> dict[int, Attachment]:
    """Look each event up in the model; the attachments by store id (bounded: one per event).
    A copy of a record loaded twice (the same computer, time, record id, EventID and data as an
    earlier event: `core.model.same_records`) gets its first copy's attachment, the same
    object: `keys` come by EventID in time order (`Order.EVENT_TIME`), which puts copies side
    by side (in another order they are not found, and each is attached as an event of its own)."""
    out: dict[int, Attachment] = {}
    place: tuple[object, ...] = ()
    firsts: dict[tuple[object, ...], int] = {}  # the records of one (EventID, time, record id)
    fields = {eid: frozenset((*row.pid, row.name, *row.logon_id, *row.details, *_EXTRA))
              for eid, row in ATTACHED.items()}
    for key in keys:
        row = ATTACHED.get(key.event_id)
        if row is None:
            continue
        if (key.event_id, key.filetime, key.record_id) != place:
            place = (key.event_id, key.filetime, key.record_id)
            firsts.clear()
        try:
            first = firsts.setdefault((key.computer.casefold(), key.data), key.id)
        except TypeError:  # data not hashable: never taken for a copy
            first = key.id
        if first != key.id and first in out:
            out[key.id] = out[first]
            continue
        wanted = fields[key.event_id]
        values = _values(key.data, wanted)
        ts = key.filetime or 0
        ref = Ref(key.id, key.record_id, key.event_id, key.filetime, ts, -1)
        computer = model.computer_of(key.computer.casefold(), key.computer)
        process: ProcessLink | None = None
        for name in row.pid:
            pid = as_int(values.get(name))
            if pid:  # 0: done over RPC from another computer (a remote schtasks /create)
                process = model.process_at(computer, pid, key.filetime, ref)
                break
        session: SessionLink | None = None
        for name in row.logon_id:
            lid = as_int(values.get(name))
            if lid:
                user = user_name(values.get("SubjectDomainName"), values.get("SubjectUserName"))
                session = model.session_link(computer, lid, ref, user)
                break
        details = tuple((n, values[n]) for n in (*row.details, "TaskContent", "TaskContentNew") if n in values)
        out[key.id] = Attachment(ref, computer, row.verb, row.kind, process, session, details)
    return out

