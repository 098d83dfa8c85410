"""What the Sessions view shows of the selected row, below the list: the rest of the 4624 (its
account, type with its meaning, source, packages, logon process), why it is privileged or not,
start, end or "still open", duration, the linked logon, and the processes started in it.

Textual-free (rows of `ViewNode`/`Node`): built in the screen from the model at each cursor
move, small whatever the session, since a long process list shows only its first and last
TREE_EDGE processes (`core.correlate.tree.capped`, the one rule every tree cuts by). Every log
value stays literal text (the tree renders labels with `printable`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.correlate.links import Node
from core.correlate.model import CorrelationModel, session_start
from core.correlate.processes import EXACT, INFERRED, MISSING, Process, Ref
from core.correlate.session_frozen import session_keys
from core.correlate.sessions import WELL_KNOWN, Session, logon_type_name
from core.correlate.tree import capped
from core.model.event import iso_from_filetime
from core.model.sids import LOGON_TYPES
from core.model.values import as_int, hex_id
from core.report.sessions import STILL_OPEN
from tui.nav_tree import TreeItem, ViewNode

#: Image names counted in the processes line (the most frequent first).
TOP_IMAGES = 5


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One line of the Sessions list: a session of the model, or (session None) the processes
    of a logon id with no session in the log (a well-known one, or a logon before the log)."""

    session: Session | None
    computer: str
    logon_id: int
    processes: Sequence[Process]  # made when read (`ProcessesAt`)

    @property
    def store_id(self) -> int | None:
        """The session's 4624 (what `enter`, `c`, `m` act on from the list)."""
        s = self.session
        return s.logon.store_id if s is not None and s.logon is not None else None

    @property
    def user(self) -> str:
        s = self.session
        return (s.user if s is not None else None) or WELL_KNOWN.get(self.logon_id) or "?"


def when(ref: Ref | None) -> str:
    if ref is None:
        return "?"
    return iso_from_filetime(ref.filetime) or "no time"


def duration_text(seconds: float) -> str:
    """`9.5 s`, `4 min 03 s`, `2 h 05 min`, `3 d 04 h`: as precise as a logon's length needs."""
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def type_text(raw: str | None, long: bool = False) -> str:
    """`10 RemoteInteractive` (with its meaning when `long`), `-` for no type."""
    if not raw:
        return "-"
    if long:
        number = as_int(raw)
        meaning = LOGON_TYPES.get(number) if number is not None else None
        return f"{raw} {meaning}" if meaning else raw
    name = logon_type_name(raw)
    return f"{raw} {name}" if name else raw


def _ref_node(label: str, ref: Ref) -> Node:
    return Node(f"{label}: {ref.event_id} record {ref.record_id} at {when(ref)}", EXACT, ref.store_id)


def process_node(p: Process) -> Node:
    """`cmd.exe 0x100 (256)  C:\\...\\cmd.exe  started 2024-...  cmd: ...`, jumping to its creation."""
    ref = p.created or p.sysmon_created or p.first_seen
    label = p.label
    if p.image and p.image != p.name:
        label += f"  {p.image}"
    label += " (pre-existing)" if p.pre_existing else f"  started {when(ref)}"
    if p.command_line and p.command_line not in (p.image, p.name):
        label += f"  cmd: {p.command_line}"
    return Node(label, p.confidence, ref.store_id)


def processes_node(procs: Sequence[Process]) -> Node:
    """`processes: 12 (cmd.exe 4, conhost.exe 4, ...)` over the processes (cut to their edges)."""
    names = Counter(p.name for p in procs).most_common(TOP_IMAGES + 1)
    counts = ", ".join(f"{name} {n}" for name, n in names[:TOP_IMAGES])
    if len(names) > TOP_IMAGES:
        counts += ", ..."
    return Node(f"processes: {len(procs):,} ({counts})", EXACT, None,
                capped(procs, process_node, "processes", lambda p: (p.created or p.first_seen).record_id))


def _account(s: Session) -> ViewNode:
    sid = f"  {s.user_sid}" if s.user_sid else ""
    return ViewNode(f"account: {s.user or '?'}{sid}", confidence=EXACT if s.logon else INFERRED)


def _privileges(s: Session) -> list[TreeItem]:
    out: list[TreeItem] = []
    if s.privileges is not None:
        out.append(_ref_node("privileged: special privileges assigned", s.privileges))
    else:
        out.append(ViewNode("privileged: no (no 4672 for this logon id on this computer)",
                            confidence=EXACT if s.logon else INFERRED))
    if s.elevated_token is not None:
        out.append(ViewNode(f"elevated token: {'yes' if s.elevated_token else 'no'} (4624 ElevatedToken)",
                            confidence=EXACT))
    return out


