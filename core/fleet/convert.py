"""`convert`: inputs (EVTX, Event XML, JSON lines) -> the fleet's Parquet dataset (`core.fleet.schema`).

Streams with bounded memory: events are read in the loaders' batches, rows are held per
(host, day) partition up to FLUSH_ROWS in all, and at most MAX_WRITERS files are open at once.
Resumable: an input is keyed by the cache's identity (`core.store.cache.input_identity`: real
path, size, mtime, hash of its edges) and written under a staging directory that is moved into
place only when the input is complete, with a marker written last; a re-run skips inputs whose
marker exists and clears what an interrupted run left of the others.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.fleet.schema import EVENTS, FIELD_TYPE, FLEET_SCHEMA_VERSION, ISSUES, day_dir, host_dir
from core.model.event import EPOCH_AS_FILETIME, Event, InputError, ParseIssue
from core.model.rows import MAX_PLACE, EventRow, repeated_in, split_repeated
from core.model.values import as_int
from core.store import schema as store_schema
from core.store.cache import PARSE_REVISION, input_identity

#: Rows held in memory across partitions before they are written (bounded memory).
FLUSH_ROWS = 50_000
#: Open Parquet writers at most (an input spanning many days or hosts rolls over to new files).
MAX_WRITERS = 32
#: Parse issues kept per input in the issues table (the count is always exact).
MAX_ISSUES = 100_000


@dataclass(slots=True)
class ConvertResult:
    """What happened to one input: `skipped` when an earlier run converted it already."""

    path: str
    key: str
    records: int = 0
    issues: int = 0
    error: str | None = None
    skipped: bool = False
    seconds: float = 0.0
    format: str = ""
    partitions: set[tuple[str, str]] = field(default_factory=set)


ProgressLine = Callable[[str], None]


def input_key(path: str) -> str:
    """The input's key in the dataset: its cache identity with the schema and parser revisions."""
    version = f"fleet{FLEET_SCHEMA_VERSION}.{store_schema.SCHEMA_VERSION}.{PARSE_REVISION}"
    return hashlib.sha256(f"{version}\n{input_identity(path)}".encode()).hexdigest()[:24]


