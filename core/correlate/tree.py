"""Correlations and process forests as trees of `Node`, the one tree node type the UI, the CLI
and the exports show; and the one-line summary of a correlation.

Every node says how sure its link is (a confidence word) and the store id of its evidence event
(to jump to); a link's "why:" line jumps to the record its reason names, when it names exactly
one and that record is one of the link's own events (`_why`). Long lists (a handle used a
quarter of a million times) are cut to their edges (TREE_EDGE). Labels hold event data verbatim
(attacker-controlled): renderers show them as literal text.

(About 570 lines: one node builder per instance kind, sharing the cut, the why-lines and the
subtree cache; split, each would import the others' helpers.)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar
from weakref import WeakKeyDictionary

from core.correlate.handle_table import HandleTable
from core.correlate.handles import close_confidence, handle_close_reason, handle_said
from core.correlate.links import Correlation, EventLink, HandleLink, Node, ProcessLink, SessionLink
from core.correlate.processes import AMBIGUOUS, EXACT, INFERRED, MISSING, Process, Ref, pid_text, restart_ended
from core.correlate.roles import SESSION_ACTS, SYSMON, Act, role_of
from core.correlate.sessions import NetworkIndex, logon_type_name, network_index, network_logons
from core.model.access import decode_messages
from core.model.event import iso_from_filetime
from core.model.sids import TOKEN_ELEVATION, decode_label
from core.model.values import hex_id

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel

_T = TypeVar("_T")


def summary(
    ref: Ref,
    source: ProcessLink | None,
    target: ProcessLink | None,
    sh: HandleLink | None,
    th: HandleLink | None,
    session: SessionLink | None,
) -> str:
    """The correlation's first line, in the words of the event's row of the roles table."""
    eid = ref.event_id
    role = role_of(eid)
    src = source.label if source else "?"
    if role.act is Act.DUPLICATE:
        return (
            f"{eid} {role.verb}: {src} handle {pid_text(sh.handle_id if sh else None)} -> "
            f"{target.label if target else '?'} handle {pid_text(th.handle_id if th else None)}"
        )
    if role.act is Act.CREATE:
        return f"{eid} {role.verb}: {target.label if target else '?'} by {src}"
    if role.act is Act.EXIT:
        return f"{eid} {role.verb}: {src}"
    if sh is not None:
        return f"{eid} {role.verb}: {pid_text(sh.handle_id)} by {src}"
    if session is not None and role.act in SESSION_ACTS:
        return f"{eid} {role.verb}: {hex_id(session.logon_id)} {session.user or ''}".rstrip()
    return f"{eid} record {ref.record_id}" + (f": {src}" if source else "")


def ref_text(ref: Ref) -> str:
    """`4688 record 12 at ...`; a Sysmon event's id is named so (`Sysmon 1 record 1002`): a bare
    `1 record 1002` read as a count."""
    when = iso_from_filetime(ref.filetime) or "no time"
    eid = f"Sysmon {ref.event_id}" if ref.event_id in SYSMON else str(ref.event_id)
    return f"{eid} record {ref.record_id} at {when}"


#: A list in a tree (a handle's accesses, the related events, a process's handles...) shows its
#: first and last TREE_EDGE items and one line for those between: a handle used 250,000 times
#: made a tree of half a million lines (9 s to build, and the app's tree stopped drawing before
#: the session and the related events). The Correlation itself keeps every item (`--json`).
TREE_EDGE = 25


def _capped(items: Sequence[_T], make: Callable[[_T], Node], what: str,
            record: Callable[[_T], int | None] | None = None) -> list[Node]:
    """Nodes for `items`, the middle of a long list summed up in one line (see TREE_EDGE)."""
    if len(items) <= 2 * TREE_EDGE + 1:
        return [make(item) for item in items]
    hidden = items[TREE_EDGE:-TREE_EDGE]
    span = ""
    if record is not None:
        first, last = record(hidden[0]), record(hidden[-1])
        if first is not None and last is not None:
            span = f", records {first} to {last}"
    note = Node(f"... {len(hidden):,} more {what}{span} (the first and last {TREE_EDGE} are shown)", EXACT)
    return [*(make(item) for item in items[:TREE_EDGE]), note, *(make(item) for item in items[-TREE_EDGE:])]


#: The same cut for the views that build their own trees (the Sessions view's processes).
capped = _capped


def _record_of(ref: Ref) -> int | None:
    return ref.record_id


#: A record number a reason names: `logon 4624 record 48211`, `its 4656 (record 48240)`,
#: `its first 4624 in this boot, record 7, ...`.
_NAMED_RECORD = re.compile(r"\brecord (\d+)\b")

#: What a `why:` line may jump to: the link's own events, or a function giving them (called
#: only when the reason names one record: some are made from the facts table when read).
Evidence = Iterable[Ref | None] | Callable[[], Iterable[Ref | None]]


def _why(reason: str, confidence: str, *evidence: Evidence) -> Node:
    """A link's `why: <reason>` line, jumping to the event its reason names (`named_event`),
    else to none: an analyst reading "why: logon 4624 record 48211" wants `enter` to take
    them to that 4624, as the line beside it does."""
    return Node(f"why: {reason}", confidence, named_event(reason, *evidence))


def named_event(reason: str, *evidence: Evidence) -> int | None:
    """The store id of the one record `reason` names, found among the link's own events
    `evidence` (each a tier, looked in only when the ones before hold no record of that number);
    None when the reason names no record or several ("Sysmon 1 record 9 and 4688 record 8 are
    one process"), or one that is none of them.

    The number is matched against the evidence the link holds, never looked up in the store by
    itself: record ids repeat across files and channels, and a reason quotes log text (an image
    or service named `record 7`), so a number that is no record of this link jumps nowhere.
    Two of its events with that record id (a 4688 and a Sysmon 1 of two channels' numbering)
    are told apart by the EventID the reason puts before the number, else neither is taken."""
    named = set(_NAMED_RECORD.findall(reason))
    if len(named) != 1:
        return None
    record = int(named.pop())
    for tier in evidence:
        refs = tier() if callable(tier) else tier
        found = {r.store_id: r for r in refs if r is not None and r.record_id == record}
        if len(found) > 1:
            found = {sid: r for sid, r in found.items()
                     if re.search(rf"(?<!\d){r.event_id} \(?record {record}\b", reason)}
        if found:
            return next(iter(found)) if len(found) == 1 else None
    return None


def _process_evidence(p: Process) -> list[Ref | None]:
    """The events a process link's reason may name of the instance itself: its creation, exit,
    first event and the restart that ended it."""
    refs = [p.created, p.sysmon_created, p.exited, p.sysmon_exited, p.replaced_by, p.first_seen]
    if type(p.end_at) is int and p.facts is not None:  # (ended by a restart the facts table holds)
        refs.append(p.facts.ref(p.end_at))
    return refs


def _previous_end(model: CorrelationModel, p: Process) -> list[Ref | None]:
    """The end of the pid's instance before `p`, which its reason may name ("no 4688 for 0x4d0
    after its previous instance ended (record 7)"): looked for last, since it makes every
    instance of the pid (thousands, for a pid reused all day)."""
    instances = model.instances(p.computer, p.pid)
    at = next((i for i, other in enumerate(instances) if other.index == p.index), 0)
    return [instances[at - 1].exited, instances[at - 1].replaced_by] if at > 0 else []


def _process_node(model: CorrelationModel, title: str, link: ProcessLink) -> Node:
    p = link.process
    if p is None:
        return Node(f"{title}: {link.label}: {link.reason}", link.confidence)
    marker = " (pre-existing)" if p.pre_existing else ""
    kids: list[Node] = []
    created = p.created  # made from the facts table: once (a list view's trees ask a million times)
    if created is not None:
        kids.append(Node(f"created: {ref_text(created)}", EXACT, created.store_id))
    if link.confidence != EXACT or link.reason != p.reason:
        kids.append(_why(link.reason, link.confidence, lambda: _process_evidence(p), lambda: _previous_end(model, p)))
    if p.image:
        kids.append(Node(f"image: {p.image}", EXACT if created else INFERRED))
    if p.command_line:
        kids.append(Node(f"command line: {p.command_line}", EXACT, created.store_id if created else None))
    if p.user or p.logon_id:
        logon = f", logon {hex_id(p.logon_id)}" if p.logon_id else ""
        kids.append(Node(f"user: {p.user or '?'}{logon}", EXACT, created.store_id if created else None))
    if p.elevation:
        kids.append(Node(f"elevation: {p.elevation} ({TOKEN_ELEVATION.get(p.elevation, 'unknown')})", EXACT))
    if p.integrity:
        kids.append(Node(f"integrity: {p.integrity} ({decode_label(p.integrity) or 'unknown'})", EXACT))
    if p.parent is not None:
        parent = model.processes[p.parent]
        kids.append(
            Node(
                f"parent: {parent.label}" + (" (pre-existing)" if parent.pre_existing else ""),
                parent.confidence,
                (parent.created or parent.first_seen).store_id,
            )
        )
    elif p.parent_pid is not None:
        kids.append(Node(f"parent: {pid_text(p.parent_pid)} not resolved", MISSING))
    kids += _sysmon_nodes(p)
    kids += _attached_nodes(model, p)
    kids.append(_end_node(model, p))
    event = (created or p.first_seen).store_id
    return Node(f"{title}: {p.label}{marker}", link.confidence, event, kids)


def _end_node(model: CorrelationModel, p: Process) -> Node:
    exited = p.exited  # made from the facts table: once
    if exited is not None:
        return Node(f"exited: {ref_text(exited)}", EXACT, exited.store_id)
    replaced_by = p.replaced_by
    if replaced_by is not None:
        return Node(f"no 4689: its pid was reused by {ref_text(replaced_by)}", INFERRED, replaced_by.store_id)
    restart = restart_ended(p.reason)
    if restart is not None:  # its computer restarted (`core.correlate.process_boots`): its end is there
        # (the restart's event, to jump to, when the facts table holds it: a boot's first 4688)
        at = p.facts.ref(p.end_at).store_id if type(p.end_at) is int and p.facts is not None else None
        return Node(f"no 4689: ended by {restart}", EXACT, at)
    if not model.exits_logged(p.computer):
        return Node(f"end unknown: there is no 4689 at all for {p.computer} in this log "
                    "(process termination auditing is off)", MISSING)
    return Node("no 4689 in this log: still running at the end of the log", MISSING)


def _sysmon_nodes(p: Process) -> list[Node]:
    """Sysmon's records of a process: its GUID, Sysmon 1 (and why it is the 4688's process),
    Sysmon 5 and the other Sysmon events that name it."""
    kids: list[Node] = []
    if p.guid:
        kids.append(Node(f"ProcessGuid: {p.guid}", EXACT if p.sysmon_created else INFERRED,
                         (p.sysmon_created or p.first_seen).store_id))
    if p.sysmon_created is not None and p.sysmon_created is not p.created:
        kids.append(Node(f"also created: {ref_text(p.sysmon_created)}", EXACT, p.sysmon_created.store_id,
                         [_why(p.joined, EXACT, (p.created, p.sysmon_created))] if p.joined else []))
    if p.sysmon_exited is not None and p.sysmon_exited is not p.exited:
        kids.append(Node(f"also exited: {ref_text(p.sysmon_exited)}", EXACT, p.sysmon_exited.store_id))
    if p.sysmon_events:
        kids.append(Node(f"Sysmon events: {len(p.sysmon_events)}", EXACT, None,
                         _capped(p.sysmon_events, lambda r: Node(ref_text(r), EXACT, r.store_id),
                                 "Sysmon events", _record_of)))
    return kids


def _attached_nodes(model: CorrelationModel, p: Process) -> list[Node]:
    """What the process did that is attached to it (privileges, credentials, installs) and the
    service or task install that started it."""
    kids = [Node(f"started by: {r.install.text} ({ref_text(r.install.ref)})", r.confidence, r.install.ref.store_id,
                 [_why(r.reason, r.confidence, (r.install.ref, p.created))])
            for r in model.runs_of_process.get(p.index, [])]
    attached = model.by_process.get(p.index, [])
    if attached:
        kids.append(Node(f"did: {len(attached)}", EXACT, None, _capped(
            attached, lambda a: Node(f"{a.text} ({ref_text(a.ref)})", a.process.confidence if a.process else EXACT,
                                     a.ref.store_id), "events", lambda a: a.ref.record_id)))
    return kids


def _handle_node(model: CorrelationModel, title: str, link: HandleLink) -> Node:
    h = link.handle
    if h is None:
        return Node(f"{title}: {pid_text(link.handle_id)}: {link.reason}", link.confidence)
    kids: list[Node] = []
    owner = model.processes[h.process]
    kids.append(Node(f"owner: {owner.label}", owner.confidence, (owner.created or owner.first_seen).store_id))
    # Each made from the facts table when read: once here.
    opened, duplicated_by, closed = h.opened, h.duplicated_by, h.closed
    if opened is not None:
        access = f", access {decode_messages(h.access) or ' '.join(h.access.split())}" if h.access else ""
        kids.append(Node(f"opened: {ref_text(opened)}{access}", EXACT, opened.store_id))
    if duplicated_by is not None:
        src = ""
        if h.source is not None:
            s = model.handles[h.source]
            src = f" from handle {hex_id(s.handle_id)} of {model.processes[s.process].label}"
        kids.append(Node(f"created by duplication: {ref_text(duplicated_by)}{src}", EXACT, duplicated_by.store_id))
    if opened is None and duplicated_by is None:  # (how its open is known: its close aside)
        kids.append(Node(f"open: {handle_said(h.facts, -1, -1, h.first_seen_at)[1]}", INFERRED,
                         h.first_seen.store_id))
    if link.confidence != EXACT:
        kids.append(_why(link.reason, link.confidence,
                         lambda: (opened, duplicated_by, closed, h.first_seen, owner.created, owner.exited)))
    kids += _capped(h.accesses, lambda r: Node(f"accessed: {ref_text(r)}", EXACT, r.store_id), "accesses",
                    _record_of)
    close_reason = h.close_reason
    if closed is not None:
        note = "" if close_reason == f"closed by 4658 record {closed.record_id}" else f" ({close_reason})"
        kids.append(Node(f"closed: {ref_text(closed)}{note}", close_confidence(close_reason), closed.store_id))
    else:
        kids.append(Node(f"close: {close_reason}", _unclosed_confidence(close_reason)))
    kids += _capped(h.duplications, lambda r: Node(f"duplicated: {ref_text(r)}", EXACT, r.store_id), "duplications",
                    _record_of)
    event = (opened or duplicated_by or h.first_seen).store_id
    return Node(f"{title}: {h.label}", link.confidence, event, kids)


#: Each model's network logons grouped (`network_index`): made once, not per session node.
_NETWORK: WeakKeyDictionary[CorrelationModel, NetworkIndex] = WeakKeyDictionary()


def _network_index(model: CorrelationModel) -> NetworkIndex:
    index = _NETWORK.get(model)
    if index is None:
        index = _NETWORK[model] = network_index(model.sessions)
    return index


def _session_node(model: CorrelationModel, link: SessionLink) -> Node:
    s = link.session
    user = link.user or "?"
    if s is None:
        return Node(
            f"logon session {hex_id(link.logon_id)}: {user}",
            link.confidence,
            None,
            [_why(link.reason, link.confidence)],  # (no session: no event of its own to name)
        )
    kids: list[Node] = []
    logon, privileges = s.logon, s.privileges  # made from the facts table: once
    if logon is not None:
        kind = f", logon type {s.logon_type} {logon_type_name(s.logon_type)}".rstrip() if s.logon_type else ""
        source = " ".join(f"({v})" if i else v for i, v in enumerate(filter(None, (s.ip, s.workstation))))
        kind += f" from {source}" if source else ""
        auth = s.lm_package or s.auth_package
        kind += f" via {auth}" if auth else ""
        kids.append(Node(f"logon: {ref_text(logon)}{kind}", EXACT, logon.store_id))
    kids.append(_why(link.reason, link.confidence, lambda: (logon, privileges, s.restart, *s.logoffs)))
    if privileges is not None:
        kids.append(Node(f"special privileges: {ref_text(privileges)}", EXACT, privileges.store_id))
    kids += _capped(s.logoffs, lambda r: Node(f"logoff: {ref_text(r)}", EXACT, r.store_id), "logoffs", _record_of)
    if not s.logoffs:
        restart = s.restart
        kids.append(Node("no logoff in this log", MISSING) if restart is None else
                     Node(f"no logoff: ended by the restart ({ref_text(restart)})", EXACT, restart.store_id))
    if s.ip:
        same = network_logons(model.sessions, s, _network_index(model))
        if same:
            kids.append(Node(f"network logons from {s.ip}: {len(same)}", INFERRED, None, _capped(
                same, lambda o: Node(f"{o.label} ({ref_text(o.logon)})" if o.logon else o.label, INFERRED,
                                     o.logon.store_id if o.logon else None), "logons")))
    if s.processes:  # each listed (the count alone sent the reader to the Sessions view)
        kids.append(Node(f"processes started in this session: {len(s.processes):,}", EXACT, None, _capped(
            s.processes, lambda i: _started_node(model.processes[i]), "processes",
            lambda i: _started(model.processes[i])[1].record_id)))  # (only the edges made: a long one has 100,000s)
    attached = model.by_session.get(s.index, [])
    if attached:
        kids.append(Node(f"did: {len(attached)}", EXACT, None, _capped(
            attached, lambda a: Node(f"{a.text} ({ref_text(a.ref)})", a.session.confidence if a.session else EXACT,
                                     a.ref.store_id), "events", lambda a: a.ref.record_id)))
    marker = " (privileged)" if s.privileged else ""
    event = logon.store_id if logon is not None else None
    return Node(f"logon session {hex_id(link.logon_id)}: {user}{marker}", link.confidence, event, kids)


def _started(p: Process) -> tuple[str, Ref]:
    """How a process in a session's list is dated and by which record: its 4688, else its
    Sysmon 1, else the first event naming it (each property read once: made from the facts)."""
    created = p.created or p.sysmon_created
    return ("created", created) if created is not None else ("first seen", p.first_seen)


def _started_node(p: Process) -> Node:
    """`cmd.exe 0x8cc (2252): C:\\...\\cmd.exe, created 4688 record 7 at ...`: the name, pid,
    image and creation record of a process started in a session, jumping to its creation."""
    verb, ref = _started(p)
    return Node(f"{p.label}: {p.image or 'image unknown'}, {verb} {ref_text(ref)}", p.confidence, ref.store_id)


def _family(model: CorrelationModel, p: Process) -> list[Node]:
    """A new process's children and handles (under its node in the tree of its 4688)."""

    def child_node(i: int) -> Node:
        child = model.processes[i]
        return Node(f"child: {child.label}", child.confidence, (child.created or child.first_seen).store_id)

    def handle_node(i: int) -> Node:
        h = model.handles[i]
        return _handle_node(model, "handle", HandleLink(h.handle_id, h, h.confidence, h.reason))

    nodes = _capped(p.children, child_node, "children")
    if p.handles:
        nodes.append(Node(f"handles: {len(p.handles)}", EXACT, None, _capped(p.handles, handle_node, "handles")))
    return nodes


#: Subtrees `shared_subtrees` remembers (a few hundred bytes each, with their nodes: a list's
#: neighbouring lines share their processes, handles and sessions).
SHARED_KEPT = 1 << 10
_SHARED = threading.local()


@contextmanager
def shared_subtrees() -> Iterator[None]:
    """Within (this thread): `correlation_tree` gives the very same node for a process, handle or
    session it showed the same way lately (the tables' writer makes the trees of 40,000 list
    lines, most of them around the same few instances: made once, and the writer knows a node
    it wrote by the object). The nodes are shared: nothing may change them. Outside, each tree's
    nodes are its own."""
    before = getattr(_SHARED, "nodes", None)
    _SHARED.nodes = {}
    try:
        yield
    finally:
        _SHARED.nodes = before


def _shared(key: tuple[object, ...], make: Callable[[], Node]) -> Node:
    nodes: dict[tuple[object, ...], Node] | None = getattr(_SHARED, "nodes", None)
    if nodes is None:
        return make()
    node = nodes.get(key)
    if node is None:
        if len(nodes) >= SHARED_KEPT:
            nodes.clear()
        node = nodes[key] = make()
    return node


def correlation_tree(model: CorrelationModel, c: Correlation) -> Node:
    """The correlation as a tree: its links titled by the event's row of the roles table, then
    its session and related events."""
    role = role_of(c.event.event_id)
    titles = c.titles or role.titles
    kids: list[Node] = []
    if c.same_as is not None:
        kids.append(Node(f"same record as {ref_text(c.same_as)} (loaded twice): correlated once, as that event",
                         EXACT, c.same_as.store_id))
    if c.source_process is not None:
        kids.append(_process_tree(model, titles.source_process, c.source_process))
    if c.source_handle is not None:
        kids.append(_handle_tree(model, titles.source_handle, c.source_handle))
    if c.target_process is not None:
        node = _process_tree(model, titles.target_process, c.target_process)
        if role.act is Act.CREATE and c.target_process.process is not None:  # a node of its own
            node = Node(node.label, node.confidence, node.store_id,
                        [*node.children, *_family(model, c.target_process.process)])
        kids.append(node)
    if c.target_handle is not None:
        kids.append(_handle_tree(model, titles.target_handle, c.target_handle))
    if c.session is not None:
        session = c.session
        s = session.session
        kids.append(_session_node(model, session) if s is None else _shared(
            ("session", s.index, session.user, session.logon_id, session.confidence, session.reason),
            lambda: _session_node(model, session)))
    if c.links:
        kids.append(Node(f"linked records: {len(c.links)}", EXACT, None, _capped(
            c.links, lambda link: _link_node(link, c.event), "links")))
    if c.related:
        kids.append(
            Node(
                f"related events: {len(c.related)}",
                EXACT,
                None,
                _capped(c.related, lambda r: Node(f"{r.relation}: {ref_text(r.ref)}", EXACT, r.ref.store_id),
                        "related events", lambda r: r.ref.record_id),
            )
        )
    return Node(c.summary, EXACT, c.event.store_id, kids)


def _process_tree(model: CorrelationModel, title: str, link: ProcessLink) -> Node:
    """`_process_node`, shared within `shared_subtrees`."""
    p = link.process
    return _process_node(model, title, link) if p is None else _shared(
        ("process", title, p.index, link.confidence, link.reason), lambda: _process_node(model, title, link))


def _handle_tree(model: CorrelationModel, title: str, link: HandleLink) -> Node:
    """`_handle_node`, shared within `shared_subtrees`."""
    h = link.handle
    return _handle_node(model, title, link) if h is None else _shared(
        ("handle", title, h.index, link.confidence, link.reason), lambda: _handle_node(model, title, link))


def _link_node(link: EventLink, event: Ref) -> Node:
    """A linked record, its reason below it (jumping to the record it names: the linked one, or
    the correlated `event` itself, as a started process's "...installed (7045 record 9)")."""
    at = f" ({ref_text(link.ref)})" if link.ref is not None else ""
    label = f": {link.label}" if link.label else ""
    return Node(f"{link.relation}{label}{at}", link.confidence, link.ref.store_id if link.ref else None,
                [_why(link.reason, link.confidence, (link.ref, event))])


def forest_line(p: Process) -> tuple[str, str, int]:
    """A process's line in the Processes forest: (label, confidence, store id of its event)."""
    created = p.created  # made from the facts table: once
    when = iso_from_filetime(created.filetime) if created is not None else None
    marker = " (pre-existing)" if p.pre_existing else (" (no 4688)" if created is None else "")
    label = f"{p.label}{marker}" + (f" created {when}" if when else "")
    return label, p.confidence, (created or p.first_seen).store_id


def forest_tail(model: CorrelationModel, p: Process) -> list[Node]:
    """The lines that follow a process's children in the forest: its handles and its exit."""
    handles = model.handles
    if isinstance(handles, HandleTable):  # read from the columns: no `Handle` made (tested to be equal)
        facts = handles.facts

        def handle_node(i: int) -> Node:
            label, confidence, at, closed_at, note = handles.forest_fields(i)
            reason = handle_close_reason(facts, closed_at, note)
            if closed_at >= 0:
                closed = facts.ref(closed_at)
                close = Node(f"closed: {ref_text(closed)}", close_confidence(reason), closed.store_id)
            else:
                close = Node(f"close: {reason}", _unclosed_confidence(reason))
            return Node(label, confidence, facts.store_id(at), [close])
        tail = _capped(p.handles, handle_node, "handles")
    else:
        tail = _capped(p.handles, lambda i: _forest_handle(model, i), "handles")
    tail.append(_end_node(model, p))
    return tail


def _forest_handle(model: CorrelationModel, i: int) -> Node:
    """A handle's line in the forest, from its `Handle`."""
    h = model.handles[i]
    closed = h.closed  # made from the facts table: once
    reason = h.close_reason
    close = (
        Node(f"closed: {ref_text(closed)}", close_confidence(reason), closed.store_id)
        if closed is not None
        else Node(f"close: {reason}", _unclosed_confidence(reason))
    )
    return Node(h.label, h.confidence, (h.opened or h.duplicated_by or h.first_seen).store_id, [close])


def _unclosed_confidence(close_reason: str) -> str:
    """A handle's close when no 4658 of its own is known: missing, or ambiguous when a 4658 taken
    to close another handle may have closed it (its reason says which)."""
    return AMBIGUOUS if close_confidence(close_reason) == AMBIGUOUS else MISSING


def _forest_node(model: CorrelationModel, p: Process) -> tuple[Node, list[Node]]:
    """A process's node (children filled in later) and the lines that follow its children."""
    return Node(*forest_line(p), []), forest_tail(model, p)


def start_key(p: Process) -> tuple[int, int]:
    """Where a process begins on the time line: its creation, else its first event (read from
    the facts table without making its `Ref`)."""
    held = p.created_at if p.created_at is not None else p.first_seen_at
    if isinstance(held, int):
        assert p.facts is not None
        return p.facts.key(held)
    return held.key


def process_forest(model: CorrelationModel, computer: str) -> list[Node]:
    """Process instances of one computer as trees (parent -> children); pid reuse shows as
    separate instances, inferred (pre-existing) ones are marked, each with handles and exit."""
    host = computer.casefold()
    procs = sorted(
        (p for p in model.processes if p.computer.casefold() == host),
        key=start_key,
    )
    built = {p.index: _forest_node(model, p) for p in procs}
    roots: list[Node] = []
    for p in procs:
        node = built[p.index][0]
        parent = built.get(p.parent) if p.parent is not None else None
        if parent is None:
            roots.append(node)
        else:
            parent[0].children.append(node)
    for node, tail in built.values():
        node.children.extend(tail)
    return roots
