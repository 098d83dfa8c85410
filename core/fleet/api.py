"""What the `fleet` command asks of an engine, as plain rows: the same on Spark and on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.correlate.model import ATTACHED_EVENT_IDS
from core.correlate.roles import scanned_event_ids
from core.findings.engine import RuleSet, needed_event_ids
from core.fleet import query_sql
from core.fleet.engines import Engine
from core.fleet.per_host import FINDINGS, HANDLES, PER_EVENT_RULES, PROCESSES, findings_of, handles_of, processes_of
from core.model.event import iso_from_filetime


def query(engine: Engine, where: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The matching events in view order (time, EventRecordID, source, place)."""
    rows: list[dict[str, Any]] = engine.table(query_sql.select_events(where, limit)).to_pylist()
    return rows


def stream(engine: Engine, where: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """`query`, a batch at a time: for printing results of any size."""
    return engine.stream(query_sql.select_events(where, limit))


def count(engine: Engine, where: str) -> int:
    return int(engine.table(query_sql.count_events(where)).to_pylist()[0]["n"])


def stack(engine: Engine, where: str, by: str, limit: int | None = None) -> list[dict[str, Any]]:
    """[{value, count}] rarest first; `value` None for events without the field."""
    rows: list[dict[str, Any]] = engine.table(query_sql.stack(where, by, limit)).to_pylist()
    return rows


def timeline(engine: Engine, where: str, bucket: str) -> list[dict[str, Any]]:
    """[{bucket (ISO start, None = no time), ticks, count}] in time order."""
    rows = engine.table(query_sql.timeline(where, bucket)).to_pylist()
    return [{"bucket": iso_from_filetime(r["bucket"]), "ticks": r["bucket"], "count": r["count"]} for r in rows]


def _sorted(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Rows in a stable order whatever engine (and partitioning) produced them."""
    return sorted(rows, key=lambda r: tuple((r[k] is not None, r[k] if r[k] is not None else 0) for k in keys))


def model_event_ids() -> tuple[int, ...]:
    """The EventIDs the correlation model reads (scanned and attached), as the store's build does."""
    return tuple(sorted({*scanned_event_ids(), *ATTACHED_EVENT_IDS}))


def processes(engine: Engine, where: str = "") -> list[dict[str, Any]]:
    """Process instances per computer (PID-reuse exact), from the model events matching `where`."""
    ids = model_event_ids()
    rows = engine.per_host(processes_of, PROCESSES, ids, where).to_pylist()
    return _sorted(rows, "computer", "start_time", "start_record_id", "source", "place", "pid")


def handles(engine: Engine, where: str = "") -> list[dict[str, Any]]:
    """Handle instances per computer, with the 4690 duplications that made them."""
    ids = model_event_ids()
    rows = engine.per_host(handles_of, HANDLES, ids, where).to_pylist()
    return _sorted(rows, "computer", "source", "place", "pid", "handle_id")


def findings(engine: Engine, rules: RuleSet, where: str = "") -> list[dict[str, Any]]:
    """The seed rules (and registered per-event rule sets) per computer, in time order."""
    ids = None if PER_EVENT_RULES else tuple(needed_event_ids(rules))
    rows = engine.per_host(findings_of(rules), FINDINGS, ids, where).to_pylist()
    return _sorted(rows, "computer", "time", "record_id", "source", "place", "rule")


def events_at(engine: Engine, keys: list[tuple[str, int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = engine.table(query_sql.events_at(keys)).to_pylist()
    return rows


def context_query(rows: list[dict[str, Any]], minutes: float) -> str | None:
    """A query for the events on the rows' computers within `minutes` of them (per computer, from
    `minutes` before its first row to `minutes` after its last): what `--open --context` adds, in
    the filter language itself so that it means what a user would type. None when no row has a time."""
    span: dict[str, tuple[int, int]] = {}
    for row in rows:
        ts = row.get("ts")
        if ts is None:
            continue
        lo, hi = span.get(row["computer"], (ts, ts))
        span[row["computer"]] = (min(lo, ts), max(hi, ts))
    pad = int(minutes * 60 * 10_000_000)
    parts = []
    for computer, (lo, hi) in sorted(span.items()):
        quoted = computer.replace("\\", "\\\\").replace('"', '\\"')
        after, before = iso_from_filetime(lo - pad), iso_from_filetime(hi + pad + 1)
        parts.append(f'(host:"{quoted}" after:{after} before:{before})')
    return " OR ".join(parts) if parts else None
