"""The Sessions view: logon sessions per computer, with their processes.

A session is (computer, logon id) from its 4624 to its 4634/4647 (`core.correlate.sessions`, via the
correlation model); a 4672 marks it privileged. Logon ids are unique only until a reboot, so a
process belongs to the session with its logon id on its computer that began last before it
(never to one on another computer). SYSTEM (0x3e7), LOCAL SERVICE (0x3e5) and NETWORK SERVICE
(0x3e4) have no 4624 (they begin at boot): their processes are grouped under a "well-known"
session rather than shown as missing. `enter` jumps to the session's 4624 (or a listed event).
Once built, the tree is stored with the log (`tui.stored_views`): a reopen shows it from there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.widgets import Tree

from core.correlate.model import CorrelationModel, session_start
from core.correlate.processes import Process, Ref
from core.correlate.sessions import WELL_KNOWN, Session
from core.model.event import iso_from_filetime
from core.model.sids import LOGON_TYPES
from core.model.text import printable
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import StoredNode, ViewBuilder, ViewRows
from tui.tree_views import SingleTreeScreen, activate


def plural(count: int, word: str) -> str:
    """`1 computer`, `2 computers`, `1,234 computers` (headers count what the tree lists)."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _when(ref: Ref | None) -> str:
    if ref is None:
        return "?"
    return iso_from_filetime(ref.filetime) or "no time"


def _ref_label(kind: str, ref: Ref) -> ViewNode:
    return ViewNode(f"{kind}: {ref.event_id} record {ref.record_id} at {_when(ref)}", store_id=ref.store_id,
                    confidence="exact")


def process_node(process: Process) -> ViewNode:
    event = (process.created or process.first_seen).store_id
    label = str(process.label)
    if process.image and process.image != process.name:
        label += f"  {process.image}"
    if process.pre_existing:
        label += " (pre-existing)"
    return ViewNode(label, store_id=event, confidence=process.confidence)


def session_label(session: Session, logon_types: dict[int, str]) -> Text:
    """`0x1a2b3  CONTOSO\\alice  type 10 RemoteInteractive  PRIVILEGED  start -> end`."""
    text = Text()
    text.append(f"0x{session.logon_id:x}", style="bold")
    user = session.user or WELL_KNOWN.get(session.logon_id) or "?"
    text.append("  " + printable(str(user)))
    if session.logon_type:
        raw = printable(str(session.logon_type))
        try:
            name = logon_types.get(int(raw), "")
        except ValueError:
            name = ""
        text.append(f"  type {raw}" + (f" {name}" if name else ""))
    if session.privileged:
        text.append("  PRIVILEGED", style="bold red")
    start = _when(session.logon) if session.logon is not None else "no 4624"
    end = _when(session.logoffs[0]) if session.logoffs else "no logoff"
    text.append(f"  {start} -> {end}")
    return text


def session_nodes(model: CorrelationModel) -> list[ViewNode]:
    """One branch per computer: its sessions in time order, each with its events and processes,
    then the well-known sessions that have processes but no 4624."""
    logon_types = dict(LOGON_TYPES)
    by_session, orphans = model.session_processes()
    per_computer: dict[str, list[Session]] = defaultdict(list)
    names: dict[str, str] = {}
    for session in model.sessions:
        per_computer[session.computer.casefold()].append(session)
        names.setdefault(session.computer.casefold(), session.computer)
    for computer, _lid in orphans:
        names.setdefault(computer.casefold(), computer)
        per_computer.setdefault(computer.casefold(), [])
    branches: list[ViewNode] = []
    for host in sorted(per_computer):
        kids: list[ViewNode] = []
        for session in sorted(per_computer[host], key=session_start):
            items: list[ViewNode] = []
            if session.logon is not None:
                items.append(_ref_label("logon", session.logon))
            else:
                items.append(ViewNode("no 4624 for this session in this log", confidence="missing"))
            if session.privileges is not None:
                items.append(_ref_label("special privileges", session.privileges))
            items.extend(_ref_label("logoff", r) for r in session.logoffs)
            procs = by_session.get(session.index, [])
            if procs:
                listed = tuple(process_node(p) for p in procs)
                items.append(ViewNode(f"processes: {len(procs)}", children=listed))
            confidence = "exact" if session.logon is not None else "inferred"
            event = session.logon.store_id if session.logon is not None else None
            kids.append(ViewNode(session_label(session, logon_types), store_id=event, children=tuple(items),
                                 confidence=confidence))
        for (computer, lid), procs in sorted(orphans.items(), key=lambda kv: (kv[0][0].casefold(), kv[0][1])):
            if computer.casefold() != host:
                continue
            if lid in WELL_KNOWN:
                label = f"0x{lid:x}  {WELL_KNOWN[lid]}  well-known session: begins at boot, no 4624 is logged"
                confidence = "exact"
            else:
                label = f"0x{lid:x}  no 4624, 4672 or logoff for this logon id in this log"
                confidence = "missing"
            kids.append(ViewNode(label, confidence=confidence,
                                 children=(ViewNode(f"processes: {len(procs)}",
                                                    children=tuple(process_node(p) for p in procs)),)))
        title = Text(printable(names[host]), style="bold")
        # every session listed under the computer counts, the well-known ones and the
        # logon ids seen without a 4624 too (it said "0 logon sessions" above two of them)
        title.append(f"  ({plural(len(kids), 'logon session')})")
        branches.append(ViewNode(title, children=tuple(kids)))
    return branches


def stored_sessions(model: CorrelationModel) -> ViewRows:
    """What the view stores: its computer branches."""
    return ViewRows(tree=session_nodes(model))


def _summary(branches: Sequence[TreeItem]) -> str:
    count = sum(b.kids if isinstance(b, StoredNode) else len(b.children) for b in branches)
    return f"{plural(count, 'logon session')} on {plural(len(branches), 'computer')}"


class SessionsScreen(SingleTreeScreen):
    """Logon sessions per computer; `enter` jumps to the session's 4624 or the listed event."""

    VIEW_TITLE = "Logon sessions"
    WAITING = "building the correlation model..."
    TREE_ID = "sessions-tree"
    SEARCH_HINT = "search sessions (user, logon id...)"
    STORED_TREE = "sessions"

    @work(thread=True, exclusive=True, group="sessions")
    def _load(self) -> None:
        try:
            if self.load_stored(stored_sessions):
                return
        except ViewDataError as exc:
            self.post_message(ModelReady[list[ViewNode]](None, not self.workspace.loaded, str(exc)))
            return
        self.workspace.request_model(self, session_nodes)

    def stored_builder(self) -> ViewBuilder:
        return stored_sessions

    def show_stored(self, branches: list[TreeItem], nodes: int) -> None:
        self.show_result(None, branches, depth=1, summary=_summary(branches), partial=False)

    def on_model_ready(self, message: ModelReady[list[ViewNode]]) -> None:
        model = message.model
        branches = None if message.error or model is None else message.prepared
        self.show_result(message.error or (None if model else "no correlation model"), branches, depth=1,
                         summary=_summary(branches or []),
                         partial=message.partial)

    @on(Tree.NodeSelected, "#sessions-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
