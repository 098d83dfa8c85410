"""The Handles and Process access views shown fast right after the model build (issue 18): the
Handles list makes the 4690s it draws, not all of them, before it shows; and while a view
prepares what it shows from the model, the background writer of the correlation tables waits
(both are Python under one GIL: sharing it made these views take 2-3x their own time at a
million events), then finishes its tables."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.message import Message
from textual.message_pump import MessagePump

from core.correlate.model import CorrelationModel, build_model
from core.store import correlation_tables
from core.store.store import Store
from tests.correlate.events import d4690, h4656, load, p4688
from tests.correlate.stored_tables import store_db
from tui.handles import HandlesScreen, handle_row, handle_rows
from tui.messages import ModelReady
from tui.stored_views import ViewRows
from tui.workspace import Workspace

#: 4690s in the synthetic log (each duplicating a handle opened by a 4656 of its own).
DUPS = 600


def _log() -> list[str]:
    docs = [p4688(1, 0.0, "0x100", r"C:\Windows\System32\lsass.exe", "0x4"),
            p4688(2, 0.1, "0x200", r"C:\Tools\dup.exe", "0x4")]
    for n in range(DUPS):
        rid, sec, handle = 10 + 2 * n, 1.0 + n / 100, f"0x{0x400 + 4 * n:x}"
        docs.append(h4656(rid, sec, "0x200", handle, r"\Device\HarddiskVolume2\x.txt", r"C:\Tools\dup.exe",
                          otype="File"))
        docs.append(d4690(rid + 1, sec + 0.001, "0x200", handle, "0x100" if n % 3 else "0x4", f"0x{0x80 + n:x}"))
    return docs


def _cells(row: Any) -> list[str]:
    return [cell.plain for cell in row.cells] + [row.why.plain]


def test_the_handles_view_makes_only_the_4690s_it_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    events = load(*_log())
    # What a model making the whole list up front shows, line by line.
    expected = [_cells(handle_row(dup)) for dup in list(build_model(events).handle_duplications())]
    assert len(expected) == DUPS
    model = build_model(events)
    made: list[int] = []
    real = CorrelationModel._dup_handles

    def counted(self: CorrelationModel, found: Any) -> Any:
        made.append(found.ref.record_id)
        return real(self, found)

    monkeypatch.setattr(CorrelationModel, "_dup_handles", counted)
    screen = object.__new__(HandlesScreen)  # `model_lines` reads only the model
    total, lines = screen.model_lines(model)
    assert (total, lines.count) == (DUPS, DUPS)
    first = [lines.cells(i) for i in range(40)]  # the first screen, as the table draws it
    assert all(first) and len(made) <= 40
    last = lines.line(DUPS - 1)  # the end is one key away: made when asked
    assert last is not None and len(made) <= 41
    # Exact: every line as the whole list shows it, in whatever order lines are asked for.
    for i in (DUPS - 1, 5, 0, *range(DUPS)):
        line = lines.line(i)
        assert line is not None and _cells(line) == expected[i]
    stored = handle_rows(model)  # the tables' writer reads them all, each made once
    assert stored.total == DUPS and [_cells(row) for row in stored.rows or ()] == expected
    assert sorted(made) == sorted({*made}) and len(made) == DUPS


class _SlowRows(Sequence[Any]):
    """A stored view's many lines, made slowly: `made` counts them as the writer makes them."""

    def __init__(self, size: int) -> None:
        self.size = size  # (not `count`: that is `Sequence.count`, which it would hide)
        self.made = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise IndexError(index)
        return self._row(index)

    def __iter__(self) -> Iterator[Any]:
        for index in range(self.size):
            yield self._row(index)

    def _row(self, index: int) -> Any:
        time.sleep(0.0002)
        self.made += 1
        return _Line(None, (Text(str(index)),), Text("why"))


class _Line:
    def __init__(self, store_id: int | None, cells: tuple[Text, ...], why: Text) -> None:
        self.store_id, self.cells, self.why = store_id, cells, why


class _Target(MessagePump):
    """Where a view's worker posts the model: keeps what is posted (no app runs here)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def post_message(self, message: Message) -> bool:
        self.messages.append(message)
        return True


def _until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_tables_writer_waits_while_a_view_is_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.model_cache as model_cache

    monkeypatch.setattr(model_cache, "MAX_YIELD_S", 30.0, raising=False)  # (a loaded machine: no bound reached here)
    monkeypatch.setattr(model_cache, "PAINT_S", 1.0)
    db = store_db(tmp_path, load(*_log()[:40]))
    ws = Workspace(store_path=db, loaded=True)
    cache = ws.models
    cache.model(db, True)
    slow = _SlowRows(200_000)  # ~60 s of writing unless stopped
    cache.write_later(db, True, {"slow": lambda _model: ViewRows(rows=slow, total=slow.size)})
    try:
        _until(lambda: slow.made > 1500)  # the writer is writing the view's lines

        def prepare(_model: CorrelationModel) -> tuple[int, int]:
            last, deadline = slow.made, time.monotonic() + 5
            while time.monotonic() < deadline:  # until the writer reaches its next check (every 1,000 lines)
                time.sleep(0.2)
                if slow.made == last:
                    break
                last = slow.made
            before = slow.made
            time.sleep(0.5)
            return before, slow.made

        target = _Target()
        ws.request_model(target, prepare)  # as a view's worker does
        (ready,) = target.messages
        assert isinstance(ready, ModelReady)
        assert ready.error is None and ready.prepared is not None
        before, after = ready.prepared
        assert after == before, f"the writer made {after - before} lines while the view was prepared"
        time.sleep(0.5)  # the view handed to the UI thread: mounted and painted meanwhile
        assert slow.made == after, f"the writer made {slow.made - after} lines while the view was shown"
        resumed = slow.made
        _until(lambda: slow.made > resumed + 1500, 10)  # and goes on once the view is shown
    finally:
        cache.stop.set()
        _until(lambda: not cache.writing)
    with Store(db, readonly=True) as store:
        assert not correlation_tables.view_ready(store, "slow")  # stopped: never taken as written


def test_a_view_prepared_for_long_holds_the_writer_back_a_bounded_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.model_cache as model_cache

    monkeypatch.setattr(model_cache, "MAX_YIELD_S", 0.3)
    db = store_db(tmp_path, load(*_log()[:40]))
    ws = Workspace(store_path=db, loaded=True)
    cache = ws.models
    cache.model(db, True)
    slow = _SlowRows(3_000)
    cache.write_later(db, True, {"slow": lambda _model: ViewRows(rows=slow, total=slow.size)})
    try:
        with cache.preparing():  # a view stuck in its preparation
            _until(lambda: slow.made == slow.size, 30)  # the writer still ends, a check at a time
            _until(lambda: not cache.writing)
    finally:
        cache.stop.set()
    with Store(db, readonly=True) as store:
        assert correlation_tables.view_ready(store, "slow")
