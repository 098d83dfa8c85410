"""Per-computer work (process instances, handle chains, seed findings) as pure functions over
one computer's events, so that Spark (`groupBy(...).applyInPandas`) and the local engine run
the very same code per host, and the answers are the local store's by construction.

The functions rebuild each group's events in view order and hand them to the project's own
engines: `core.correlate.model.build_model` (the process/handle/session trackers) and
`core.findings.engine.run_findings`. Rows name events by (source path, place), which both the
store and the fleet dataset know (`core.fleet.schema`), never by a store id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from core.correlate.model import CorrelationModel, build_model
from core.correlate.process_boots import restart_record
from core.correlate.processes import Process, Ref, restart_ended
from core.findings.engine import Finding, RuleSet, run_findings
from core.model.event import Event, make_event
from core.store.store import StoredEvent

#: The columns each group needs (ts and pid come coalesced to -1: pandas would make a nullable
#: int64 column float64, and FILETIME ticks do not survive a float).
INPUT_COLUMNS = ("computer", "source", "place", "record_number", "record_id", "ts", "event_id", "channel",
                 "provider", "user_sid", "data")
KeyOf = Callable[[int], tuple[str, int]]

PROCESSES = pa.schema([
    ("computer", pa.string()), ("pid", pa.int64()), ("image", pa.string()), ("command_line", pa.string()),
    ("user", pa.string()), ("logon_id", pa.int64()), ("parent_pid", pa.int64()), ("parent_image", pa.string()),
    ("parent_record_id", pa.int64()), ("start_record_id", pa.int64()), ("start_time", pa.int64()),
    ("end_record_id", pa.int64()), ("end_time", pa.int64()), ("confidence", pa.string()),
    ("pre_existing", pa.bool_()), ("children", pa.int64()), ("handles", pa.int64()),
    ("source", pa.string()), ("place", pa.int64()),
])
HANDLES = pa.schema([
    ("computer", pa.string()), ("pid", pa.int64()), ("handle_id", pa.int64()), ("process_record_id", pa.int64()),
    ("object_type", pa.string()), ("object_name", pa.string()), ("opened_record_id", pa.int64()),
    ("duplicated_by_record_id", pa.int64()), ("source_pid", pa.int64()), ("source_handle_id", pa.int64()),
    ("closed_record_id", pa.int64()), ("close_reason", pa.string()), ("accesses", pa.int64()),
    ("confidence", pa.string()), ("source", pa.string()), ("place", pa.int64()),
])
FINDINGS = pa.schema([
    ("rule", pa.string()), ("severity", pa.string()), ("computer", pa.string()), ("record_id", pa.int64()),
    ("event_id", pa.int64()), ("time", pa.int64()), ("message", pa.string()), ("source", pa.string()),
    ("place", pa.int64()),
])

#: Per-event rule sets besides the seed rules (e.g. Sigma, `core.findings.sigma`): each takes a
#: (store id, Event) and returns findings. Registered by the module that provides them.
PER_EVENT_RULES: list[Callable[[int, Event], list[Finding]]] = []


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """A `data` map cell as pairs: Arrow gives a list of (key, value), PySpark a dict."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, dict) else value
    return tuple((str(k), str(v)) for k, v in items)


def group_events(pdf: pd.DataFrame) -> tuple[list[StoredEvent], KeyOf]:
    """One computer's events in view order (time, no time first, EventRecordID, source, place),
    and the way back from a store id to (source, place).

    The store ids are the store's order of the events (`core.model.rows.store_id`: by input,
    then place; inputs by path), not their view order: the model orders its events by time with
    an event without a time taking its input's previous event's time, previous by store id
    (`core.correlate.scan.time_order`), so ids in view order put every such event first (and
    its process before the one that started it)."""
    cols = {name: pdf[name].tolist() for name in INPUT_COLUMNS}
    ts, rid, src, place = cols["ts"], cols["record_id"], cols["source"], cols["place"]
    stored = sorted(range(len(ts)), key=lambda i: (src[i], place[i]))
    store_id = [0] * len(ts)
    for n, i in enumerate(stored, 1):
        store_id[i] = n
    sources = {path: n for n, path in enumerate(sorted(set(src)))}
    view = sorted(range(len(ts)), key=lambda i: (ts[i], rid[i], store_id[i]))
    events: list[StoredEvent] = []
    numbers, eids, computers = cols["record_number"], cols["event_id"], cols["computer"]
    channels, providers, sids, datas = cols["channel"], cols["provider"], cols["user_sid"], cols["data"]
    for i in view:
        tick = int(ts[i])
        user_sid = sids[i]
        ev = make_event(sources[src[i]], int(numbers[i]), int(rid[i]), None if tick < 0 else tick, int(eids[i]),
                        None, None, None, None, None, channels[i] or "", providers[i] or "", computers[i], None, None,
                        user_sid if isinstance(user_sid, str) else None, _pairs(datas[i]), None)
        events.append(StoredEvent(store_id[i], ev))
    keys = [(src[i], int(place[i])) for i in stored]
    return events, lambda sid: keys[sid - 1]


