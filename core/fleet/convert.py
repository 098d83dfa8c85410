"""`convert`: inputs (EVTX, Event XML, JSON lines) -> the fleet's Parquet dataset (`core.fleet.schema`).

Streams with bounded memory: events are read in the loaders' batches, rows are held per
(host, day) partition up to FLUSH_ROWS in all, and at most MAX_WRITERS files are open at once.
Resumable: an input is keyed by the cache's identity (`core.store.cache.input_identity`: real
path, size, mtime, hash of its edges) and written under a staging directory that is moved into
place only when the input is complete, with a marker written last (`core.fleet.markers`); a
re-run skips inputs whose marker reads back and clears what an interrupted run left of the others.
An input that changed since it was converted (a new key for the same real path) replaces its
earlier version once the new one is marked done (`_replace_earlier`).

An input that cannot be read is marked done with its error (a re-run reports it again without
reading it); a failure to write the dataset (a full disk, a directory name Parquet readers cannot
open) is `DatasetError`, which ends the run and marks nothing, so the input is converted again
once the dataset can take it. Input names may be any bytes (`core.fleet.schema.stored_text`).
"""

from __future__ import annotations

import hashlib
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

from core.fleet.markers import inputs as inputs  # (re-exported: where readers have found it)
from core.fleet.markers import marker_path, read_marker, real_path, write_marker
from core.fleet.schema import EVENTS, FLEET_SCHEMA_VERSION, ISSUES, day_dir, host_dir, stored_text
from core.fleet.tables import event_row, events_table
from core.model.event import InputError, ParseIssue
from core.model.rows import EventRow, repeated_in, split_repeated
from core.store import schema as store_schema
from core.store.cache import PARSE_REVISION, input_identity

#: Rows held in memory across partitions before they are written (bounded memory).
FLUSH_ROWS = 50_000
#: Open Parquet writers at most (an input spanning many days or hosts rolls over to new files).
MAX_WRITERS = 32
#: Parse issues kept per input in the issues table (the count is always exact).
MAX_ISSUES = 100_000


class DatasetError(OSError):
    """The dataset could not be written (the CLI's status 5): the message names the directory
    or file and why. Never the input's fault, so its input is not marked done."""


