"""The app's own files in the user's data, config and cache dirs, when something else sits there:
a named pipe (reading it waited for a writer: the app never started), JSON nested too deep, a
parsed-rule cache that is no pickle of ours. Each is taken as absent, quickly."""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.findings.sigma import ruleset
from tui import column_settings
from tui.column_settings import ColumnSettings
from tui.history import History


def _within(seconds: float, fn: Callable[[], Any]) -> Any:
    """`fn()`, failing the test when it has not returned after `seconds` (a hang)."""
    got: list[Any] = []
    worker = threading.Thread(target=lambda: got.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still reading after {seconds} s")
    return got[0]


@pytest.fixture()
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # a reader left waiting on it (the failing case) let go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_a_named_pipe_as_the_history_is_no_history(fifo: Path) -> None:
    assert _within(5, lambda: History(fifo).entries) == []


def test_history_nested_too_deep_is_no_history(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert History(path).entries == []


def test_a_named_pipe_as_the_columns_file_gives_the_default_columns(fifo: Path) -> None:
    settings, notice = _within(5, lambda: column_settings.load(fifo))
    assert settings == ColumnSettings() and notice is not None and "unreadable" in notice


def test_a_named_pipe_or_a_foreign_file_as_the_sigma_cache_is_no_cache(fifo: Path, tmp_path: Path) -> None:
    assert _within(5, lambda: ruleset._read_cache(fifo)) == {}
    for data in (b"not a pickle", pickle.dumps([1, 2]), b"\x80\x05" + b"(" * 100_000):
        path = tmp_path / "cache.pickle"
        path.write_bytes(data)
        assert ruleset._read_cache(path) == {}
