"""The built-in findings are kept with a store (`core.findings.stored`): a reopen reads them back
instead of running the rules (13 s of CPU at a million events), identical to a fresh run; other
rules, another engine version, more events or a damaged kept result run the rules again."""

from __future__ import annotations

import marshal
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.findings import child as findings_child
from core.findings import engine
from core.findings.engine import FindingsData, store_findings
from core.findings.rules import load_rules
from core.store.cache import open_inputs
from core.store.ingest import load_paths
from core.store.store import Store
from tests.apputil import DEMO
from tui import model_cache
from tui.model_cache import ModelCache


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo log's cached store (complete, as a reopened log's), with the built-in rules."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    return path


@pytest.fixture()
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every run of the rules over a store, in a child ("child") or in the thread ("thread")."""
    calls: list[str] = []
    child, thread = findings_child.findings_in_child, engine.run_findings

    def in_child(db: Path, *args: Any, **kwargs: Any) -> FindingsData | None:
        calls.append("child")
        return child(db, *args, **kwargs)

    def in_thread(*args: Any) -> Any:
        calls.append("thread")
        return thread(*args)

    monkeypatch.setattr(model_cache, "findings_in_child", in_child)
    monkeypatch.setattr(engine, "run_findings", in_thread)
    yield calls


def fresh(path: Path) -> FindingsData:
    with Store(path, readonly=True) as store:
        return engine.store_findings(store, load_rules(None))


def reopen(path: Path) -> FindingsData:
    """The findings as a newly started app asks for them (its own model cache)."""
    return ModelCache().findings(path, True)


def test_a_reopen_reads_the_findings_back_without_running_the_rules(
    demo: Path, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", 0)  # a big store's: from the child
    first = reopen(demo)
    assert runs == ["child"]
    expected = fresh(demo)
    runs.clear()
    assert len(expected.findings) >= 3
    assert reopen(demo) == expected == first
    assert reopen(demo) == expected
    assert runs == []  # neither the child nor the rules in the thread


def test_a_small_store_found_in_the_thread_is_kept_too(demo: Path, runs: list[str]) -> None:
    first = reopen(demo)
    assert runs == ["thread"]
    assert reopen(demo) == first == fresh(demo)
    assert runs == ["thread", "thread"]  # only `fresh`'s


def test_changed_rules_run_again(demo: Path, runs: list[str], tmp_path: Path) -> None:
    before = reopen(demo)
    rules = tmp_path / "config" / "rules.toml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text('[rules.image-in-restricted-folder]\nseverity = "critical" # a\n', encoding="utf-8")
    runs.clear()
    after = reopen(demo)
    assert runs == ["thread"]
    assert after == fresh(demo) != before
    assert any(f.rule == "image-in-restricted-folder" and f.severity == "critical" for f in after.findings)
    # One byte changed, same size and time: the text is what counts, the rules run again.
    stat = rules.stat()
    rules.write_text('[rules.image-in-restricted-folder]\nseverity = "critical" # b\n', encoding="utf-8")
    os.utime(rules, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    runs.clear()
    assert reopen(demo).findings == after.findings
    assert runs == ["thread"]
    rules.unlink()  # back to the built-in rules: their result was kept beside
    runs.clear()
    assert reopen(demo) == before
    assert runs == []


def test_a_changed_built_in_rules_file_runs_again(demo: Path, runs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from core.findings import rules

    before = reopen(demo)
    text = rules.default_rules_text()
    assert '"high"' in text
    monkeypatch.setattr(rules, "default_rules_text", lambda: text.replace('"high"', '"critical"'))  # a new release
    runs.clear()
    after = reopen(demo)
    assert runs == ["thread"]
    assert after == fresh(demo) != before
    assert {f.severity for f in after.findings} != {f.severity for f in before.findings}


def test_a_new_engine_version_runs_again(demo: Path, runs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from core.findings import stored

    reopen(demo)
    monkeypatch.setattr(stored, "FINDINGS_VERSION", stored.FINDINGS_VERSION + 1)
    runs.clear()
    assert reopen(demo) == fresh(demo)
    assert runs == ["thread", "thread"]


def test_a_store_given_more_events_runs_again(demo: Path, runs: list[str]) -> None:
    before = reopen(demo)
    with Store(demo) as store:  # the same log merged in again: its copies fire once (the first copy)
        load_paths([str(DEMO)], store)
    runs.clear()
    after = reopen(demo)
    assert runs == ["thread"]
    assert len(after.findings) == len(before.findings) > 0
    assert after == fresh(demo)


def test_a_store_still_loading_keeps_nothing(tmp_path: Path, runs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    with Store(tmp_path / "loading.db") as store:
        load_paths([str(DEMO)], store)  # not marked complete
    reopen(tmp_path / "loading.db")
    reopen(tmp_path / "loading.db")
    assert runs == ["thread", "thread"]


def _kept(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as conn:
        return [(str(k), bytes(v)) for k, v in conn.execute("SELECT key, value FROM findings_results")]


def _replace(path: Path, value: bytes) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE findings_results SET value = ?", (value,))
    conn.close()


def _damaged(blob: bytes) -> list[bytes]:
    value = marshal.loads(blob)
    return [
        blob[: len(blob) // 2],  # cut
        blob[:1] + b"\xff" * 40 + blob[41:],  # garbled
        b"",
        marshal.dumps(("evtx-findings-0", *value[1:])),  # another format
        marshal.dumps(value[:5]),
        marshal.dumps((*value[:2], value[2] + 1, *value[3:])),  # a row more than there are
        marshal.dumps((*value[:2], str(value[2]), *value[3:])),
        marshal.dumps((*value[:3], {"x": 1}, *value[4:])),
        marshal.dumps((value[0], "another digest", *value[2:])),
        marshal.dumps([1, 2, 3]),
    ]


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT seq, rule, pos, severity, store_id, value FROM findings_rows ORDER BY seq")
        return [tuple(row) for row in rows]


def _damaged_rows(rows: list[tuple[Any, ...]]) -> list[tuple[str, tuple[Any, ...]]]:
    """(SQL that damages the first row, its arguments): each must make the rules run again."""
    seq, rule, pos, severity, store_id, value = rows[0]
    row = marshal.loads(value)
    bad = [
        (*row[:2], str(row[2]), *row[3:]),  # a store id as text
        row[:9],  # short
        (*row[:8], (("Image", 3),), row[9]),  # evidence not text
        (*row[:5], None, *row[6:]),  # no computer
    ]
    out: list[tuple[str, tuple[Any, ...]]] = [
        ("UPDATE findings_rows SET value = ? WHERE seq = ?", (marshal.dumps(b), seq)) for b in bad]
    out += [
        ("UPDATE findings_rows SET value = ? WHERE seq = ?", (value[: len(value) // 2], seq)),  # cut
        ("UPDATE findings_rows SET value = ? WHERE seq = ?", ("text", seq)),
        ("UPDATE findings_rows SET rule = ? WHERE seq = ?", (rule + "x", seq)),  # disagrees with its value
        ("UPDATE findings_rows SET store_id = ? WHERE seq = ?", (store_id + 1, seq)),
        ("UPDATE findings_rows SET severity = ? WHERE seq = ?", (severity + "x", seq)),
        ("UPDATE findings_rows SET pos = ? WHERE seq = ?", (pos + 1000, seq)),  # a place out of its list
        ("UPDATE findings_rows SET pos = ? WHERE seq = ?", ("one", seq)),
        ("UPDATE findings_rows SET seq = ? WHERE seq = ?", (rows[-1][0] + 5, seq)),  # out of order
        ("DELETE FROM findings_rows WHERE seq = ?", (seq,)),  # missing
    ]
    return out


def test_a_damaged_kept_result_runs_again(demo: Path, runs: list[str]) -> None:
    expected = reopen(demo)
    [(_, blob)] = _kept(demo)
    rows = _rows(demo)
    for damaged in _damaged(blob):
        _replace(demo, damaged)
        runs.clear()
        assert reopen(demo) == expected  # never a crash, never a wrong answer
        assert runs == ["thread"]
        assert _kept(demo)[0][1] == blob  # kept again, whole
    for sql, args in _damaged_rows(rows):
        with sqlite3.connect(demo) as conn:
            conn.execute(sql, args)
        conn.close()
        runs.clear()
        assert reopen(demo) == expected, sql
        assert runs == ["thread"], sql
        assert _rows(demo) == rows and _kept(demo)[0][1] == blob  # kept again, whole
    runs.clear()
    assert reopen(demo) == expected
    assert runs == []


def test_a_store_that_refuses_the_write_still_shows_its_findings(
    demo: Path, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store import findings_tables

    monkeypatch.setattr(findings_tables, "BUSY_MS", 50)
    other = sqlite3.connect(demo, isolation_level=None)  # another writer holds the store
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert reopen(demo) == fresh(demo)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert runs == ["thread", "thread"]
    reopen(demo)  # kept this time
    reopen(demo)
    assert runs == ["thread", "thread", "thread"]


def test_the_cli_reads_them_back_too(demo: Path, runs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    assert main(["findings", str(DEMO), "--json"]) == 0
    first = capsys.readouterr().out
    assert runs == ["thread"]
    assert main(["findings", str(DEMO), "--json"]) == 0
    assert capsys.readouterr().out == first
    assert runs == ["thread"]
    with Store(demo, readonly=True) as store:
        assert reopen(demo) == store_findings(store, load_rules(None))


def test_kept_findings_are_read_back_once_no_view_is_opening(demo: Path, runs: list[str]) -> None:
    import time

    from tui.workspace import VIEW_QUIET, Workspace

    expected = reopen(demo)
    ws = Workspace(store_path=demo, loaded=True)
    calls: list[float] = []
    real_wait = ws.wait_quiet

    def waited() -> None:
        real_wait()
        calls.append(time.monotonic())

    ws.models.wait_quiet = waited
    ws.hold_background()  # a view was just asked for: decoding them would take the interpreter from it
    asked = time.monotonic()
    data, partial = ws.findings()
    assert data == expected and not partial
    assert runs == ["thread"]  # only the first open's
    assert len(calls) == 1 and calls[0] - asked >= VIEW_QUIET * 0.9


def test_many_kept_findings_are_checked_with_pauses_for_the_views(tmp_path: Path) -> None:
    """At 10M events a store keeps some 200,000 findings: checked in one go they took a second
    of the interpreter from a view opened meanwhile (a reopened Handles view 0.86 s instead of
    0.14 s); the check waits for a quiet UI (`pause`) every DECODE_CHUNK findings, and holds none."""
    from core.findings import pages, stored
    from core.findings.engine import Finding
    from core.store import findings_tables

    n = stored.DECODE_CHUNK * 3 + 5
    data = FindingsData(
        [Finding("r", "high", i, i, 4688, "HOST", 1 << 56, f"m{i}", (("Field", "v"),), None) for i in range(n)],
        {"r": "Rule"}, {"r": "high"}, ("built-in",), "digest")
    meta, rows = stored._encode(data)
    with Store(tmp_path / "s.db") as store:
        assert findings_tables.save(store, "k", meta, rows)
        found = findings_tables.load(store, "k")
        assert found is not None
        decoded_at: list[int] = []
        seen: list[int] = []

        def pause() -> None:
            decoded_at.append(len(seen))

        real = pages.decode_row

        def counted(row: Any) -> Finding | None:
            seen.append(1)
            return real(row)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(stored, "decode_row", counted)
            assert stored._rows_check(store, found[0], n, pause)
        assert decoded_at == [stored.DECODE_CHUNK, stored.DECODE_CHUNK * 2, stored.DECODE_CHUNK * 3]
        assert pages.StoredFindingList(store.path, found[0], n) == data.findings