def _dataset_error(root: Path, exc: BaseException) -> DatasetError:
    """`exc` (raised writing the dataset) as one line naming the file, or else the dataset."""
    filename = getattr(exc, "filename", None)
    lines = str(exc).splitlines()
    text = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return DatasetError(f"{filename or root}: {text}")


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
    # (surrogatepass: a name's bytes that are not UTF-8 come as lone surrogates; any other
    # name encodes as before, so its key is unchanged)
    text = f"{version}\n{input_identity(path)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def convert(paths: Sequence[str], out: str | Path, *, jobs: int | None = None,
            progress: ProgressLine | None = None, workers: int = 1) -> list[ConvertResult]:
    """Convert every input into the dataset at `out` (created if needed); results in input order.

    `workers` > 1 converts that many inputs at once, each in its own process (EVTX decoding
    then uses one process per input instead of `jobs` per input): many small logs of many hosts
    convert in parallel, where one big log is best decoded with `jobs` workers alone.

    Raises DatasetError (an OSError) when the dataset cannot be written: nothing more is
    converted, and no input is marked done that was not written whole."""
    root = Path(out)
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:  # Parquet writers and the engines (DuckDB, Spark) open paths as UTF-8
        raise DatasetError(f"{root}: the dataset directory's name is not valid UTF-8, which the Parquet "
                           "writer and the fleet's engines cannot open: choose another name") from None
    try:
        for sub in ("events", "issues", "inputs", ".staging"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _dataset_error(root, exc) from exc
    results: dict[int, ConvertResult] = {}
    todo: list[tuple[int, str, str]] = []
    earlier = _keys_by_real_path(root)
    for n, path in enumerate(paths):
        key = input_key(path)
        marker = marker_path(root, key)
        done = read_marker(marker)
        if done is None:
            if progress and os.path.lexists(marker):
                progress(f"[{n + 1}/{len(paths)}] {path}: its done-marker {marker} is damaged: converting it again")
            todo.append((n, path, key))
            continue
        result = ConvertResult(path, key, skipped=True)
        result.records, result.issues, result.error = done["records"], done["issues"], done["error"]
        if progress:
            progress(f"[{n + 1}/{len(paths)}] {path}: already converted ({result.records:,} events), skipped")
        results[n] = result
        # (a run that ended between marking this version done and removing the earlier one)
        _replace_earlier(root, path, key, earlier, progress, f"[{n + 1}/{len(paths)}]")
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
                _replace_earlier(root, result.path, result.key, earlier, progress, f"[{n + 1}/{len(paths)}]")
    else:
        for n, path, key in todo:
            _clear_leftovers(root, key)
            results[n] = _convert_one(path, key, root, jobs, progress, f"[{n + 1}/{len(paths)}]")
            _replace_earlier(root, path, key, earlier, progress, f"[{n + 1}/{len(paths)}]")
    shutil.rmtree(root / ".staging", ignore_errors=True)
    return [results[n] for n in range(len(paths))]


def _convert_fresh(path: str, key: str, root: str, jobs: int | None) -> ConvertResult:
    """One input in a worker process (no progress lines: the parent says when it is done)."""
    _clear_leftovers(Path(root), key)
    return _convert_one(path, key, Path(root), jobs, None, "")


def _summary(result: ConvertResult) -> str:
    what = f"error: {result.error}" if result.error else f"{result.records:,} events, {result.issues:,} issues"
    return f"{result.path}: {what} in {result.seconds:.1f} s"


def _keys_by_real_path(root: Path) -> dict[str, list[str]]:
    """The keys of the converted inputs (those whose marker reads back), by real path."""
    found: dict[str, list[str]] = {}
    try:
        markers = sorted((root / "inputs").glob("*.json"))
    except OSError as exc:
        raise _dataset_error(root, exc) from exc
    for path in markers:
        marker = read_marker(path)
        real = None if marker is None else real_path(marker)
        if real is not None:
            found.setdefault(real, []).append(path.stem)
    return found


def _replace_earlier(root: Path, path: str, key: str, earlier: dict[str, list[str]],
                     progress: ProgressLine | None, tag: str) -> None:
    """Once `key` (the input at `path` as it is now) is marked done, remove the conversions of
    earlier versions of the same file (same real path, another key: it changed, or the parser
    or schema did): a changed log's old events stayed beside its new ones (10 events read as 19).
    Crash-safe: the new version is complete before anything of an old one goes, an old one's
    marker goes last, and a re-run that skips the new version finishes the removal. A version
    that could not be read (the file gone, a share not mounted) replaces nothing: converted
    events are not given up for an error."""
    real = os.path.realpath(path)
    stale = [old for old in earlier.get(real, ()) if old != key]
    if not stale:
        return
    done = read_marker(marker_path(root, key))
    if done is None or done["error"] is not None:  # (not done, or unreadable: the old version stays)
        return
    for old in stale:
        _clear_leftovers(root, old)
    earlier[real] = [key]
    if progress:
        progress(f"{tag} {path}: changed since it was converted: the earlier version's events removed")


def _clear_leftovers(root: Path, key: str) -> None:
    """Files an interrupted run of this input left (staged, or moved but not marked done), and
    its damaged marker if any (`read_marker`); or every file of an earlier version of an input
    (`_replace_earlier`). The marker goes last: until then a re-run knows the files are there."""
    try:
        shutil.rmtree(root / ".staging" / key, ignore_errors=True)
        for stale in (root / "events").glob(f"*/*/{key}-*.parquet"):
            stale.unlink()
        (root / "issues" / f"{key}.parquet").unlink(missing_ok=True)
        marker = marker_path(root, key)
        if marker.is_dir() and not marker.is_symlink():
            shutil.rmtree(marker)
        else:
            marker.unlink(missing_ok=True)
    except OSError as exc:
        raise _dataset_error(root, exc) from exc


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
            batch.append(event_row(place, item))
            if len(item.data) > 1:
                repeated.update(repeated_in(item.data))
            if len(batch) >= 5000:
                yield batch
                batch = []
        if batch:
            yield batch

    return fmt, text_rows()


class _Writers:
    """Parquet files of one input being written, one per (host, day), at most MAX_WRITERS open.
    Every failure here is the dataset's (`DatasetError`), never the input's."""

    def __init__(self, root: Path, staging: Path, key: str) -> None:
        self.root = root
        self.staging = staging
        self.key = key
        self.open: OrderedDict[tuple[str, str], pq.ParquetWriter] = OrderedDict()
        self.serial = 0

    def write(self, part: tuple[str, str], table: pa.Table) -> None:
        try:
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
        except (OSError, pa.ArrowException) as exc:
            raise _dataset_error(self.root, exc) from exc

    def close(self, *, discard: bool = False) -> None:
        """Close every file; `discard`: they are thrown away, so a failure to close is moot."""
        try:
            for writer in self.open.values():
                writer.close()
        except (OSError, pa.ArrowException) as exc:
            if not discard:
                raise _dataset_error(self.root, exc) from exc
        finally:
            self.open.clear()


def _convert_one(path: str, key: str, root: Path, jobs: int | None, progress: ProgressLine | None,
                 tag: str) -> ConvertResult:
    """Convert one input; raises DatasetError when the dataset cannot take it (nothing of the
    input is then published or marked done)."""
    result = ConvertResult(path, key)
    start = time.perf_counter()
    staging = root / ".staging" / key
    writers = _Writers(root, staging, key)
    held: dict[tuple[str, str], list[EventRow]] = {}
    n_held = 0
    issues: list[dict[str, Any]] = []
    repeated: set[str] = set()
    last_report = start
    failed = True  # until the input is read to its end (and its rows written) or found unreadable

    def note(issue: ParseIssue) -> None:
        result.issues += 1
        if len(issues) < MAX_ISSUES:
            issues.append({"source": stored_text(path), "input_key": key, "chunk": issue.chunk,
                           "offset": issue.offset, "reason": stored_text(issue.reason)})

    def flush() -> None:
        nonlocal n_held
        for part, rows in held.items():
            table, repairs = events_table(rows, path, key)
            for issue in repairs:
                note(issue)
            writers.write(part, table)
        held.clear()
        n_held = 0

    try:
        result.format, items = _rows(path, jobs, repeated)
        for item in items:
            if isinstance(item, ParseIssue):
                note(item)
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
        failed = False
    except DatasetError:
        raise
    except InputError as exc:
        result.error = str(exc)
        failed = False  # (unreadable, for good: marked done with its error)
    except Exception as exc:  # noqa: BLE001 - an input that breaks a loader must not stop the others
        result.error = f"{path}: cannot be read: {type(exc).__name__}: {exc}"
    finally:
        writers.close(discard=result.error is not None or failed)
    if result.error is not None:  # nothing of a failed input is kept but its error
        shutil.rmtree(staging, ignore_errors=True)
        result.records = 0
    try:
        _publish(root, staging, key, issues)
        result.seconds = time.perf_counter() - start
        if not failed:  # an unexpected failure is not marked: a re-run tries the input again
            write_marker(root, key, {"path": path, "real": os.path.realpath(path),
                                     "identity": input_identity(path), "format": result.format,
                                     "records": result.records, "issues": result.issues, "error": result.error,
                                     "repeated_names": sorted(repeated)})
    except (OSError, pa.ArrowException) as exc:
        raise _dataset_error(root, exc) from exc
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
