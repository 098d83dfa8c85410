"""The correlation model and the findings, built once per store and shared by the views.

Building the correlation model reads every 4688/4690/4656/... of the store and running the
findings reads the 4688s: seconds on a large log. Each view (Processes, Handles, Sessions,
Findings, Correlation) needs one of them, and an analyst hops between views, so the results
are kept per workspace (`tui.workspace`) and per store and built at most once at a time: a second view asking while
a build runs waits for that build instead of starting its own.

A result built while the app is still loading covers only what was read so far; it is marked
`partial`, and the next request made once loading finished (`Workspace.loaded`) rebuilds it.

Once the model of a completely loaded store is built, its instances and links and the views'
trees and lists are written into the store (`core.store.correlation_tables`, `stored_view`):
a reopen then shows the views from there without building the model.

`ModelCache.model()` / `ModelCache.findings()` block (they run in the views' thread
workers, each with its own read-only `Store` connection: sqlite connections are per thread);
the views receive the results as `ModelReady` / `FindingsReady` messages (`tui.messages`).

(About 550 lines: one holder of the results with the locks, yields and writer thread around
them, which share its state; the tests patch the builders here by name.)
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from core.correlate.model import CorrelationModel, model_from_store
from core.findings.child import findings_in_child
from core.findings.engine import FindingsData as FindingsData
from core.findings.engine import needed_event_ids, store_findings
from core.findings.pages import StoredFindingList
from core.findings.rules import RulesError, load_rules
from core.findings.stored import keep_findings, stored_findings
from core.store import cache_lock, correlation_links, correlation_tables
from core.store.child_process import ChildFailed
from core.store.correlation_tables import CorrelationTables
from core.store.heap import file_pages_mb, give_back
from core.store.store import Store
from tui.stored_views import ViewBuilder, ViewRows, checked, write_views

T = TypeVar("T")


#: Longest the background writer of the tables waits, at one of its checks, for views being
#: prepared (`ModelCache.preparing`): a bound, so that a view stuck in its preparation never holds
#: the tables back for long.
MAX_YIELD_S = 5.0
#: How often a waiting writer looks at the app's `stop` meanwhile.
_YIELD_POLL_S = 0.05
#: How long the writer keeps waiting after a view is prepared (`ModelCache.linger`): the UI
#: thread mounts and paints it meanwhile.
PAINT_S = 0.3


#: How long `store_now` waits for another process writing the same tables (an app's background
#: writer takes minutes at ten million events), and how often it looks.
OTHER_WRITER_S = 3600.0
_OTHER_WRITER_POLL_S = 1.0


#: Seconds between two gives-back of the model's mapped pages by the tables' writer
#: (`CorrelationModel.release_pages`, at its checks: one per `CHECK_EVERY` rows written, one per
#: event tree). Walking the Processes forest and making the lists' event trees reads the facts,
#: process and handle columns through their side files' maps at random places, and every page it
#: touched stayed in the RSS until given back.
RELEASE_S = 0.25
#: File pages mapped in (`file_pages_mb`) above what the last give-back left (the libraries'
#: pages, which grow as code runs) that make a check give them back at once: by time alone,
#: 80-140 MB of them were resident at ten million events, between two gives-back a quarter of a
#: second apart (a give-back costs ~15 us at 1M); at 24 MB, the writer's end was the 10M first
#: open's peak with up to 47 MB of them.
RELEASE_MB = 8.0


#: Least seconds between two looks at the resident file pages (`file_pages_mb`, a read of
#: /proc/self/statm): at every check the 1M churn writer read it 443,114 times, 3.6 of its 87 s
#: under cProfile; a millisecond of writing maps a few pages at most.
LOOK_S = 0.001


#: The writer's checks (`_releasing`) between two of its `check`s (stop, and wait while a view is
#: prepared): a check every `CHECK_EVERY` (8) lines looks at the pages each time, but waiting for
#: the views at each would hold the tables back 128 times as long when a view takes its time.
CHECKS_PER_YIELD = 128


def _releasing(check: Callable[[], None], model: CorrelationModel) -> Callable[[], None]:
    """`check` at every CHECKS_PER_YIELD-th call, and at each call LOOK_S after the last look a
    give-back of the model's mapped pages when `RELEASE_S` have passed or `RELEASE_MB` more than
    the last left are resident."""
    last = looked = time.monotonic()
    base = file_pages_mb()
    calls = 0

    def check_and_release() -> None:
        nonlocal last, looked, base, calls
        calls += 1
        if calls >= CHECKS_PER_YIELD:
            calls = 0
            check()
        now = time.monotonic()
        if now - looked < LOOK_S:
            return
        looked = now
        mapped = file_pages_mb()
        if mapped is not None and base is not None:
            base = min(base, mapped)
        if now - last >= RELEASE_S or (mapped is not None and base is not None and mapped - base >= RELEASE_MB):
            model.release_pages()
            give_back()  # what the writer's and the views' threads freed of the C heap
            last = now
            base = file_pages_mb()

    return check_and_release


class ViewDataError(Exception):
    """The model or findings could not be built (missing engine module, bad rules file...).
    The message is one line, shown in the view instead of a traceback."""


@dataclass
class _Slot(Generic[T]):
    """One cached result and the lock that makes its build happen once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    key: tuple[str, bool] | None = None  # (store path, built after loading finished)
    value: T | None = None


