"""A cache directory that cannot be used (a file in its place, not creatable, read-only): the
logs load without it, said in one line, as on a full cache disk (it ended every command, and the
app's quit, with a traceback)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from core.store.cache import CacheEntry, open_inputs
from tests.apputil import DEMO, opened, sync
from tests.cliutil import run_cli
from tui.app import EvtxApp


@pytest.fixture()
def file_as_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    path.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(path))
    return path


def test_a_file_in_the_cache_dirs_place_loads_without_cache(file_as_cache: Path) -> None:
    said: list[str] = []
    store = open_inputs([str(DEMO)], notice=said.append)
    assert store.count() == 71
    assert said and said[0].startswith("cache unusable") and "without cache" in said[0]
    code, out, err = run_cli("stats", str(DEMO))
    assert code == 0 and "total 71 records" in out
    assert "Traceback" not in err and "cache unusable" in err


def test_a_lock_file_that_cannot_be_made_loads_without_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only cache dir (as root no mode refuses a write, so the lock's creation is made to)."""
    real = os.open

    def refused(path: str, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", path)
        fd: int = real(path, flags, *args, **kwargs)
        return fd

    monkeypatch.setattr(os, "open", refused)
    entry = CacheEntry([str(DEMO)])
    assert not entry.use_cache and entry.notice is not None and "Permission denied" in entry.notice
    entry.close()


@sync
async def test_the_app_on_an_unusable_cache_dir_loads_and_quits_cleanly(file_as_cache: Path) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app.table.total == 71
        await pilot.press("q")
    assert app.return_code in (0, None)


def test_prepare_without_a_usable_cache_keeps_nothing_and_says_so(file_as_cache: Path) -> None:
    """It prepared a private store, deleted when it ended, and said "prepared" with status 0."""
    code, _, err = run_cli("prepare", str(DEMO))
    assert code == 5 and "nothing to prepare" in err and "Traceback" not in err


def test_the_cache_command_counts_each_database_once(tmp_path: Path) -> None:
    """A committed entry leaves a link at its provisional name: it was counted as a second database."""
    assert run_cli("stats", str(DEMO))[0] == 0
    from core.store.cache import cache_dir

    (db,) = cache_dir().glob("*.sqlite")
    (cache_dir() / "build-0123.sqlite").symlink_to(db.name)  # what a commit leaves while the entry is read
    code, out, _ = run_cli("cache")
    assert code == 0 and ": 1 databases," in out


def test_the_cache_command_on_a_file_in_the_cache_dirs_place(file_as_cache: Path) -> None:
    code, _, err = run_cli("cache", "--clear")
    assert code == 5 and "not a directory" in err and file_as_cache.is_file()
