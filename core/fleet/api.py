"""What the `fleet` command asks of an engine, as plain rows: the same on Spark and on DuckDB.

Each answer is one `Engine.attempt` (`_answer`): a part the engine fails to read is left out and
the whole answer asked again, so that its counts and rows come from one set of parts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from core.correlate.model import ATTACHED_EVENT_IDS
from core.correlate.process_boots import MARKER_EVENT_IDS
from core.correlate.roles import scanned_event_ids
from core.findings.engine import RuleSet, needed_event_ids
from core.fleet import query_sql
from core.fleet.engines import Engine
from core.fleet.markers import inputs
from core.fleet.per_host import FINDINGS, HANDLES, PER_EVENT_RULES, PROCESSES, findings_of, handles_of, processes_of
from core.model.event import FILETIME_END, FILETIME_MIN, iso_from_filetime, time_in_range
from core.query.lexer import QueryError
from core.query.stack import (
    DEFAULT_LIMIT,
    STACK_ALIASES,
    SYSTEM_COLUMNS,
    Stack,
    StackRow,
    _fold,
    _merge,
    _ranked,
    resolve_field,
)
from core.query.timeline import MAX_BUCKETS, SECOND, Bucket, Timeline, auto_width, width_label

P = ParamSpec("P")
T = TypeVar("T")


def _answer(fn: Callable[Concatenate[Engine, P], T]) -> Callable[Concatenate[Engine, P], T]:
    """`fn` as one `Engine.attempt`: its queries and the conversion of their rows to Python (where
    Spark's invalid UTF-8 shows) asked again, whole, without a part the engine failed to read."""

    @functools.wraps(fn)
    def attempted(engine: Engine, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return engine.attempt(lambda: fn(engine, *args, **kwargs))

    return attempted


@_answer
def check_names(engine: Engine, where: str) -> None:
    """Raise QueryError, as the store's `compile_query(where, store.field_names())` does, when
    `where` names a field no event of the dataset holds and the language does not know. Only
    names the language does not know are looked up (one scan of `fields`, when there are any);
    the dataset's every name only when one is missing (for the nearest ones)."""
    wanted = query_sql.data_names(where)
    if not wanted:
        return
    held = {str(r["name"]) for r in engine.table(query_sql.field_names(wanted)).to_pylist()}
    if wanted <= held:
        return
    query_sql.check_names(where, {str(r["name"]) for r in engine.table(query_sql.field_names()).to_pylist()})


@_answer
def query(engine: Engine, where: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The matching events in view order (time, EventRecordID, source, place)."""
    rows: list[dict[str, Any]] = engine.table(query_sql.select_events(where, limit)).to_pylist()
    return rows


def stream(engine: Engine, where: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """`query`, a batch at a time: for printing results of any size."""
    select = query_sql.select_events(where, limit)
    return engine.attempt_stream(lambda: engine.stream(select))


@_answer
def count(engine: Engine, where: str) -> int:
    return int(engine.table(query_sql.count_events(where)).to_pylist()[0]["n"])


@_answer
def stack(
    engine: Engine, where: str, by: str, *, limit: int | None = DEFAULT_LIMIT, descending: bool = False
) -> Stack:
    """The stack of `by` over the matching events, as `core.query.stack.stack` gives it for the
    same events: the same field names and aliases (an unknown one raises the same QueryError),
    every value of a multi-valued field counted (an event holding two values counts for each),
    values grouped with ASCII case folding, an event counted once per value and once as holding
    the field (whatever names of an alias, or how many times, it holds it under), the same
    order, limit, `more` and `missing`."""
    if limit is not None and limit < 0:
        raise QueryError("the limit must be >= 0", 0)
    key = by.strip().lower()
    known = key in SYSTEM_COLUMNS or key in STACK_ALIASES
    target = resolve_field(by, () if known else (key,))
    total = count(engine, where)
    if target.column is not None:
        rows = engine.table(query_sql.stack_column(where, target.column)).to_pylist()
        groups = _merge((r["value"], int(r["n"])) for r in rows)
        held = sum(c for _, c in groups.values())
    else:
        groups, held = _field_counts(engine, where, target.names)
        if not known and not held:  # no value in the view: is it a name of the dataset at all?
            resolve_field(by, {str(r["name"]) for r in engine.table(query_sql.field_names()).to_pylist()})
    ranked = _ranked(groups, limit, descending)
    out = tuple(StackRow(v, c, c / total if total else 0.0) for v, c in ranked)
    return Stack(target.query_name, total, out, len(groups), len(groups) - len(out), max(0, total - held))


def _field_counts(engine: Engine, where: str, names: tuple[str, ...]) -> tuple[dict[str, tuple[str, int]], int]:
    """As `core.query.stack._field_counts`: counts per value (the spelling of its first event),
    then the surplus of events holding a value (or any value) twice taken off: under two names
    of an alias, or one name held twice (a UserData element's repeated children)."""
    rows = engine.table(query_sql.stack_pairs(where, names)).to_pylist()
    # (the store's order of its posting rows: by name, then as stored: `query_sql.stack_pairs`)
    rows.sort(key=lambda r: (r["name"], r["first"]["source"], r["first"]["place"], r["first"]["nth"]))
    groups = _merge((r["value"], int(r["n"])) for r in rows)
    held = sum(int(r["n"]) for r in rows)
    if len(names) == 1 and not _held_twice(engine, names[0]):
        return groups, held
    for r in engine.table(query_sql.stack_value_overlaps(where, names)).to_pylist():
        key = _fold(str(r["fold"]))
        if key in groups:
            text, n = groups[key]
            groups[key] = (text, n - int(r["extra"]))
    extra = engine.table(query_sql.stack_event_overlaps(where, names)).to_pylist()
    return groups, held - int((extra[0]["extra"] if extra else None) or 0)


def _held_twice(engine: Engine, name: str) -> bool:
    """Whether some event of the dataset may hold `name` twice (an input converted before its
    marker said so counts as one that may): only then are its events' surplus counted."""
    markers = inputs(engine.root)
    return any(name in marker.get("repeated_names", (name,)) for marker in markers)


@_answer
def timeline(engine: Engine, where: str, width: int | None = None) -> Timeline:
    """The histogram of the matching events, as `core.query.timeline.timeline` gives it for the
    same events: the same automatic width (or `width` ticks), buckets aligned to the width in
    UTC from the first to the last event, empty ones kept, events without a time apart, and
    the same QueryError past MAX_BUCKETS."""
    span = engine.table(query_sql.time_span(where)).to_pylist()[0]
    first, last, total = span["first"], span["last"], int(span["n"])
    if first is None or last is None:
        return Timeline(width or SECOND, (), total, total)
    if width is None:
        width = auto_width(first, last)
    elif width <= 0:
        raise QueryError("the bucket width must be positive", 0)
    lo, hi = first // width, last // width
    if hi - lo + 1 > MAX_BUCKETS:
        raise QueryError(f"{hi - lo + 1:,} buckets of {width_label(width)}: more than {MAX_BUCKETS:,} "
                         f"(choose a wider bucket, e.g. {width_label(auto_width(first, last))})", 0)
    counts = {int(r["bucket"]) // width: int(r["count"])
              for r in engine.table(query_sql.timeline(where, width)).to_pylist()}
    timed = sum(counts.values())
    buckets = tuple(Bucket(b * width, (b + 1) * width, counts.get(b, 0)) for b in range(lo, hi + 1))
    return Timeline(width, buckets, total, total - timed)


def _sorted(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Rows in a stable order whatever engine (and partitioning) produced them."""
    return sorted(rows, key=lambda r: tuple((r[k] is not None, r[k] if r[k] is not None else 0) for k in keys))


def model_event_ids() -> tuple[int, ...]:
    """The EventIDs the correlation model reads (scanned and attached), as the store's build does;
    and the restarts' markers (4608, 4609, 1100, 6005, 6006: `core.correlate.process_boots`),
    which `build_model` keeps by their provider: a restart ends the processes, handles and
    sessions of its computer."""
    return tuple(sorted({*scanned_event_ids(), *ATTACHED_EVENT_IDS, *MARKER_EVENT_IDS}))


@_answer
def processes(engine: Engine, where: str = "") -> list[dict[str, Any]]:
    """Process instances per computer (PID-reuse exact), from the model events matching `where`."""
    ids = model_event_ids()
    rows = engine.per_host(processes_of, PROCESSES, ids, where).to_pylist()
    return _sorted(rows, "computer", "start_time", "start_record_id", "source", "place", "pid")


@_answer
def handles(engine: Engine, where: str = "") -> list[dict[str, Any]]:
    """Handle instances per computer, with the 4690 duplications that made them."""
    ids = model_event_ids()
    rows = engine.per_host(handles_of, HANDLES, ids, where).to_pylist()
    return _sorted(rows, "computer", "source", "place", "pid", "handle_id")


@_answer
def findings(engine: Engine, rules: RuleSet, where: str = "") -> list[dict[str, Any]]:
    """The seed rules (and registered per-event rule sets) per computer, in time order."""
    ids = None if PER_EVENT_RULES else tuple(needed_event_ids(rules))
    rows = engine.per_host(findings_of(rules), FINDINGS, ids, where).to_pylist()
    return _sorted(rows, "computer", "time", "record_id", "source", "place", "rule")


@_answer
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
        if ts is None or not time_in_range(ts):  # (no date to word: no time to be around)
            continue
        lo, hi = span.get(row["computer"], (ts, ts))
        span[row["computer"]] = (min(lo, ts), max(hi, ts))
    pad = int(minutes * 60 * 10_000_000)
    parts = []
    for computer, (lo, hi) in sorted(span.items()):
        quoted = computer.replace("\\", "\\\\").replace('"', '\\"')
        # (within the date range: `after:` and `before:` take dates)
        after = iso_from_filetime(max(lo - pad, FILETIME_MIN))
        before = iso_from_filetime(min(hi + pad + 1, FILETIME_END - 1))
        parts.append(f'(host:"{quoted}" after:{after} before:{before})')
    return " OR ".join(parts) if parts else None
