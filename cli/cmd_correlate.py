"""`evtx-explorer correlate FILE... (--record N | --where QUERY) [--json]`.

Prints, for each selected event, the processes, handles and logon session behind it with the
evidence records and a confidence per link (`core.correlate.model`). `--json` prints a JSON list, one
object per selected event, in the shape scripts rely on (issue 5):

    {"event": {"record_id", "event_id", "channel", "computer", "time", "file"},
     "source_process": {"record_id", "pid", "image", "confidence", "reason",
                        "pid_hex", "guid", "sysmon_record_id"} | null,
     "target_process": {...} | null,
     "source_handle": {"handle_id", "open_record_id", "object_type", "object_name",
                       "close_record_id", "handle_id_hex", "confidence", "reason",
                       "close_reason"} | null,
     "target_handle": {...} | null,
     "session": {"logon_id", "record_id", "user", "logon_id_hex", "confidence", "reason",
                 "computer", "user_sid", "logon_type", "logon_type_name", "ip", "workstation",
                 "auth_package", "lm_package", "logon_process", "privileged",
                 "privileges_record_id", "elevated_token", "start", "end", "end_event_id",
                 "end_record_id", "still_open", "duration_seconds", "linked_logon_id",
                 "linked_logon_id_hex", "process_count",
                 "processes": [{"pid", "pid_hex", "image", "record_id", "event_id"}, ...],
                 "processes_left_out"} | null,
     "related": [{"record_id", "event_id", "relation"}, ...],
     "links": [{"relation", "record_id", "event_id", "label", "confidence", "reason"}, ...],
     "same_as": {"record_id", "event_id", "file"} | null}

Every link carries its confidence and the reason for it (issue 17: the handle and session
fields came after the issue-5 ones, which keep their order; the session's 4624 details after
those, `core.report.sessions`, None when the logon id has no session in the log; then the first
50 processes started in it, `processes_left_out` counting the rest). `pid`, `handle_id` and `logon_id`
are integers, and `pid_hex`, `handle_id_hex`, `logon_id_hex` the same ids as Windows prints
them (`0x1dac`). `links` are the links beyond those roles: the other channel's record of the
same process access (Sysmon 10 <-> 4656), the two records of one service install, the process a
service or task started and back. Without `--json` the correlation tree is printed as text
(event data escaped so it cannot drive the terminal); an event a list view shows (a 4690, a
process access) has its tree read from the store when the log was prepared (`evtx-explorer
prepare`) or opened in the app before: the model is built only when an answer needs it (0.16
s against 6.8 s for a 4656's tree at a million churn events).

`--sessions` lists every logon session instead (the Sessions view's rows, in its order): with
`--json` one object per session (`core.report.sessions.session_record`: the fields above, logon
id, user, 4624 record and the processes started in it), else one line per session. The first
rows are the logon ids with processes but no session in the log (`before_log` true, `reason`
saying why: a well-known session such as SYSTEM 0x3e7 without a 4624 in its boot, or a logon
before the log), so that every process started under a logon id is under some row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cli.common import add_input_args, dump_json
from cli.exit_codes import Exit, worst
from cli.query_args import load_filtered
from core.correlate.links import Correlation, EventLink, HandleLink, Node, ProcessLink, SessionLink
from core.correlate.model import CorrelationModel, model_from_store
from core.correlate.processes import SYSTEM_PID
from core.model.event import iso_from_filetime
from core.model.rows import source_of
from core.model.text import printable
from core.model.values import hex_id
from core.report.sessions import STILL_OPEN, session_fields, session_processes, session_records
from core.store import correlation_tables
from core.store.store import Store, StoredEvent


def _record(text: str) -> int:
    """A record ID as typed: decimal, or hex with 0x."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a record ID: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a record ID: {text!r}")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "correlate",
        help="show the processes, handles and logon session behind events (4690, 4688, 4656, ...)",
        description="Correlate events: for a 4690, its source and target processes (their 4688/4689), "
        "the source handle's 4656/4663/4658, the target handle's close and the logon session; for other "
        "events what applies. Every link carries its evidence record and a confidence.",
    )
    add_input_args(parser)
    select = parser.add_mutually_exclusive_group(required=True)
    select.add_argument("--record", type=_record, metavar="N",
                        help="events with this record ID (EventRecordID; RecordNumber or position in exports)")
    select.add_argument("--where", metavar="QUERY", help="events matching a query, e.g. '4690 host:FS01'")
    select.add_argument("--sessions", action="store_true",
                        help="list every logon session (type, source, packages, privileged, start/end, processes)")
    parser.add_argument("--json", action="store_true", help="print a JSON list (one object per event)")
    parser.set_defaults(func=run)


