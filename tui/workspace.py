"""The workspace: what the app knows about the open log, handed to every screen it opens.

The app owns one `Workspace` and updates it as loading goes (`store_path` once the database
exists, `loaded` once the inputs are read, `case` once it is bound, `sources`); the views,
the Marks view and the case keys read it instead of reaching into the app. It also gives the
views the correlation model and the findings, built once per store (`tui.model_cache`): the
blocking `model()`/`findings()` run in the views' thread workers, `request_model` /
`request_findings` post the result to the view as a typed message.

A screen that names an event of its own (a tree node, a mark) is a `PicksEvent`: `c`, `m`,
`M`, `y` act on what it highlights, not on the event table's row hidden behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual.message_pump import MessagePump

from core.store.filter import Filter
from core.store.store import SourceRow, StoredEvent
from tui.messages import FindingsReady, ModelReady

if TYPE_CHECKING:  # the engines load when a view first needs them, not when the app starts
    from core.correlate.model import CorrelationModel
    from core.findings.engine import FindingsData
    from core.query.sort import Sort
    from core.report.case import Case
    from tui.model_cache import ModelCache
    from tui.stored_views import ViewBuilder

P = TypeVar("P")

#: After a correlation view is asked for, the app's background work that needs the interpreter
#: for a while (the findings read back from their child, the Sigma step) waits this long: a
#: reopened view is on screen within it (0.1-0.3 s), and did not share the GIL with 0.3 s of
#: unpickling and imports.
VIEW_QUIET = 0.6
#: The longest such work waits in all (an analyst hopping between views must not starve it).
QUIET_WAIT_LIMIT = 5.0


class PicksEvent:
    """A screen that names the event `c`, `m`, `M`, `y` act on (a view's highlighted node)."""

    def selected_store_id(self) -> int | None:
        """The store id of the highlighted event, or None."""
        raise NotImplementedError


def _no_selection() -> StoredEvent | None:
    return None


def _time_order() -> tuple[Sort, str] | None:
    return None



def _in_background(name: str, work: Callable[[], None]) -> None:
    """`work` in a daemon thread (it reads the store and imports the views' modules), its
    failure ignored: the correlation tables are a cache, and without them the next open builds
    the model (a list line beyond the stored trees says its links are not stored)."""
    import threading

    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - see above
            return

    threading.Thread(target=run, name=name, daemon=True).start()

@dataclass
class Workspace:
    """The open log as the screens see it (see the module docstring)."""

    #: The input files, as given on the command line.
    inputs: list[str] = field(default_factory=list)
    #: The database the table reads (None until the first batch is committed).
    store_path: Path | None = None
    #: Whether loading has ended (complete, stopped or failed): results built before are partial.
    loaded: bool = False
    #: The analyst's marks and notes (None until the store is bound, or when it cannot open).
    case: Case | None = None
    #: The inputs as the store lists them, by source id.
    sources: dict[int, SourceRow] = field(default_factory=dict)
    #: The filter bar's query text and what it compiled to (what `e` exports).
    query: str = ""
    compiled: Filter = field(default_factory=lambda: Filter.everything())
    #: Whether the findings of the loaded store reached the table and the detail (or failed).
    findings_ready: bool = False
    #: Whether the Sigma rules' run over the loaded store has ended (matches merged, or none to run).
    sigma_ended: bool = False
    #: Unreadable inputs and a failed load, for the `!` panel.
    load_errors: list[str] = field(default_factory=list)
    #: Each list view's highlighted line when it was last shown (by its stored list's name):
    #: the view opens there again (it opened at its top, the analyst's place lost on return).
    view_places: dict[str, int] = field(default_factory=dict)
    #: Each one-tree view's highlighted line and that line's event when it was last shown
    #: (by the tree's id): the view opens there again when the same line holds that event.
    tree_places: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    #: The event selected in the event table (the app installs its own).
    selection: Callable[[], StoredEvent | None] = _no_selection
    #: The event table's column sort and its title ("Computer ▲"), None in time order (the app
    #: installs its own): `e` exports the rows in the order the table shows them.
    table_sort: Callable[[], tuple[Sort, str] | None] = _time_order
    #: What each correlation view stores (`tui.stored_views`), by view name: the app names
    #: them all, so that the first model build stores every view; a view adds its own.
    view_builders: Callable[[], dict[str, ViewBuilder]] | None = None
    _models: ModelCache | None = field(default=None, repr=False)
    #: `time.monotonic()` until which background work keeps off the interpreter (`wait_quiet`).
    _quiet_after: float = field(default=0.0, repr=False)
    #: The store whose links `_store_links_later` looked at (once per store).
    _links_asked: Path | None = field(default=None, repr=False)

    @property
    def models(self) -> ModelCache:
        """The correlation model and the findings, built once per store (made on first use:
        the engines are imported then, not while the app starts)."""
        if self._models is None:
            from tui.model_cache import ModelCache

            self._models = ModelCache()
            self._models.wait_quiet = self.wait_quiet
        return self._models

    def hold_background(self) -> None:
        """A view is being opened: background work waits VIEW_QUIET before its next big step."""
        self._quiet_after = time.monotonic() + VIEW_QUIET

    def quiet(self) -> bool:
        """Whether no view was asked for in the last VIEW_QUIET seconds (`hold_background`)."""
        return time.monotonic() >= self._quiet_after

    def wait_quiet(self) -> None:
        """Block (a worker) until no view was asked for in the last VIEW_QUIET seconds, at most
        QUIET_WAIT_LIMIT seconds in all."""
        deadline = time.monotonic() + QUIET_WAIT_LIMIT
        for _ in range(int(QUIET_WAIT_LIMIT / 0.05) + 1):  # steps of 50 ms at most
            wait = min(self._quiet_after, deadline) - time.monotonic()
            if wait <= 0 or (self._models is not None and self._models.stop.is_set()):
                return
            time.sleep(min(wait, 0.05))

    @property
    def filtered(self) -> bool:
        """Whether a filter hides some events."""
        return not self.compiled.matches_all

    def require_store(self) -> Path:
        """The open database (raises ViewDataError when none is open yet)."""
        from tui.model_cache import ViewDataError

        if self.store_path is None:
            raise ViewDataError("no event store is open")
        return self.store_path

    # -- the model and the findings (blocking: call from a thread worker) -----------------------

    def model(self) -> tuple[CorrelationModel, bool]:
        """The model and whether it is partial (built before loading finished). Raises
        ViewDataError with a one-line reason."""
        from tui.model_cache import ViewDataError

        loaded = self.loaded
        try:
            got = self.models.model(self.require_store(), loaded), not loaded
        except ViewDataError:
            raise
        except Exception as exc:  # the view shows the failure instead of dying with the worker
            raise ViewDataError(f"correlation failed: {type(exc).__name__}: {exc}") from exc
        self._store_links_later()
        return got

    def _store_links_later(self) -> None:
        """With the model built: store the links if they are all the store's correlation tables
        lack (a reopen after a first open whose writer stopped before them: no view builds the
        model then, so no view asks for the tables)."""
        path, loaded, view_builders = self.store_path, self.loaded, self.view_builders
        if path is None or not loaded or view_builders is None or self._links_asked == path:
            return
        self._links_asked = path
        _in_background("evtx-store-links", lambda: self.models.links_later(path, loaded, tuple(view_builders())))

    def built_model(self) -> CorrelationModel | None:
        """The model if it is built already (`ModelCache.built_model`), else None: never blocks."""
        path = self.store_path
        return None if path is None else self.models.built_model(path, self.loaded)

    def stored_view(self, name: str, build: ViewBuilder) -> bool:
        """Whether the view `name` is read from the store (`ModelCache.stored_view`), storing
        it (and the others the app names) first when needed. Blocking; raises ViewDataError."""
        from tui.model_cache import ViewDataError

        # Only `name`'s builder: without `wait` none is called, and asking the app for all of
        # them imports every view's module (70 ms of a reopened view's 0.3 s).
        try:
            return self.models.stored_view(self.require_store(), self.loaded, name, {name: build})
        except ViewDataError:
            raise
        except Exception as exc:
            raise ViewDataError(f"correlation failed: {type(exc).__name__}: {exc}") from exc

    def store_views_later(self, name: str, build: ViewBuilder) -> None:
        """Once a view has shown the model: write the correlation tables in the background
        (`ModelCache.write_later`), for the next open. Never raises: the view is shown."""
        path, loaded = self.store_path, self.loaded

        def start() -> None:
            builders = dict(self.view_builders()) if self.view_builders is not None else {}
            builders[name] = build
            if path is not None:
                self.models.write_later(path, loaded, builders)

        _in_background("evtx-store-views", start)

    def store_views_ahead(self, views: Iterable[str], idle: Callable[[], bool]) -> bool:
        """With the model built ahead (`tui.prebuild`): write every view's tables and the links
        in the background (`ModelCache.write_later`), keeping off the interpreter while `idle()`
        is false, so that the next open of this log shows every view from the store whether or
        not one is opened now; `views` names them all (`tui.view_builders.STORED_VIEWS`). Whether
        a writer was asked for (False: nothing left to store, or the store cannot hold it).
        Blocking: call from a worker."""
        path, loaded = self.store_path, self.loaded
        if path is None or not loaded or self.view_builders is None:
            return False
        if self.models.stored_all(path, loaded, views):
            return False
        self.models.write_later(path, loaded, self.view_builders(), idle=idle)
        return True

    def findings(self) -> tuple[FindingsData, bool]:
        """The findings and whether they are partial."""
        from tui.model_cache import ViewDataError

        loaded = self.loaded
        try:
            return self.models.findings(self.require_store(), loaded), not loaded
        except ViewDataError:
            raise
        except Exception as exc:
            raise ViewDataError(f"findings failed: {type(exc).__name__}: {exc}") from exc

    def request_model(self, target: MessagePump, prepare: Callable[[CorrelationModel], P]) -> None:
        """Post a `ModelReady` to `target` (errors too).

        `prepare(model)` runs here, in the worker, and its result rides along as `prepared`: what a
        view shows of a big model (a quarter of a million processes: 6.6 s of tree building) must
        not be computed on the UI thread."""
        from core.correlate.model import FREEZE_EVENTS
        from core.store.gc_pause import gc_paused
        from tui.model_cache import ViewDataError

        try:
            model, partial = self.model()
            # Views of a big model are big too (a node per process...): built, like the model,
            # without the collector walking them (`core.store.gc_pause`), which held the GIL for up
            # to a second at a time, and frozen out of it for the UI thread's collections; the
            # tables' background writer waits meanwhile (`ModelCache.preparing`).
            with self.models.preparing(), gc_paused() as pause:
                prepared = prepare(model)
                pause.freeze = model.size >= FREEZE_EVENTS
                self.models.linger()  # and while the UI thread shows it
        except ViewDataError as exc:
            target.post_message(ModelReady[P](None, not self.loaded, str(exc)))
        else:
            target.post_message(ModelReady(model, partial, prepared=prepared))

    def request_findings(self, target: MessagePump, prepare: Callable[[FindingsData], P]) -> None:
        """Post a `FindingsReady` to `target` (errors too), with `prepare(data)` made here, in
        the worker (as `request_model`)."""
        from tui.model_cache import ViewDataError

        try:
            data, partial = self.findings()
            prepared = prepare(data)
        except ViewDataError as exc:
            target.post_message(FindingsReady[P](None, not self.loaded, str(exc)))
        else:
            target.post_message(FindingsReady(data, partial, prepared=prepared))
