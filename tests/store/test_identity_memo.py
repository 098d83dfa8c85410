"""A damaged identity memo (`<cache>/identities/*.json`: torn, overwritten or crafted) counts as
absent: the input is hashed again, the memo replaced, and no command shows a traceback (nesting
past the JSON decoder's recursion was one in every command on that log)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.store import cache, cache_identity
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events


def _deep(memo: Path) -> None:
    memo.write_text("[" * 100_000, encoding="utf-8")


def _long_number(memo: Path) -> None:
    memo.write_text('{"stamp": ' + "7" * 5000 + "}", encoding="utf-8")


def _huge(memo: Path) -> None:
    memo.write_text(" " * (8 * 1024 * 1024) + "{}", encoding="utf-8")


def _fifo(memo: Path) -> None:  # (read_text waited for a writer forever)
    memo.unlink()
    os.mkfifo(memo)


def _not_an_object(memo: Path) -> None:
    memo.write_text('"sha256"', encoding="utf-8")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "nested too deep": _deep, "a number too long": _long_number, "too large": _huge, "a FIFO": _fifo,
    "not an object": _not_an_object,
}


@pytest.fixture()
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cache_identity, "RACY_SECONDS", 0.0)  # (a log written just now is remembered)
    return write_events(tmp_path / "Security.xml", [event_xml(4688, 1, "2015-11-12T02:24:52Z")])


def _memo(tmp_path: Path) -> Path:
    memos = list((tmp_path / "cache" / "identities").glob("*.json"))
    assert len(memos) == 1
    return memos[0]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_memo_is_hashed_again_and_replaced(log: Path, tmp_path: Path, damage: str) -> None:
    first = cache.input_identity(str(log))
    memo = _memo(tmp_path)
    DAMAGE[damage](memo)
    assert cache.input_identity(str(log)) == first
    saved = json.loads(memo.read_text(encoding="utf-8"))
    assert saved["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_commands_on_a_log_with_a_damaged_memo_run(log: Path, tmp_path: Path, damage: str) -> None:
    status, before, _ = run_cli("stats", str(log), "--json")
    assert status == 0
    DAMAGE[damage](_memo(tmp_path))
    status, out, err = run_cli("stats", str(log), "--json")
    assert status == 0 and err == "" and out == before
    assert json.loads(_memo(tmp_path).read_text(encoding="utf-8"))["sha256"]