# -- JSON shape --------------------------------------------------------------------------------


def process_document(link: ProcessLink | None) -> dict[str, Any] | None:
    if link is None:
        return None
    p = link.process
    image = p.image if p is not None else None
    if image is None and link.pid == SYSTEM_PID:
        image = "System"
    return {
        "record_id": p.created.record_id if p is not None and p.created is not None else None,
        "pid": link.pid,
        "image": image,
        "confidence": link.confidence,
        "reason": link.reason,
        "pid_hex": _hex(link.pid),
        "guid": p.guid if p is not None else None,
        "sysmon_record_id": p.sysmon_created.record_id if p is not None and p.sysmon_created is not None else None,
    }


def _hex(value: int | None) -> str | None:
    return None if value is None else hex_id(value)


def handle_document(link: HandleLink | None) -> dict[str, Any] | None:
    if link is None:
        return None
    h = link.handle
    return {
        "handle_id": link.handle_id,
        "open_record_id": h.opened.record_id if h is not None and h.opened is not None else None,
        "object_type": h.object_type if h is not None else None,
        "object_name": h.object_name if h is not None else None,
        "close_record_id": h.closed.record_id if h is not None and h.closed is not None else None,
        "handle_id_hex": _hex(link.handle_id),
        "confidence": link.confidence,
        "reason": link.reason,
        "close_reason": h.close_reason if h is not None else None,
    }


def session_document(link: SessionLink | None, model: CorrelationModel) -> dict[str, Any] | None:
    """The session: the issue-17 fields, its 4624's (`session_fields`), then the processes
    started in it (the first `SESSION_PROCESSES_LISTED`, as `--sessions --json` names them)."""
    if link is None:
        return None
    s = link.session
    return {
        "logon_id": link.logon_id,
        "record_id": s.logon.record_id if s is not None and s.logon is not None else None,
        "user": link.user,
        "logon_id_hex": _hex(link.logon_id),
        "confidence": link.confidence,
        "reason": link.reason,
        **session_fields(s),
        **session_processes(model, s),
    }


def link_document(link: EventLink) -> dict[str, Any]:
    return {
        "relation": link.relation,
        "record_id": link.ref.record_id if link.ref is not None else None,
        "event_id": link.ref.event_id if link.ref is not None else None,
        "label": link.label,
        "confidence": link.confidence,
        "reason": link.reason,
    }


def correlation_document(stored: StoredEvent, c: Correlation, paths: dict[int, str],
                         model: CorrelationModel) -> dict[str, Any]:
    """One selected event and everything tied to it, in the documented JSON shape."""
    ev = stored.event
    return {
        "event": {
            "record_id": ev.record_id if ev.record_id is not None else ev.record_number,
            "event_id": ev.event_id,
            "channel": ev.channel,
            "computer": ev.computer,
            "time": iso_from_filetime(ev.filetime),
            "file": paths.get(ev.source, ""),
        },
        "source_process": process_document(c.source_process),
        "target_process": process_document(c.target_process),
        "source_handle": handle_document(c.source_handle),
        "target_handle": handle_document(c.target_handle),
        "session": session_document(c.session, model),
        "related": [
            {"record_id": r.ref.record_id, "event_id": r.ref.event_id, "relation": r.relation} for r in c.related
        ],
        "links": [link_document(link) for link in c.links],
        "same_as": None if c.same_as is None else {
            "record_id": c.same_as.record_id, "event_id": c.same_as.event_id,
            "file": paths.get(source_of(c.same_as.store_id), ""),
        },
    }


# -- text --------------------------------------------------------------------------------------


def render_tree(node: Node, out: Any, depth: int = 0) -> None:
    """A tree as indented text, confidence first; iterative (trees from logs can be deep)."""
    render_items([node], out, depth)


