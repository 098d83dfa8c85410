"""The events related to a correlated one: its processes' creation and exit, its handles'
open, accesses and close, its session's logon and logoffs, each with how it is related.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.correlate.handles import Handle
from core.correlate.links import HandleLink, ProcessLink, Related, SessionLink
from core.correlate.processes import Process, Ref
from core.correlate.roles import Act, role_of

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel


class _Collector:
    """Related events, each (event, relation) once, never the correlated event itself."""

    def __init__(self, model: CorrelationModel, self_id: int) -> None:
        self.model = model
        self.self_id = self_id
        self.items: list[Related] = []
        self._seen: set[tuple[int, str]] = set()

    def add(self, ref: Ref | None, relation: str) -> None:
        if ref is None or ref.store_id == self.self_id or (ref.store_id, relation) in self._seen:
            return
        self._seen.add((ref.store_id, relation))
        self.items.append(Related(ref, relation))

    def add_all(self, refs: Iterable[Ref], relation: str) -> None:
        """`add` for each of `refs` (a handle used a quarter of a million times: in one loop)."""
        seen, items, self_id = self._seen, self.items, self.self_id
        for ref in refs:
            key = (ref.store_id, relation)
            if ref.store_id != self_id and key not in seen:
                seen.add(key)
                items.append(Related(ref, relation))

    def process(self, prefix: str, p: Process | None, *, parent: bool = True, family: bool = False) -> None:
        if p is None:
            return
        self.add(p.created, f"{prefix} created")
        self.add(p.exited, f"{prefix} exited")
        self.add(p.replaced_by, f"{prefix} pid reused")
        if parent and p.parent is not None:
            self.add(self.model.processes[p.parent].created, f"{prefix} parent created")
        if family:
            for c in p.children:
                self.add(self.model.processes[c].created, "child created")
            for h in p.handles:
                handle = self.model.handles[h]
                self.add(handle.opened, "handle opened")
                self.add(handle.duplicated_by, "handle duplicated into it")
                self.add(handle.closed, "handle closed")

    def handle(self, prefix: str, h: Handle | None, *, source: bool = True) -> None:
        if h is None:
            return
        self.add(h.opened, f"{prefix} opened")
        self.add(h.duplicated_by, f"{prefix} created by duplication")
        if source and h.source is not None:
            src = self.model.handles[h.source]
            self.add(src.opened, f"{prefix} source opened")
        self.add_all(h.accesses, f"{prefix} accessed")
        self.add(h.closed, f"{prefix} closed")
        self.add_all(h.duplications, f"{prefix} duplicated")

    def session(self, s: SessionLink | None) -> None:
        if s is None or s.session is None:
            return
        self.add(s.session.logon, "session logon")
        self.add(s.session.privileges, "session privileges")
        for r in s.session.logoffs:
            self.add(r, "session logoff")


def related(
    model: CorrelationModel,
    ref: Ref,
    source: ProcessLink | None,
    target: ProcessLink | None,
    source_handle: HandleLink | None,
    target_handle: HandleLink | None,
    session: SessionLink | None,
) -> tuple[Related, ...]:
    """The events tied to `ref` through its links, titled by its row of the roles table, in
    time order. A new process (CREATE) brings its children and handles along."""
    col = _Collector(model, ref.store_id)
    role = role_of(ref.event_id)
    titles = role.titles
    family = role.act is Act.CREATE
    col.process(titles.related_source, source.process if source else None, parent=not family)
    col.process(titles.related_target, target.process if target else None, parent=not family, family=family)
    col.handle(titles.source_handle, source_handle.handle if source_handle else None)
    col.handle(titles.target_handle, target_handle.handle if target_handle else None, source=False)
    col.session(session)
    return tuple(sorted(col.items, key=lambda r: (r.ref.order, r.ref.store_id)))
