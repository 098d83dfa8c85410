"""The app-level messages: what the load worker, the findings worker and the views' model
builds tell the app and the screens, and what a screen asks of the app.

Typed data only (no closures, no `Any`): a worker thread posts them, the main thread handles
them. Messages a single widget posts are nested on that widget instead (`EventTable.Counted`,
`MarksScreen.Resolved`...). `LoadProgress` may replace an unhandled one (`can_replace`): only
the latest count matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from textual.message import Message

from core.store.ingest import Progress

if TYPE_CHECKING:  # the engines load when a view first needs them, not when the app starts
    from core.correlate.model import CorrelationModel
    from core.findings.engine import FindingsData
    from core.findings.sigma.progress import SigmaProgress
    from tui.table_findings import EventFindings

#: What a view made of the model or the findings in its worker (its tree's nodes, its rows...).
P = TypeVar("P")


@dataclass
class LoadProgress(Message):
    """How far the load worker has read one input."""

    progress: Progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress) and message.progress.source == self.progress.source


@dataclass
class LoadStarted(Message):
    """The database exists (the first batch is committed): the table can start reading. Posted
    again when the load moved to another database (a full cache disk), with `notice` saying so,
    and when the complete database was `renamed` to its final cache key (the same data: readers
    keep their place)."""

    db_path: Path
    notice: str | None = None
    renamed: bool = False


@dataclass
class LoadFinished(Message):
    """Loading ended (complete, stopped, or failed with `error`). Posted to the app and to
    every screen on the stack, so views built from partial data can rebuild."""

    error: str | None = None
    stopped: bool = False


@dataclass
class FindingsComputed(Message):
    """The findings of the store at `store_path`, by store id (most severe first, read when
    asked: `tui.table_findings.EventFindings`), or why not."""

    store_path: Path
    by_event: EventFindings | None
    titles: dict[str, str]
    error: str | None = None


@dataclass
class ModelReady(Message, Generic[P]):
    """The correlation model (or why there is none) for a view, and what the view's `prepare`
    made of it in the worker (`Workspace.request_model`)."""

    model: CorrelationModel | None
    partial: bool
    error: str | None = None
    prepared: P | None = None


@dataclass
class FindingsReady(Message, Generic[P]):
    """The findings (or why there are none) for a view, and what the view's `prepare` made of
    them in the worker (`Workspace.request_findings`)."""

    data: FindingsData | None
    partial: bool
    error: str | None = None
    prepared: P | None = None


@dataclass
class SigmaProgressed(Message, bubble=False):
    """How far the Sigma rules' run is (posted to the app from the worker that runs them; the
    app forwards it to its screens), or None once it has ended. Only the latest progress
    matters: one not handled yet is replaced (never the end)."""

    progress: SigmaProgress | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SigmaProgressed) and message.progress is not None and self.progress is not None


@dataclass
class ModelAhead(Message, bubble=False):
    """How far the correlation model built ahead is (`tui.prebuild`): (events read, of how
    many), posted to the app from the worker that builds it, or None once it has ended (built,
    stopped or failed). Only the latest progress matters, as `SigmaProgressed`."""

    progress: tuple[int, int] | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ModelAhead) and message.progress is not None and self.progress is not None


@dataclass
class JumpToEvent(Message):
    """A screen asks the app to show the event `store_id` in the event table (the views'
    `enter`, the Marks view, `u`/`U`)."""

    store_id: int


@dataclass
class MarksChanged(Message):
    """The case's marks changed: the table's marker column is read again."""