def build_model(store: Store, progress: Callable[[int, int], None] | None = None) -> CorrelationModel:
    """The correlation model of everything in `store` (blocking); `progress(read, total)`."""
    return model_from_store(store, progress)


#: Stores holding at least this many of the events the rules read (4688s and 4689s, about
#: 25 us each) get their findings from a child process (`core.findings.child`): a second core,
#: and the UI keeps the GIL. Below it the rules take under a second and starting a process
#: (~0.1 s) is not worth it.
CHILD_FINDINGS_EVENTS = 30_000


def _rules_events(store: Store, rules: Any) -> int:
    """How many events of the store the enabled rules read (through the EventID index)."""
    return store.count_of(needed_event_ids(rules))


#: What `ModelCache.findings` has the thread that builds the findings wait for before reading
#: a child's answer back (`ModelCache.wait_quiet`), read by `build_findings` on that thread.
_BUILDING = threading.local()


def build_findings(store: Store, stop: threading.Event | None = None) -> FindingsData:
    """Every finding of the default (or user-configured) rules over `store` (blocking): as kept
    with the store by an earlier open (`core.findings.stored`), else computed and kept; in a
    child process for a big store (computed here, in the caller's thread, if that fails), which
    keeps them with the store itself. Findings kept with the store stay there (the views read
    them a page at a time, `core.findings.pages`); they are checked, and a child's answer that
    could not be kept read back, once the UI is quiet (`ModelCache.wait_quiet`)."""
    before_load: Callable[[], None] | None = getattr(_BUILDING, "before_load", None)
    try:
        rules = load_rules(None)  # here too: a bad file is reported the same way either way
    except RulesError as exc:
        raise ViewDataError(f"rules not loaded: {exc}") from exc
    kept = stored_findings(store, rules, before_load)  # a reopen: read back, the rules do not run
    if kept is not None:
        return kept
    data: FindingsData | None = None
    if store.shareable and _rules_events(store, rules) >= CHILD_FINDINGS_EVENTS:
        try:
            if before_load is None:
                data = findings_in_child(store.path, stop)
            else:
                data = findings_in_child(store.path, stop, before_load=before_load)
            if data is None:  # the child kept them with the store
                data = stored_findings(store, rules, before_load)
        except ChildFailed:
            if stop is not None and stop.is_set():
                raise ViewDataError("stopped") from None
    if data is None:
        data = store_findings(store, rules)
    if isinstance(data.findings, StoredFindingList):  # kept by the child: read from there
        return data
    if keep_findings(store, data):  # for the next open (a store still loading keeps nothing)
        data = stored_findings(store, rules, before_load) or data  # and read from there: none held
    return data