def _rid(ref: Ref | None) -> int | None:
    return None if ref is None else ref.record_id


def process_rows(model: CorrelationModel, key_of: KeyOf) -> Iterator[dict[str, Any]]:
    """One row per process instance (PID-reuse exact), named by natural keys only. Its end is
    its 4689, the 4688 that reused its pid, or the restart of its computer that ended it (the
    record and time of the restart's event: `core.correlate.process_boots`); none while it runs
    on at the end of the log."""
    for p in model.processes:
        parent = model.processes[p.parent] if p.parent is not None else None
        start = p.created or p.first_seen
        end = p.exited or p.replaced_by
        end_record, end_time = (_rid(end), end.filetime) if end is not None else _restart_end(p)
        source, place = key_of(start.store_id)
        yield {
            "computer": p.computer, "pid": p.pid, "image": p.image, "command_line": p.command_line, "user": p.user,
            "logon_id": p.logon_id, "parent_pid": p.parent_pid, "parent_image": parent.image if parent else None,
            "parent_record_id": _rid(parent.created or parent.first_seen) if parent else None,
            "start_record_id": start.record_id, "start_time": start.filetime, "end_record_id": end_record,
            "end_time": end_time, "confidence": p.confidence,
            "pre_existing": p.pre_existing, "children": len(p.children), "handles": len(p.handles),
            "source": source, "place": place,
        }


def _restart_end(p: Process) -> tuple[int | None, int | None]:
    """The record id and time of the restart that ended `p` (its bound is the restart's place),
    (None, None) when none did."""
    restart = restart_ended(p.reason)
    bound = p.end
    if restart is None or bound is None:
        return None, None
    return restart_record(restart), bound[0]


def handle_rows(model: CorrelationModel, key_of: KeyOf) -> Iterator[dict[str, Any]]:
    """One row per handle instance, with the 4690 that duplicated it and the handle it copies."""
    for h in model.handles:
        proc = model.processes[h.process]
        src = model.handles[h.source] if h.source is not None else None
        source, place = key_of(h.first_seen.store_id)
        yield {
            "computer": h.computer, "pid": h.pid, "handle_id": h.handle_id,
            "process_record_id": _rid(proc.created or proc.first_seen), "object_type": h.object_type,
            "object_name": h.object_name, "opened_record_id": _rid(h.opened),
            "duplicated_by_record_id": _rid(h.duplicated_by), "source_pid": src.pid if src else None,
            "source_handle_id": src.handle_id if src else None, "closed_record_id": _rid(h.closed),
            "close_reason": h.close_reason, "accesses": len(h.accesses), "confidence": h.confidence,
            "source": source, "place": place,
        }


def finding_rows(findings: Iterable[Finding], key_of: KeyOf) -> Iterator[dict[str, Any]]:
    for f in findings:
        source, place = key_of(f.store_id)
        yield {"rule": f.rule, "severity": f.severity, "computer": f.computer, "record_id": f.record_id,
               "event_id": f.event_id, "time": f.time, "message": f.message, "source": source, "place": place}


def _frame(rows: Iterable[dict[str, Any]], schema: pa.Schema) -> pd.DataFrame:
    """Rows as a DataFrame of Python objects: integer columns with nulls stay exact (pandas would
    make them float64, and FILETIME ticks do not survive a float)."""
    listed = list(rows)
    return pd.DataFrame({name: pd.Series([r[name] for r in listed], dtype=object) for name in schema.names})


def processes_of(pdf: pd.DataFrame) -> pd.DataFrame:
    events, key_of = group_events(pdf)
    return _frame(process_rows(build_model(events), key_of), PROCESSES)


def handles_of(pdf: pd.DataFrame) -> pd.DataFrame:
    events, key_of = group_events(pdf)
    return _frame(handle_rows(build_model(events), key_of), HANDLES)


def findings_of(rules: RuleSet) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The seed rules (and any PER_EVENT_RULES) over one computer's events, in time order: the
    integrity-above-parent rule keeps a per-computer process table, hence per host, not per event."""

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        events, key_of = group_events(pdf)
        found = run_findings(events, rules)
        for extra in PER_EVENT_RULES:
            for sid, ev in events:
                found.extend(extra(sid, ev))
        return _frame(finding_rows(found, key_of), FINDINGS)

    return run
