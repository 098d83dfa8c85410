"""Marks and notes on events: the analyst's case, kept beside the user's data.

A case belongs to one set of inputs and is found again by their identity
(`core.store.cache.cache_key`), so reopening the same logs brings the marks back; `--case FILE`
names the file explicitly. A mark must survive a cache rebuild, which may renumber store ids,
so it points at its event by what the event *is* (source path, EventRecordID, EventID,
computer, exact time) and keeps the store id only as a hint.

The case file is the analyst's work: it is written atomically and durably (temp file in the
same directory, fsync, `os.replace`, fsync of the directory) with the previous version kept
as `.bak`, so a crash or a kill mid-write leaves either the old or the new version, never a
torn one. A damaged case file is never silently replaced: it is reported, the `.bak` is used,
and the damaged file is moved aside (`.damaged-<time>`) before the next save. Reading and
checking the file is `core.report.case_doc`'s (a mark that cannot be one is dropped, named, and
the file kept aside the same way).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from core.model.text import json_safe
from core.report.case_doc import FORMAT, MAX_NOTE_CHARS, VERSION, read_case
from core.report.case_doc import CaseError as CaseError  # (re-exported: the case's callers know them here)
from core.report.case_doc import Mark as Mark
from core.store.store import SourceRow, Store, StoredEvent
from core.store.tempfiles import sweep, temp_file

APP_NAME = "evtx-explorer"


def data_dir() -> Path:
    """Where per-user data lives (`EVTX_EXPLORER_DATA_DIR` overrides, for tests)."""
    override = os.environ.get("EVTX_EXPLORER_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def default_case_path(inputs: Sequence[str]) -> Path:
    """The case file for a set of inputs: keyed by their identity, like the cache."""
    from core.store.cache import cache_key

    return data_dir() / "cases" / f"{cache_key(list(inputs))}.json"


def _norm_path(path: str) -> str:
    """A source path in a form independent of the working directory (when it exists)."""
    return os.path.realpath(path) if os.path.exists(path) else path


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, keep_backup: bool = False) -> None:
    """Replace `path` with `data` atomically and durably; optionally keep the old version as
    `<path>.bak`. At every instant `path` holds either its complete old or new content."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    sweep(directory, path.name)  # temp files of a save killed half-way
    fd, tmp = temp_file(directory, path.name, ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_backup and path.exists():
            _backup(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def _backup(path: Path) -> None:
    """Make `<path>.bak` the current content of `path` without ever removing `path`
    (a hard link where possible, else a durable copy), replacing the old backup atomically."""
    bak = path.with_name(path.name + ".bak")
    fd, tmp = temp_file(path.parent, bak.name, ".tmp")
    try:
        os.close(fd)
        tmp.unlink()
        try:
            os.link(path, tmp)
        except OSError:
            data = path.read_bytes()
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, bak)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Case:
    """Marks and notes for one set of inputs, saved to `path` after every change.

    `warnings` holds what the user must be told (a damaged case file, a backup used); the UI
    shows them once on opening. `sources` maps store source ids to their paths (see `bind`).
    """

    path: Path
    inputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: dict[int, str] = field(default_factory=dict)
    autosave: bool = True
    _marks: dict[tuple[str, int | None, int, str, int | None], Mark] = field(default_factory=dict)
    _damaged: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, inputs: Sequence[str] = ()) -> Case:
        """Load the case at `path` (or start an empty one). A damaged file is reported in
        `warnings` and the `.bak` is used instead; the damaged file is kept until the next
        save moves it aside."""
        case = cls(Path(path), inputs=[_norm_path(p) for p in inputs])
        if case.path.is_symlink() and case.path.is_file():  # saved into the file it names: the link stays
            case.path = Path(os.path.realpath(case.path))
        if case.path.exists() and not case.path.is_file():
            # `--case /dev/null`: read, it would be "damaged", and its save would have moved the
            # device aside and put a file in its place; a pipe's read would never end.
            case.autosave = False
            case.warnings.append(f"case file {case.path} is not a regular file: marks are kept for this "
                                 "session only, not saved")
            return case
        sweep(case.path.parent, case.path.name)  # left by a save killed half-way
        sweep(case.path.parent, case.path.name + ".bak")
        if not case.path.exists():
            return case
        read_from = case.path
        try:
            doc = read_case(case.path)
        except CaseError as exc:
            case._damaged = True
            bak = case.path.with_name(case.path.name + ".bak")
            msg = f"case file {case.path} is damaged: {exc}"
            try:
                doc = read_case(bak)
                read_from = bak
            except CaseError as bak_exc:
                case.warnings.append(f"{msg}; its backup is unusable too ({bak_exc}): starting an empty case")
                return case
            case.warnings.append(f"{msg}; using the backup {bak.name} ({len(doc.marks)} marks)")
        case._damaged = case._damaged or bool(doc.dropped)  # (moved aside, not overwritten, by the next save)
        case.warnings.extend(doc.warnings(read_from))
        if not case.inputs:
            case.inputs = list(doc.inputs)
        for m in doc.marks:
            case._marks[m.key] = m
        return case

    @classmethod
    def for_inputs(cls, inputs: Sequence[str], case_file: str | Path | None = None) -> Case:
        """The case for these inputs: `case_file` if given, else the per-inputs default."""
        path = Path(case_file) if case_file else default_case_path(inputs)
        return cls.open(path, inputs)

    def bind(self, sources: Iterable[SourceRow] | Store) -> None:
        """Learn the store's source id -> path map (needed to identify marked events)."""
        rows = sources.sources() if isinstance(sources, Store) else sources
        mapped: dict[int, str] = {}
        for s in rows:
            path = _norm_path(s.path)
            # A cache built from a relative path, reopened from another directory: the store
            # still holds the old relative name; the input given now is the same file.
            if not os.path.isabs(path) and 0 <= s.id < len(self.inputs):
                given = self.inputs[s.id]
                if os.path.basename(given) == os.path.basename(path):
                    path = given
            mapped[s.id] = path
        self.sources = mapped

    # -- identity --------------------------------------------------------------------------

    def _source_path(self, source: int) -> str:
        if source in self.sources:
            return self.sources[source]
        if 0 <= source < len(self.inputs):
            return self.inputs[source]
        return f"#{source}"

    def _key_of(self, se: StoredEvent) -> tuple[str, int | None, int, str, int | None]:
        ev = se.event
        return (self._source_path(ev.source), ev.record_id, ev.event_id, ev.computer, ev.filetime)

    def _new_mark(self, se: StoredEvent, note: str = "") -> Mark:
        ev = se.event
        return Mark(
            source_path=self._source_path(ev.source),
            source=ev.source,
            record_id=ev.record_id,
            event_id=ev.event_id,
            computer=ev.computer,
            filetime=ev.filetime,
            store_id=se.id,
            note=note[:MAX_NOTE_CHARS],
            marked_at=_now_iso(),
        )

    # -- changes ---------------------------------------------------------------------------

    def is_marked(self, se: StoredEvent) -> bool:
        return self._key_of(se) in self._marks

    def get(self, se: StoredEvent) -> Mark | None:
        return self._marks.get(self._key_of(se))

    def mark(self, se: StoredEvent) -> Mark:
        """Mark an event (a no-op, keeping its note, when it is already marked)."""
        key = self._key_of(se)
        with self._lock:
            existing = self._marks.get(key)
            if existing is not None:
                return existing
            m = self._new_mark(se)
            self._marks[key] = m
            self._changed()
        return m

    def unmark(self, se: StoredEvent | Mark) -> bool:
        """Remove a mark (and its note); False when it was not marked."""
        key = se.key if isinstance(se, Mark) else self._key_of(se)
        with self._lock:
            if self._marks.pop(key, None) is None:
                return False
            self._changed()
        return True

    def toggle(self, se: StoredEvent) -> bool:
        """Mark or unmark; returns True when the event is now marked."""
        with self._lock:
            if self.unmark(se):
                return False
            self.mark(se)
        return True

    def set_note(self, se: StoredEvent | Mark, text: str) -> Mark:
        """Set (or clear, with "") the note of an event, marking it if needed."""
        text = text.rstrip()[:MAX_NOTE_CHARS]
        with self._lock:
            if isinstance(se, Mark):
                key = se.key
                current = self._marks.get(key, se)
            else:
                key = self._key_of(se)
                current = self._marks.get(key) or self._new_mark(se)
            updated = replace(current, note=text)
            self._marks[key] = updated
            self._changed()
        return updated

    def marks(self) -> list[Mark]:
        """Every mark, in time order (as the event table shows them)."""
        with self._lock:
            current = list(self._marks.values())
        return sorted(current, key=Mark.sort_key)

    def __len__(self) -> int:
        return len(self._marks)

    # -- finding the events again ----------------------------------------------------------

    def resolve(self, store: Store) -> dict[int, Mark]:
        """Store id -> mark for every mark found in `store` (the hint is checked first, then
        the event is looked up by its identity). Hints that moved are updated in memory."""
        if not self.sources:
            self.bind(store)
        by_path: dict[str, int] = {p: i for i, p in self.sources.items()}
        found: dict[int, Mark] = {}
        with self._lock:
            current = list(self._marks.items())
        for key, m in current:
            source = by_path.get(m.source_path, m.source if m.source in self.sources else None)
            if source is None:
                continue
            store_id = self._locate(store, m, source)
            if store_id is None:
                continue
            if store_id != m.store_id:
                with self._lock:  # the UI may unmark meanwhile: never resurrect a mark
                    if self._marks.get(key) is m:
                        m = replace(m, store_id=store_id)
                        self._marks[key] = m
            found[store_id] = m
        return found

    def _locate(self, store: Store, m: Mark, source: int) -> int | None:
        if m.store_id is not None:
            hinted = store.get(m.store_id)
            if hinted is not None and self._matches(hinted, m, source):
                return hinted.id
        for se in store.events_like(source, m.event_id, record_id=m.record_id, filetime=m.filetime):
            if self._matches(se, m, source):
                return se.id
        return None

    @staticmethod
    def _matches(se: StoredEvent, m: Mark, source: int) -> bool:
        ev = se.event
        return (
            ev.source == source
            and ev.record_id == m.record_id
            and ev.event_id == m.event_id
            and ev.computer == m.computer
            and ev.filetime == m.filetime
        )

    # -- saving ----------------------------------------------------------------------------

    def _changed(self) -> None:
        if self.autosave:
            self.save()

    def to_bytes(self) -> bytes:
        """The case file's bytes. Strings go through `json_safe`: a path decoded with
        `surrogateescape` (a file name that is not UTF-8) holds lone surrogates, which UTF-8
        cannot encode; written as JSON `\\udcXX` escapes they read back as the same path, so the
        mark still finds its event (the JSON-lines output writes them the same way)."""
        marks = [m.to_json() for m in self.marks()]  # a consistent snapshot (under the lock)
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "saved": _now_iso(),
            "inputs": self.inputs,
            "count": len(marks),
            "marks": marks,
        }
        return json_safe(json.dumps(doc, ensure_ascii=False, indent=1)).encode("utf-8")

    def save(self) -> None:
        """Write the case atomically, keeping the previous version as `.bak`. A damaged file
        found on opening is first moved aside (never silently overwritten). Never over a special
        file (`open` turned the autosave off for one)."""
        if self.path.exists() and not self.path.is_file():
            raise OSError(errno.EISDIR if self.path.is_dir() else errno.EINVAL,
                          f"case file {self.path} is not a regular file: not saved", str(self.path))
        if self._damaged and self.path.exists():
            stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
                self.warnings.append(f"the damaged case file was kept as {aside}")
        self._damaged = False
        with self._lock:  # one save at a time: the .bak and the file stay in order
            atomic_write_bytes(self.path, self.to_bytes(), keep_backup=True)