def _end(s: Session) -> list[TreeItem]:
    end = s.end
    out: list[TreeItem] = []
    if end is None:
        out.append(ViewNode(f"end: {STILL_OPEN} (no 4634 or 4647 for it)", confidence=EXACT))
    else:
        kind = "logoff" if end.event_id == 4634 else "logoff requested, no 4634 in the log"
        out.append(_ref_node(f"end ({kind})", end))
    if s.duration is not None:
        out.append(ViewNode(f"duration: {duration_text(s.duration)}", confidence=EXACT))
    others = [r for r in s.logoffs if r != end]  # a 4647 before its 4634, a stray second 4634
    out.extend(capped(others, lambda r: _ref_node("logoff requested" if r.event_id == 4647 else "logoff", r),
                      "logoffs", lambda r: r.record_id))
    return out


def _linked(s: Session, linked: Session | None) -> list[TreeItem]:
    if s.linked_logon_id is None:
        return []
    lid = f"{hex_id(s.linked_logon_id)}"
    if linked is not None and linked.logon is not None:
        return [_ref_node(f"linked logon {lid} (the other token of this logon)", linked.logon)]
    return [ViewNode(f"linked logon {lid}: no 4624 for it on this computer in this log", confidence=MISSING)]


def session_tree(row: SessionRow, linked: Session | None = None) -> list[TreeItem]:
    """The selected row's lines; `linked` is the session of its TargetLinkedLogonId, if any."""
    s = row.session
    if s is None:
        lid = f"{hex_id(row.logon_id)}"
        if row.logon_id in WELL_KNOWN:
            head = ViewNode(f"{lid} {WELL_KNOWN[row.logon_id]}: well-known session, begins at boot, "
                            "Windows logs no 4624 for it", confidence=EXACT)
        else:
            head = ViewNode(f"{lid}: no 4624, 4672 or logoff for this logon id on this computer in this log "
                            "(its logon precedes the log)", confidence=MISSING)
        return [head, processes_node(row.processes)]
    items: list[TreeItem] = []
    if s.logon is not None:
        items.append(_ref_node(f"logon {hex_id(s.logon_id)}", s.logon))
    else:
        items.append(ViewNode(f"logon {hex_id(s.logon_id)}: no 4624 for this session in this log "
                              "(known from its logoff or privileges only)", confidence=MISSING))
    items.append(_account(s))
    if s.logon is not None:
        items.append(ViewNode(f"logon type: {type_text(s.logon_type, long=True)}", confidence=EXACT))
        ip = s.ip or "-"
        station = s.workstation or "-"
        items.append(ViewNode(f"source: address {ip}, workstation {station}", confidence=EXACT))
        auth = s.auth_package or "-"
        lm = f", LM package {s.lm_package}" if s.lm_package else ""
        items.append(ViewNode(f"authentication: {auth}{lm}, logon process {s.logon_process or '-'}",
                              confidence=EXACT))
    items.extend(_privileges(s))
    items.extend(_linked(s, linked))
    items.extend(_end(s))
    if row.processes:
        items.append(processes_node(row.processes))
    else:
        items.append(ViewNode("processes: none started in this session in this log", confidence=EXACT))
    return items


def linked_index(model: CorrelationModel) -> dict[tuple[str, int], list[Session]]:
    """The sessions by (computer case-folded, logon id) that the linked logons of the model's
    sessions name (`linked_session`): only those, not every session of the log (read from the
    model's columns: no session made for those that name none)."""
    sessions = model.sessions
    folded: dict[str, str] = {}
    keys = [(folded.get(c) or folded.setdefault(c, c.casefold()), lid, linked)
            for c, lid, linked in session_keys(sessions)]
    wanted = {(computer, linked) for computer, _, linked in keys if linked is not None}
    index: dict[tuple[str, int], list[Session]] = {}
    if wanted:
        for idx, (computer, lid, _) in enumerate(keys):
            if (computer, lid) in wanted:
                index.setdefault((computer, lid), []).append(sessions[idx])
    return index


def linked_session(index: dict[tuple[str, int], list[Session]], s: Session | None) -> Session | None:
    """The session of `s`'s TargetLinkedLogonId on its computer, the one begun nearest it."""
    if s is None or s.linked_logon_id is None:
        return None
    found = index.get((s.computer.casefold(), s.linked_logon_id), [])
    mine = session_start(s)[0]
    return min(found, key=lambda o: abs(session_start(o)[0] - mine), default=None)