class ModelCache:
    """Per-workspace holder of the model and findings (see the module docstring)."""

    def __init__(self) -> None:
        self._model: _Slot[CorrelationModel] = _Slot()
        self._findings: _Slot[FindingsData] = _Slot()
        #: Set when the app ends: a findings child still running is killed.
        self.stop = threading.Event()
        #: Blocks (a worker) while the UI is busy opening a view (`Workspace.wait_quiet`): a
        #: big store's findings are read back from their child after it.
        self.wait_quiet: Callable[[], None] | None = None
        #: (events read, of how many) while a model is being built, for the views to show.
        self.model_progress: tuple[int, int] | None = None
        self._tables_lock = threading.Lock()
        self._writing = threading.Lock()
        self._writer: threading.Thread | None = None
        #: Views being prepared from the model now (`preparing`), and its condition.
        self._preparing = 0
        self._prepared = threading.Condition()
        #: Callers of `model` waiting for it now: a prebuild no longer yields to the UI then.
        self._asking = 0

    @staticmethod
    def _get(slot: _Slot[T], store_path: Path, loaded: bool, build: Callable[[Store], T]) -> T:
        key = (str(store_path), loaded)
        with slot.lock:
            current = slot.key
            # Reuse a result of the same store unless it was built before loading finished
            # and loading has finished since.
            if current is not None and current[0] == key[0] and (current[1] or not loaded):
                return slot.value  # type: ignore[return-value]
            store = Store(store_path, readonly=True)
            try:
                value = build(store)
            finally:
                store.close()
            slot.key, slot.value = key, value
            return value

    def check_stop(self) -> None:
        """Raise ViewDataError once the app has ended (`stop`): long work checks this as it
        goes, so that its thread ends with the app instead of finishing work nobody will see."""
        if self.stop.is_set():
            raise ViewDataError("stopped: the app is closing")

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """While a view prepares what it shows from the model, the background writer of the
        tables waits at its next check (`_yield_to_views`): both are Python work under one GIL,
        and sharing it made the Handles and Process access views take 2-3x their own time at a
        million events. Writing resumes when no view is preparing (the tables end later by
        what the views took, never more than MAX_YIELD_S at a check)."""
        with self._prepared:
            self._preparing += 1
        try:
            yield
        finally:
            self._prepared_one()

    def linger(self) -> None:
        """Count as a view being prepared for PAINT_S more: the view just prepared is then
        handed to the UI thread, whose mounting and first paint are Python work under the GIL
        too (shared with the writer, the main thread's beat stalled 100-230 ms opening a view
        at a million events). A timer ends it: nobody has to."""
        with self._prepared:
            self._preparing += 1
        timer = threading.Timer(PAINT_S, self._prepared_one)
        timer.daemon = True
        timer.start()

    def _prepared_one(self) -> None:
        """A view is no longer being prepared (or painted): the writer may go on when none is."""
        with self._prepared:
            self._preparing -= 1
            self._prepared.notify_all()

    def _yield_to_views(self) -> None:
        """The background writer's check: `check_stop`, after waiting while views are being
        prepared (`preparing`), at most MAX_YIELD_S."""
        self.check_stop()
        if not self._preparing:
            return
        deadline = time.monotonic() + MAX_YIELD_S
        with self._prepared:
            while self._preparing and not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._prepared.wait(min(left, _YIELD_POLL_S))
        self.check_stop()

    def model(self, store_path: Path, loaded: bool) -> CorrelationModel:
        with self._prepared:
            self._asking += 1
        try:
            return self._built(store_path, loaded)
        finally:
            with self._prepared:
                self._asking -= 1

    def prebuild(self, store_path: Path, idle: Callable[[], bool], wanted: Callable[[], bool],
                 report: Callable[[int, int], None] | None = None) -> bool:
        """Build the model of the loaded store at `store_path` before anything asks for it, so
        that the first correlation an analyst opens shows without the build's wait (seconds at
        a million events, more than a minute at ten million). Between two batches of events it
        keeps off the interpreter while the UI is in use (`idle()` false) or a view is being
        prepared, unless a caller of `model` is waiting for it; it stops (`ViewDataError`) once
        `wanted()` is false (another store is open) or the app ends; `report(read, total)` at
        each batch, for the status line. Whether it built one (not when the model is there
        already)."""
        if self.built_model(store_path, True) is not None:
            return False
        building = False  # (a view may have built it while this waited for the slot)

        def pause(read: int, total: int) -> None:
            nonlocal building
            building = True
            if report is not None:
                report(read, total)
            while not self.stop.is_set() and not self._asking and (self._preparing or not idle()):
                time.sleep(_YIELD_POLL_S)
            if not wanted():
                raise ViewDataError("stopped: another store is open")

        self._built(store_path, True, pause)
        return building

    def _built(self, store_path: Path, loaded: bool,
               pause: Callable[[int, int], None] | None = None) -> CorrelationModel:
        def progress(read: int, total: int) -> None:
            self.check_stop()  # every few thousand events read
            self.model_progress = (read, total)
            if pause is not None:
                pause(read, total)

        def build(store: Store) -> CorrelationModel:
            try:
                return build_model(store, progress)
            finally:
                self.model_progress = None

        return self._get(self._model, store_path, loaded, build)

    def stored_view(self, store_path: Path, loaded: bool, name: str, builders: dict[str, ViewBuilder], *,
                    wait: bool = False) -> bool:
        """Whether the view `name` can be read from the store's correlation tables. When they
        are missing and `wait` is set, they are written here first (the model built once, then
        every view of `builders` not stored yet, so that a reopen needs none); without `wait`
        the view shows the model and asks for them afterwards (`write_later`): writing a
        million events' links takes as long as the build, and the first view must not wait
        for it. False for a store still loading, stopped part way or in memory."""
        if not self._storable(store_path, loaded):
            return False
        with Store(store_path, readonly=True) as store:
            if correlation_tables.view_ready(store, name):
                return True
        if wait:
            self._write_tables(store_path, builders)
            with Store(store_path, readonly=True) as store:
                return correlation_tables.view_ready(store, name)
        return False

    def store_now(self, store_path: Path, builders: dict[str, ViewBuilder],
                  progress: Callable[[int, int], None] | None = None, *, built: Callable[[], None] | None = None,
                  split: bool = False, waiting: Callable[[], None] | None = None) -> bool:
        """Build the model of the loaded store at `store_path` (`progress(read, total)` as it
        reads) and write the tables of every view of `builders` and the links, in the caller's
        thread, unless the store holds them already (`evtx-explorer prepare`: the next open
        shows every view at once); `built()` once the model is built (or not needed). With
        `split` (a process with no thread of its own until `built`) a forked child writes part
        of them (`tui.side_writer`). While another process writes them (an app open on the same
        log) it waits, at most OTHER_WRITER_S, calling `waiting()` now and then. Whether the
        store holds them all afterwards (False: it cannot hold them, e.g. in memory)."""
        if not self._storable(store_path, True):
            return False
        deadline = time.monotonic() + OTHER_WRITER_S
        while not self.stored_all(store_path, True, builders):
            with cache_lock.tables_writer(store_path) as mine:
                if mine:
                    self._store_all(store_path, builders, progress, built, split)
                    built = None  # (told)
                    break
            if time.monotonic() >= deadline:
                break
            if waiting is not None:
                waiting()
            time.sleep(_OTHER_WRITER_POLL_S)
        if built is not None:
            built()
        return self.stored_all(store_path, True, builders)

    def _store_all(self, store_path: Path, builders: dict[str, ViewBuilder],
                   progress: Callable[[int, int], None] | None, built: Callable[[], None] | None,
                   split: bool) -> None:
        """`store_now`'s writing, its tables' lock held."""
        model = self._built(store_path, True, progress)
        if split:
            from tui.side_writer import write_split

            def write_own(own: dict[str, ViewBuilder], with_links: bool) -> None:
                self._write_tables(store_path, own, with_links=with_links)

            write_split(store_path, model, builders, write_own, built)
        elif built is not None:
            built()
        self._write_tables(store_path, builders)  # all of it, or what a second writer left

    @staticmethod
    def _storable(store_path: Path, loaded: bool) -> bool:
        if not loaded:
            return False
        with Store(store_path, readonly=True) as store:
            return store.shareable and correlation_tables.complete(store)

    def write_later(self, store_path: Path, loaded: bool, builders: dict[str, ViewBuilder],
                    idle: Callable[[], bool] | None = None) -> None:
        """Write the correlation tables in a background thread (once at a time), when the
        store can hold them and some view of `builders` is not stored yet. With `idle` (the
        tables stored ahead, no view shown: `tui.prebuild`) the writer also keeps off the
        interpreter while `idle()` is false (`_yielding_to_input`)."""
        if self.stop.is_set() or self.stored_all(store_path, loaded, builders):
            return
        with self._tables_lock:
            if self._writer is None or not self._writer.is_alive():
                # Made with the real stderr: a thread keeps the `sys.stderr` of its making (to report
                # its failure), in an app Textual's capture, which holds the app (as `disk_array`'s pager).
                with contextlib.redirect_stderr(sys.__stderr__):
                    self._writer = threading.Thread(target=self._write_quietly, args=(store_path, builders, idle),
                                                    name="evtx-correlation-tables", daemon=True)
                self._writer.start()

    def links_later(self, store_path: Path, loaded: bool, views: Iterable[str]) -> None:
        """`write_later` for the links alone, when the instances and every one of `views` are
        stored but the links are not (the writer stores them last); else nothing: a view not
        stored asks for the tables itself, with its builder."""
        if self.stop.is_set() or not self._storable(store_path, loaded):
            return
        with Store(store_path, readonly=True) as store:
            if correlation_links.links_ready(store) or not all(correlation_tables.view_ready(store, view)
                                                                for view in views):
                return
        self.write_later(store_path, loaded, {})

    @property
    def writing(self) -> bool:
        """Whether correlation tables are being written in the background."""
        return self._writer is not None and self._writer.is_alive()

    def stored_all(self, store_path: Path, loaded: bool, views: Iterable[str]) -> bool:
        """Whether the store at `store_path` holds every one of `views` and the links (by name:
        no view's module is imported to tell), or cannot hold them (still loading, stopped part
        way, in memory, a read-only cache): nothing is left to write then."""
        if not self._storable(store_path, loaded):
            return True
        with Store(store_path, readonly=True) as store:
            return correlation_links.links_ready(store) and all(correlation_tables.view_ready(store, view)
                                                                for view in views)

    def _yielding_to_input(self, check: Callable[[], None], idle: Callable[[], bool],
                           writer: Store) -> Callable[[], None]:
        """`check`, then wait while `idle()` is false (keys pressed, a view asked for): the
        tables stored ahead share the interpreter with the event table's moves otherwise. The
        wait is unbounded between two transactions, at most MAX_YIELD_S inside one (the
        writer holds the store's write lock then)."""
        def waiting() -> None:
            check()
            bound = time.monotonic() + MAX_YIELD_S if writer.in_transaction else None
            while not self.stop.is_set() and not idle() and (bound is None or time.monotonic() < bound):
                time.sleep(_YIELD_POLL_S)
            self.check_stop()

        return waiting

    def _write_quietly(self, store_path: Path, builders: dict[str, ViewBuilder],
                       idle: Callable[[], bool] | None = None) -> None:
        """`_write_tables` in the background: a failure (or the app ending) leaves the views
        on the model."""
        try:
            self._write_tables(store_path, builders, self._yield_to_views, idle)
        except Exception:  # noqa: BLE001 - best effort: the views show the model instead
            return

    def _write_tables(self, store_path: Path, builders: dict[str, ViewBuilder],
                      check: Callable[[], None] | None = None, idle: Callable[[], bool] | None = None, *,
                      with_links: bool = True) -> None:
        """Write the tables: the instances, each view's rows, then the links (a reopen shows the
        views from the store as soon as theirs are in; at ten million events the links took
        as long as all the views). Once the app has ended (`stop`) the write is rolled back at
        its next SQL step, and no further view is built (a cut write is never taken as done).
        `check` runs between rows (default `check_stop`; in the background, `_yield_to_views`),
        and with `idle` waits while it is false (`_yielding_to_input`). Without `with_links` they
        are left to a second writer (`tui.side_writer`). Nothing is written while another process
        writes them (`cache_lock.tables_writer`): the views read them once it has."""
        check = check or self.check_stop
        with self._writing, cache_lock.tables_writer(store_path) as mine:
            if not mine:
                return  # another process writes them (an app on the same log, `prepare`)
            self.check_stop()
            model = self.model(store_path, True)
            with Store(store_path) as writer:
                if idle is not None:
                    check = self._yielding_to_input(check, idle, writer)
                check = _releasing(check, model)
                writer.abort_when(self.stop.is_set)
                if not correlation_tables.ready(writer):
                    from core.correlate.persist import tables_of

                    made = tables_of(model)
                    made = CorrelationTables(checked(made.processes, check), checked(made.handles, check),
                                             checked(made.sessions, check))
                    if not correlation_tables.write_instances(writer, made):
                        return
                for view, build in builders.items():  # one at a time: each view's rows go before the next's are made
                    check()
                    if not correlation_tables.view_ready(writer, view):
                        rows: dict[str, ViewRows] = {view: build(model)}
                        model.release_pages()  # what the build read of the columns' maps
                        if not write_views(writer, rows, check):
                            return
                        del rows
                        give_back()
                model.release_lists()  # every view reads its table now
                if with_links and not correlation_links.links_ready(writer):
                    check()
                    from core.correlate.persist import links

                    if not correlation_links.write_links(writer, checked(links(model), check)):
                        return

    def findings(self, store_path: Path, loaded: bool) -> FindingsData:
        def build(store: Store) -> FindingsData:
            _BUILDING.before_load = self.wait_quiet
            try:
                return build_findings(store, self.stop)
            finally:
                _BUILDING.before_load = None

        return self._get(self._findings, store_path, loaded, build)

    def built_model(self, store_path: Path, loaded: bool) -> CorrelationModel | None:
        """The model of `store_path` if it is built already and `model` would give it, else
        None (never builds: a reopened list's line without a stored tree uses it when there)."""
        slot = self._model
        current, value = slot.key, slot.value
        if current is not None and current[0] == str(store_path) and (current[1] or not loaded):
            return value
        return None

    def peek_model(self) -> CorrelationModel | None:
        """The last built model, or None (never blocks: for the main thread)."""
        return self._model.value

    def peek_findings(self) -> FindingsData | None:
        """The last built findings, or None (never blocks: for the main thread)."""
        return self._findings.value