def render_items(items: Sequence[Any], out: Any, depth: int = 0) -> None:
    """`render_tree` of several roots, the engine's `Node`s or a stored tree's nodes (whose
    label may be a `Text`: its plain text, as the engine's label was)."""
    stack: list[tuple[Any, int]] = [(item, depth) for item in reversed(items)]
    while stack:
        n, d = stack.pop()
        out.write(f"{'  ' * d}[{n.confidence}] {printable(str(getattr(n.label, 'plain', n.label)))}\n")
        stack.extend((child, d + 1) for child in reversed(n.children))


def stored_tree(store: Store, stored: StoredEvent) -> list[Any] | None:
    """The event's correlation tree whole as kept with the log (a list view's line: `prepare`
    or an earlier open of the app stored it), None when only the model can tell."""
    if not (store.shareable and correlation_tables.ready(store)):
        return None  # (no tables: the app's modules are not even imported)
    from tui.correlation import stored_correlation
    from tui.nav_tree import MAX_TREE_NODES

    found = stored_correlation(store, True, stored.id)
    if found is None or found[1] > MAX_TREE_NODES:  # beyond it: paged, not whole
        return None
    return found[0]


# -- command -----------------------------------------------------------------------------------


def session_line(record: dict[str, Any]) -> str:
    """One session as a text line: start, computer, user, type, source, auth, privileged,
    processes, end (log text escaped by the caller). A logon id without a session (its logon
    before the log: `before_log`) starts "before the log", its end and privileges unknown."""
    if record.get("before_log"):
        return (f"before the log  {record['computer']}  {record['logon_id_hex']}  {record['user'] or '?'}  "
                f"type -  from -  auth -  privileged -  processes {record['process_count']}  end -")
    source = " ".join(str(v) for v in (record["ip"], record["workstation"]) if v) or "-"
    auth = "/".join(str(v) for v in (record["auth_package"], record["lm_package"]) if v) or "-"
    kind = " ".join(str(v) for v in (record["logon_type"], record["logon_type_name"]) if v) or "-"
    return (f"{record['start'] or 'no 4624'}  {record['computer']}  {record['logon_id_hex']}  "
            f"{record['user'] or '?'}  type {kind}  from {source}  auth {auth}  "
            f"privileged {'yes' if record['privileged'] else 'no'}  processes {record['process_count']}  "
            f"end {record['end'] or STILL_OPEN}")


def _list_sessions(args: argparse.Namespace) -> Exit:
    loaded = load_filtered(args, "")
    if loaded is None:
        return Exit.USAGE
    store, _compiled, status = loaded
    model = model_from_store(store)
    records = session_records(model)
    if model.unreadable_logons:
        print(f"evtx-explorer: {model.unreadable_logons:,} logon, logoff or privilege events name a logon id "
              "that is no number: no session is made of them", file=sys.stderr)
    if args.json:
        sys.stdout.write(dump_json(records) + "\n")
    else:
        for record in records:
            sys.stdout.write(printable(session_line(record)) + "\n")
    return status


def run(args: argparse.Namespace) -> Exit:
    if args.sessions:
        return _list_sessions(args)
    where_text = args.where if args.where is not None else f"record:{args.record}"
    loaded = load_filtered(args, where_text)
    if loaded is None:
        return Exit.USAGE
    store, compiled, status = loaded
    built: list[CorrelationModel] = []

    def model() -> CorrelationModel:  # built once, when an answer needs it
        if not built:
            built.append(model_from_store(store))
        return built[0]

    paths = {s.id: s.path for s in store.sources()}
    out = sys.stdout
    count = 0
    events = store.iter_events(compiled)
    if args.json:
        out.write("[")
        for stored in events:
            doc = correlation_document(stored, model().correlate(stored), paths, model())
            out.write(("\n" if count == 0 else ",\n") + _indent(dump_json(doc)))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        for stored in events:
            if count:
                out.write("\n")
            ev = stored.event
            out.write(f"# {printable(paths.get(ev.source, ''))} record {ev.record_id} ({ev.event_id})\n")
            kept = None if built else stored_tree(store, stored)  # (the model, once built, answers the rest)
            if kept is not None:
                render_items(kept, out)
            else:
                render_tree(model().correlate(stored).tree(), out)
            count += 1
    if count == 0:
        what = f"record ID {args.record}" if args.where is None else "the query"
        print(f"evtx-explorer: no event matches {what}", file=sys.stderr)
        return worst(status, Exit.NO_MATCH)
    return status


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
