"""The links of an event beyond its process, handle and session roles (`EventLink`): the other
channel's record of the same process access (Sysmon 10 <-> 4656), the target process a 4656 on
a Process object names by path, the two records of one service install (4697 <-> 7045), the
processes an install later started and, for a new process, the install that started it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.correlate.access import process_named
from core.correlate.links import EventLink, ProcessLink
from core.correlate.processes import Ref

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel


def links_of(model: CorrelationModel, ref: Ref, source: ProcessLink | None,
             target: ProcessLink | None) -> tuple[EventLink, ...]:
    """Every extra link of the event `ref` (store id order of the evidence within a kind)."""
    out: list[EventLink] = []
    for twin in model.access_tracker.twins.get(ref.store_id, [])[:64]:
        what = "4656 of the same access" if twin.ref.event_id != ref.event_id and twin.handle is not None \
            else "Sysmon 10 of the same access"
        out.append(EventLink(what, twin.ref, twin.confidence, twin.reason))
    for o in model.access_tracker.opens_of(ref.store_id):
        if model.access_tracker.twins.get(ref.store_id):
            break
        p, confidence, reason = process_named(model, model.computer_of(o.host), o.target_image, ref)
        label = p.label if p is not None else o.target_image
        out.append(EventLink("target process", (p.created or p.first_seen) if p else None, confidence, reason, label))
    twin_install = model.twins.get(ref.store_id)
    if twin_install is not None:
        other, reason = twin_install
        out.append(EventLink(f"same install in {'System' if other.ref.event_id == 7045 else 'Security'}",
                             other.ref, "exact", reason, other.text))
    for run in model.runs_of_install.get(ref.store_id, [])[:64]:
        p = run.process
        out.append(EventLink("started process", p.created, run.confidence, run.reason, p.label))
    new = target.process if target is not None else None
    if new is not None and ref in (new.created, new.sysmon_created):
        for run in model.runs_of_process.get(new.index, []):
            out.append(EventLink("started by", run.install.ref, run.confidence, run.reason, run.install.text))
    return tuple(out)