def convert(paths: Sequence[str], out: str | Path, *, jobs: int | None = None,
            progress: ProgressLine | None = None, workers: int = 1) -> list[ConvertResult]:
    """Convert every input into the dataset at `out` (created if needed); results in input order.

    `workers` > 1 converts that many inputs at once, each in its own process (EVTX decoding
    then uses one process per input instead of `jobs` per input): many small logs of many hosts
    convert in parallel, where one big log is best decoded with `jobs` workers alone."""
    root = Path(out)
    for sub in ("events", "issues", "inputs", ".staging"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    results: dict[int, ConvertResult] = {}
    todo: list[tuple[int, str, str]] = []
    for n, path in enumerate(paths):
        key = input_key(path)
        marker = root / "inputs" / f"{key}.json"
        if marker.exists():
            result = ConvertResult(path, key, skipped=True)
            done = json.loads(marker.read_text())
            result.records, result.issues, result.error = done["records"], done["issues"], done["error"]
            if progress:
                progress(f"[{n + 1}/{len(paths)}] {path}: already converted ({result.records:,} events), skipped")
            results[n] = result
        else:
            todo.append((n, path, key))
    if workers > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        from parsers.evtx import worker_count

        with ProcessPoolExecutor(min(worker_count(workers), len(todo)), mp_context=context) as pool:
            futures = {pool.submit(_convert_fresh, path, key, str(root), 1): n for n, path, key in todo}
            for future in as_completed(futures):
                n = futures[future]
                results[n] = result = future.result()
                if progress:
                    progress(f"[{n + 1}/{len(paths)}] {_summary(result)}")
    else:
        for n, path, key in todo:
            _clear_leftovers(root, key)
            results[n] = _convert_one(path, key, root, jobs, progress, f"[{n + 1}/{len(paths)}]")
    shutil.rmtree(root / ".staging", ignore_errors=True)
    return [results[n] for n in range(len(paths))]


def _convert_fresh(path: str, key: str, root: str, jobs: int | None) -> ConvertResult:
    """One input in a worker process (no progress lines: the parent says when it is done)."""
    _clear_leftovers(Path(root), key)
    return _convert_one(path, key, Path(root), jobs, None, "")


def _summary(result: ConvertResult) -> str:
    what = f"error: {result.error}" if result.error else f"{result.records:,} events, {result.issues:,} issues"
    return f"{result.path}: {what} in {result.seconds:.1f} s"


def _clear_leftovers(root: Path, key: str) -> None:
    """Files an interrupted run of this input left (staged, or moved but not marked done)."""
    shutil.rmtree(root / ".staging" / key, ignore_errors=True)
    for stale in (root / "events").glob(f"*/*/{key}-*.parquet"):
        stale.unlink()
    (root / "issues" / f"{key}.parquet").unlink(missing_ok=True)


def _rows(path: str, jobs: int | None, repeated: set[str]) -> tuple[str, Iterator[list[EventRow] | ParseIssue]]:
    """The input's events as store rows (`core.model.rows.EventRow`), in batches, and its issues;
    the EventData names some event holds twice are added to `repeated` as they are met."""
    from parsers.registry import detect_format, iter_input

    fmt = detect_format(path)
    if fmt == "evtx":
        from parsers import evtx

        def evtx_rows() -> Iterator[list[EventRow] | ParseIssue]:
            for batch in evtx.iter_encoded_batches(path, 0, jobs):
                repeated.update(split_repeated(batch.postings)[1])
                yield from batch.issues
                yield batch.rows

        return fmt, evtx_rows()

    def text_rows() -> Iterator[list[EventRow] | ParseIssue]:
        batch: list[EventRow] = []
        place = 0
        for item in iter_input(path, 0, jobs=jobs):
            if isinstance(item, ParseIssue):
                yield item
                continue
            place += 1
            batch.append(_row(place, item))
            if len(item.data) > 1:
                repeated.update(repeated_in(item.data))
            if len(batch) >= 5000:
                yield batch
                batch = []
        if batch:
            yield batch

    return fmt, text_rows()


def _row(place: int, ev: Event) -> EventRow:
    """An Event as a store row (the shape the EVTX workers produce)."""
    data = marshal.dumps(ev.data) if ev.data else b""
    record_id = ev.record_number if ev.record_id is None else ev.record_id
    return (place, ev.source, ev.record_number, record_id, ev.filetime, ev.event_id, ev.version, ev.level, ev.task,
            ev.opcode, ev.keywords, ev.channel, ev.provider, ev.computer, ev.pid, ev.tid, ev.user_sid, ev.locator, data)


class _Writers:
    """Parquet files of one input being written, one per (host, day), at most MAX_WRITERS open."""

    def __init__(self, staging: Path, key: str) -> None:
        self.staging = staging
        self.key = key
        self.open: OrderedDict[tuple[str, str], pq.ParquetWriter] = OrderedDict()
        self.serial = 0

    def write(self, part: tuple[str, str], table: pa.Table) -> None:
        writer = self.open.get(part)
        if writer is None:
            if len(self.open) >= MAX_WRITERS:
                self.open.popitem(last=False)[1].close()
            folder = self.staging / f"host={part[0]}" / f"day={part[1]}"
            folder.mkdir(parents=True, exist_ok=True)
            self.serial += 1
            writer = pq.ParquetWriter(folder / f"{self.key}-{self.serial}.parquet", EVENTS, compression="zstd")
            self.open[part] = writer
        else:
            self.open.move_to_end(part)
        writer.write_table(table)

    def close(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()


def _table(rows: list[EventRow], path: str, key: str) -> pa.Table:
    """Store rows (`core.model.rows.EventRow`) of one partition as a table of the EVENTS schema,
    built column by column (EventData flattened once into name/value/number arrays): a dict per
    event through `Table.from_pylist` cost three times as much."""
    columns = list(zip(*rows, strict=True))
    (sids, _sources, numbers, record_ids, ts, eids, versions, levels, tasks, opcodes, keywords, channels,
     providers, computers, pids, tids, user_sids, locators, blobs) = columns
    offsets = [0]
    map_offsets = [0]
    names: list[str] = []
    lowered: list[str] = []
    values: list[str] = []
    nums: list[int | None] = []
    map_keys: list[str] = []
    map_values: list[str] = []
    for blob in blobs:
        pairs: tuple[tuple[str, str], ...] = marshal.loads(blob) if blob else ()
        seen: set[str] = set()
        for name, value in pairs:
            names.append(name)
            values.append(value)
            if name not in seen:
                seen.add(name)
                map_keys.append(name)
                map_values.append(value)
        offsets.append(len(names))
        map_offsets.append(len(map_keys))
    lowered = [n.lower() for n in names]
    nums = [as_int(v) for v in values]
    fields = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.StructArray.from_arrays([pa.array(lowered, pa.string()), pa.array(values, pa.string()),
                                    pa.array(nums, pa.int64())], fields=list(FIELD_TYPE)),
    )
    data = pa.MapArray.from_arrays(pa.array(map_offsets, pa.int32()), pa.array(map_keys, pa.string()),
                                   pa.array(map_values, pa.string()))
    n = len(rows)
    arrays = {
        "computer": computers, "source": [path] * n, "input_key": [key] * n,
        "place": [sid & MAX_PLACE for sid in sids], "record_number": numbers, "record_id": record_ids, "ts": ts,
        "time": [None if t is None else (t - EPOCH_AS_FILETIME) // 10 for t in ts], "event_id": eids,
        "version": versions, "level": levels, "task": tasks, "opcode": opcodes, "keywords": keywords,
        "channel": channels, "provider": providers, "pid": pids, "tid": tids, "user_sid": user_sids,
        "locator": locators,
    }
    built = [pa.array(arrays[f.name], f.type) for f in EVENTS if f.name not in ("data", "fields")]
    return pa.Table.from_arrays([*built, data, fields], schema=EVENTS)


def _convert_one(path: str, key: str, root: Path, jobs: int | None, progress: ProgressLine | None,
                 tag: str) -> ConvertResult:
    result = ConvertResult(path, key)
    start = time.perf_counter()
    staging = root / ".staging" / key
    writers = _Writers(staging, key)
    held: dict[tuple[str, str], list[EventRow]] = {}
    n_held = 0
    issues: list[dict[str, Any]] = []
    repeated: set[str] = set()
    last_report = start

    def flush() -> None:
        nonlocal n_held
        for part, rows in held.items():
            writers.write(part, _table(rows, path, key))
        held.clear()
        n_held = 0

    try:
        result.format, items = _rows(path, jobs, repeated)
        for item in items:
            if isinstance(item, ParseIssue):
                result.issues += 1
                if len(issues) < MAX_ISSUES:
                    issues.append({"source": path, "input_key": key, "chunk": item.chunk, "offset": item.offset,
                                   "reason": item.reason})
                continue
            for row in item:
                part = (host_dir(row[13]), day_dir(row[4]))
                held.setdefault(part, []).append(row)
                result.partitions.add(part)
            result.records += len(item)
            n_held += len(item)
            if n_held >= FLUSH_ROWS:
                flush()
            now = time.perf_counter()
            if progress and now - last_report >= 1.0:
                last_report = now
                progress(f"{tag} {path}: {result.records:,} events, {result.issues:,} issues, {now - start:.0f} s")
        flush()
    except InputError as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - an input that breaks a loader must not stop the others
        result.error = f"{path}: cannot be read: {type(exc).__name__}: {exc}"
    finally:
        writers.close()
    if result.error is not None:  # nothing of a failed input is kept but its error
        shutil.rmtree(staging, ignore_errors=True)
        result.records = 0
    _publish(root, staging, key, issues)
    result.seconds = time.perf_counter() - start
    marker = {"path": path, "identity": input_identity(path), "format": result.format, "records": result.records,
              "issues": result.issues, "error": result.error, "repeated_names": sorted(repeated)}
    tmp = root / "inputs" / f"{key}.json.tmp"
    tmp.write_text(json.dumps(marker))
    os.replace(tmp, root / "inputs" / f"{key}.json")
    if progress:
        progress(f"{tag} {_summary(result)}")
    return result


def _publish(root: Path, staging: Path, key: str, issues: list[dict[str, Any]]) -> None:
    """Move the staged files into the dataset, then the issues table (the marker comes last)."""
    if staging.exists():
        for staged in sorted(staging.glob("host=*/day=*/*.parquet")):
            target = root / "events" / staged.parent.parent.name / staged.parent.name
            target.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target / staged.name)
        shutil.rmtree(staging, ignore_errors=True)
    if issues:
        pq.write_table(pa.Table.from_pylist(issues, schema=ISSUES), root / "issues" / f"{key}.parquet")


def inputs(root: str | Path) -> list[dict[str, Any]]:
    """The converted inputs' markers (path, identity, format, records, issues, error, and the
    EventData names some event holds twice: `core.fleet.api.stack` counts those by event)."""
    out = []
    for marker in sorted(Path(root, "inputs").glob("*.json")):
        out.append(json.loads(marker.read_text()))
    return out
