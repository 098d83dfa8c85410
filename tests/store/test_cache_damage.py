"""A cache database damaged inside (a page overwritten, a row that does not read back): the
command that meets it says so in one line (status 1, no traceback), and the next run parses the
logs again instead of failing the same way for good."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.store import cache_damage
from core.store.cache import cache_dir
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events


def _log(tmp_path: Path) -> Path:
    events = [event_xml(4688, n, f"2024-01-01T00:{n:02d}:00Z", {"NewProcessName": f"C:\\p{n}.exe"})
              for n in range(1, 40)]
    return write_events(tmp_path / "log.xml", events)


def _cached() -> Path:
    (db,) = [p for p in cache_dir().glob("*.sqlite") if not p.is_symlink()]
    return db


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_damage, "_opened", [])  # each test a new process, as the CLI is


def test_a_row_that_does_not_read_back_is_one_line_and_parsed_again_next_time(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert run_cli("query", str(log), "--format", "jsonl")[0] == 0
    with sqlite3.connect(_cached()) as conn:  # a row's EventData bytes overwritten
        conn.execute("UPDATE events SET data = x'ff00ff00' WHERE id = (SELECT min(id) FROM events)")
    code, out, err = run_cli("query", str(log), "--format", "jsonl")
    assert code == 1, err
    assert "Traceback" not in err and "the cached copy of the logs is damaged" in err
    assert "run the command again" in err and len(err.strip().splitlines()) == 1
    cache_damage._opened.clear()
    code, out, err = run_cli("query", str(log), "--format", "jsonl")
    assert code == 0, err
    assert len(out.splitlines()) == 39


def test_a_malformed_page_is_one_line_and_parsed_again_next_time(tmp_path: Path) -> None:
    """A page in the middle of the events table (the open's own checks read none of it)."""
    events = [event_xml(4688, n, f"2024-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                        {"NewProcessName": f"C:\\p{n}.exe", "CommandLine": "x" * 200}) for n in range(1, 2001)]
    log = write_events(tmp_path / "log.xml", events)
    assert run_cli("stats", str(log))[0] == 0
    db = _cached()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [n for (n,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'")]
    assert len(leaves) > 4
    with open(db, "r+b") as fh:  # a leaf page's header overwritten
        fh.seek((leaves[len(leaves) // 2] - 1) * page_size)
        fh.write(b"\x07" * 16)
    code, out, err = run_cli("query", str(log), "--format", "jsonl")
    assert code == 1, err
    assert "Traceback" not in err and "the cached copy of the logs is damaged" in err
    cache_damage._opened.clear()
    code, out, err = run_cli("query", str(log), "--format", "jsonl")
    assert code == 0, err
    assert len(out.splitlines()) == 2000


def test_other_database_errors_are_not_taken_for_damage() -> None:
    assert cache_damage.is_damage(sqlite3.DatabaseError("database disk image is malformed"))
    assert cache_damage.is_damage(ValueError("bad marshal data (unknown type code)"))
    assert not cache_damage.is_damage(sqlite3.OperationalError("database is locked"))
    assert not cache_damage.is_damage(ValueError("invalid literal for int()"))
