"""`evtx-explorer prepare`: the inputs loaded into the cache with what a first open of the app
works out (findings, Sigma matches, every correlation view's tables and the links), the very
tables the app's background writer writes, so that the app's next open reads them all from the
store; a second run skips what is kept; inputs that cannot be read are reported, the rest kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cli.cmd_correlate as cmd_correlate
import cli.cmd_open as cmd_open
import cli.cmd_prepare as cmd_prepare
import core.findings.stored as findings_stored
import tui.model_cache as mc
import tui.side_writer as side_writer
import tui.stored_views as stored_views
from bench.table_write import digests
from bench.view_ready import VIEWS, shown
from core.correlate.model import model_from_store
from core.findings.rules import load_rules
from core.findings.sigma import cached_sigma
from core.report.sessions import session_records
from core.store import cache_lock, correlation_copies, correlation_links, correlation_tables
from core.store.cache import open_inputs
from core.store.store import Store
from core.store.tempfiles import MARK
from tests.apputil import DEMO, ROOT, opened, sync, wait_for
from tests.cliutil import run_cli
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.stored_tables import BUILDERS, no_model
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events
from tui.app import EvtxApp
from tui.model_cache import ModelCache
from tui.view_builders import STORED_VIEWS

#: The tables are written by two processes on Linux only (`tui.side_writer`).
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a second writer is forked on Linux only")


def _cached(*inputs: Path) -> Path:
    """The cache database the app (and every command) opens for `inputs`."""
    store = open_inputs([str(p) for p in inputs])
    path = store.path
    store.close()
    return path


def _prepared(path: Path) -> bool:
    with Store(path, readonly=True) as store:
        return (all(correlation_tables.view_ready(store, view) for view in STORED_VIEWS)
                and correlation_links.links_ready(store))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The hand-made 4690 logs (two hosts, reused pids, handles) as one Event XML file."""
    return write_events(tmp_path / "handles.xml", hand_made())


def test_prepare_keeps_findings_and_every_view_as_the_app_writes_them(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli("prepare", str(log), "--json")
    assert code == 0, err
    doc = json.loads(out)
    path = Path(doc["store"])
    assert path == _cached(log)  # what the app opens for this log
    assert _prepared(path)
    with Store(path, readonly=True) as store:
        assert doc["events"] == store.count() == len(hand_made())
        kept = findings_stored.stored_findings(store, load_rules(None))
        assert kept is not None and len(kept.findings) == doc["findings"]
        model = model_from_store(store)
        assert (doc["processes"], doc["handles"], doc["sessions"]) == (
            len(model.processes), len(model.handles), len(session_records(model)))
        assert doc["sessions"] - doc["sessions_before_log"] == len(model.sessions)
        assert doc["handles"] > 0
    assert doc["sigma_matches"] is None and doc["correlation_stored"] is True
    # The app's background writer, on the same log in another cache: the same rows in every table.
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "app-cache"))
    app_path = _cached(log)
    assert app_path != path
    cache = ModelCache()
    assert all(cache.stored_view(app_path, True, name, BUILDERS, wait=True) for name in BUILDERS)
    assert _prepared(app_path)
    assert digests(app_path) == digests(path)


def test_a_second_run_builds_nothing_again(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, first, err = run_cli("prepare", str(log), "--json")
    assert code == 0, err
    monkeypatch.setattr(mc, "build_model", no_model)

    def no_findings(*_: object) -> object:
        raise AssertionError("the findings were computed again")

    monkeypatch.setattr(mc, "store_findings", no_findings)
    code, again, err = run_cli("prepare", str(log), "--json")
    assert code == 0, err
    a, b = json.loads(first), json.loads(again)
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


def test_text_summary_and_an_unreadable_input(log: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.evtx"
    code, out, err = run_cli("prepare", str(log), str(missing))
    assert code == 1  # an input could not be read: the rest is prepared all the same
    assert "gone.evtx" in err
    assert f"prepared {len(hand_made())} events from 2 files" in out
    assert "every view and the links stored" in out and "took: load" in out
    assert _prepared(_cached(log, missing))


def test_no_cache_prepares_nothing(log: Path, tmp_path: Path) -> None:
    code, out, err = run_cli("prepare", str(log), "--no-cache")
    assert code == 5 and out == ""
    assert "--no-cache keeps nothing" in err
    code, out, err = run_cli("prepare", str(log), "--sigma", str(tmp_path / "no rules here"))
    assert code == 2 and out == ""  # a usage error, before anything loads
    assert "no such Sigma rules folder" in err and "no rules here" in err


def test_sigma_matches_are_kept_with_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept under the rule files' resolved paths, as `open --sigma` names them: a relative
    folder given to prepare is the app's too."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    log = write_events(tmp_path / "log.xml", [
        event_xml(4624, 1, "2024-01-01T00:00:00Z", {"TargetUserName": "bob"}),
        event_xml(1102, 2, "2024-01-01T00:01:00Z", {"SubjectUserName": "mallory"}),
    ])
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("prepare", str(log), "--sigma", "rules", "--json")
    assert code == 0, err
    assert json.loads(out)["sigma_matches"] == 1
    with Store(_cached(log), readonly=True) as store:
        kept = cached_sigma(store, [rules.resolve()])
    assert kept is not None and [m.record_id for m in kept.matches] == [2]


def test_the_rules_run_beside_the_tables_writer_in_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a big store (thresholds at 0 here) the findings and the Sigma rules run in child
    processes once the model is built, while the tables are written: the writer here waits
    until the findings are kept with the store, which only a step running beside it can do."""
    monkeypatch.setattr(mc, "CHILD_FINDINGS_EVENTS", 0)
    monkeypatch.setattr(cmd_prepare, "CHILD_SIGMA_EVENTS", 0)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    log = write_events(tmp_path / "log.xml", [*hand_made(), event_xml(1102, 999, "2024-01-01T00:01:00Z", {})])
    real = ModelCache._write_tables
    seen: list[bool] = []

    def after_the_findings(self: ModelCache, path: Path, *args: Any, **kwargs: Any) -> None:
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            with Store(path, readonly=True) as store:
                if findings_stored.stored_findings(store, load_rules(None)) is not None:
                    seen.append(True)
            time.sleep(0.05)
        real(self, path, *args, **kwargs)

    monkeypatch.setattr(ModelCache, "_write_tables", after_the_findings)
    code, out, err = run_cli("prepare", str(log), "--sigma", str(rules), "--json")
    assert code == 0, err
    assert seen == [True]
    doc = json.loads(out)
    assert doc["sigma_matches"] == 1 and doc["correlation_stored"] is True
    with Store(Path(doc["store"]), readonly=True) as store:
        kept = findings_stored.stored_findings(store, load_rules(None))
        assert kept is not None and len(kept.findings) == doc["findings"]
        assert [m.record_id for m in cached_sigma(store, [rules]).matches] == [999]  # type: ignore[union-attr]


def test_correlate_prints_a_prepared_logs_trees_from_the_store(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`correlate --record N` (text) on a prepared log reads the tree of an event a list view
    shows (a 4690's) from the store, the very text the model gives (`--no-cache`: no tables);
    another event's tree still comes from the model."""
    code, _, err = run_cli("prepare", str(log))
    assert code == 0, err
    by_record: dict[int, list[bool]] = {}
    with Store(_cached(log), readonly=True) as store:
        for se in store.iter_events():
            assert se.event.record_id is not None
            by_record.setdefault(se.event.record_id, []).append(cmd_correlate.stored_tree(store, se) is not None)
    listed = sorted(rid for rid, kept in by_record.items() if all(kept))
    unlisted = sorted(rid for rid, kept in by_record.items() if not any(kept))
    assert listed and unlisted
    expected = {rid: run_cli("correlate", str(log), "--no-cache", "--record", str(rid))
                for rid in (*listed, unlisted[0])}
    with monkeypatch.context() as m:
        m.setattr(cmd_correlate, "model_from_store", no_model)
        for rid in listed:
            assert run_cli("correlate", str(log), "--record", str(rid)) == expected[rid], rid
    built: list[int] = []
    real = model_from_store

    def counted(store: Store) -> Any:
        built.append(1)
        return real(store)

    monkeypatch.setattr(cmd_correlate, "model_from_store", counted)
    assert run_cli("correlate", str(log), "--record", str(unlisted[0])) == expected[unlisted[0]]
    assert built == [1]


def _one_writer(log: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The digests of the tables the app's background writer (one process) writes for `log`."""
    with monkeypatch.context() as m:
        m.setenv("EVTX_EXPLORER_CACHE_DIR", str(cache))
        path = _cached(log)
        writer = ModelCache()
        assert all(writer.stored_view(path, True, name, BUILDERS, wait=True) for name in BUILDERS)
        return digests(path)


@LINUX
@pytest.mark.parametrize("slow", ["this process", "the child"])
def test_two_writers_store_the_rows_of_one(slow: str, log: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A big model's tables are written by a forked child (Handles and Process access, with
    their event trees) beside this process (the instances, the links), the other views by
    whichever is free first (the other one slowed down here), then copied in: the same rows,
    in small chunks here, as one writer's; the child's database is removed."""
    monkeypatch.setattr(side_writer, "SPLIT_EVENTS", 0)
    monkeypatch.setattr(correlation_copies, "COPY_CHUNK", 3)
    # Slowed: the links (only this process writes them), or the lists (only the child, here).
    module, name = (correlation_links, "write_links") if slow == "this process" else (stored_views, "write_views")
    real = getattr(module, name)

    def slowed(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slowed)
    if module is stored_views:
        monkeypatch.setattr(side_writer, name, slowed)  # (imported by name there)
    copied: list[list[str] | None] = []
    real_copy = correlation_copies.copy_views

    def copy(*args: Any) -> list[str] | None:
        copied.append(real_copy(*args))
        return copied[-1]

    monkeypatch.setattr(correlation_copies, "copy_views", copy)
    forks: list[int] = []
    real_fork = os.fork

    def counted() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    code, out, err = run_cli("prepare", str(log), "--json")
    assert code == 0, err
    assert len(forks) == 1
    the_lists = ["handles", "process_access"]
    assert copied == [[*BUILDERS] if slow == "this process" else the_lists]
    path = Path(json.loads(out)["store"])
    assert _prepared(path)
    assert digests(path) == _one_writer(log, tmp_path / "one", monkeypatch)
    assert not list(path.parent.glob(f".{path.name}.*"))


@LINUX
def test_a_killed_prepares_side_database_is_swept(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(side_writer, "SPLIT_EVENTS", 0)
    path = _cached(log)  # loaded by an earlier command: no tables yet
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    left = [path.parent / f".{path.name}.{MARK}-{int(dead.stdout)}-x1y2.part{end}" for end in ("", "-wal", "-shm")]
    for leftover in left:
        leftover.write_bytes(b"cut short")
    code, _, err = run_cli("prepare", str(log))
    assert code == 0, err
    assert _prepared(path)
    assert not [p for p in left if p.exists()]


@LINUX
@pytest.mark.parametrize("how", ["fails", "outlives its bound"])
def test_a_failed_second_writer_leaves_its_part_to_this_one(
    how: str, log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(side_writer, "SPLIT_EVENTS", 0)
    if how == "fails":
        def broken(*_: object) -> bool:
            raise RuntimeError("the child's part failed")

        monkeypatch.setattr(side_writer, "_write_side", broken)
    else:
        monkeypatch.setattr(side_writer, "CHILD_LIMIT_S", 0.5)
        monkeypatch.setattr(side_writer, "_write_side", lambda *_: time.sleep(60))
    began = time.monotonic()
    code, out, err = run_cli("prepare", str(log), "--json")
    assert code == 0, err
    assert time.monotonic() - began < 30
    path = Path(json.loads(out)["store"])
    assert _prepared(path)
    assert digests(path) == _one_writer(log, tmp_path / "one", monkeypatch)
    assert not list(path.parent.glob(f".{path.name}.*"))


@sync
async def test_the_app_then_shows_every_view_from_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli("prepare", str(DEMO))
    assert code == 0, err
    monkeypatch.setattr(mc, "build_model", no_model)  # a prepared log needs no build for its views
    app = EvtxApp([str(DEMO)], prebuild=False)
    statuses: dict[str, str] = {}
    async with opened(app, (120, 40)) as pilot:
        for key, name in VIEWS:
            app.action_view(key)
            await wait_for(pilot, lambda: shown(app))
            statuses[name] = str(app.screen.query_one("#view-status").render())
        assert app.workspace.models.peek_model() is None
    assert statuses["processes"].startswith("2 computers, 6 root processes")
    assert statuses["handles"].startswith("2 handle duplications (4690)")
    assert statuses["sessions"].startswith("8 logon sessions on 2 computers")
    assert statuses["process_access"].startswith("2 process accesses")


@sync
async def test_quitting_before_a_big_logs_correlation_is_stored_says_how_to_store_it(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = EvtxApp([str(log)], prebuild=False)  # nothing stored: no view opened, no build ahead
    async with opened(app, (100, 30)):
        pass
    assert cmd_open.prepare_hint(app) is None  # a small log: its next open works it out in no time
    monkeypatch.setattr(cmd_open, "PREPARE_HINT_EVENTS", 0)
    assert cmd_open.prepare_hint(app) == cmd_open.PREPARE_HINT
    code, _, err = run_cli("prepare", str(log))
    assert code == 0, err
    app = EvtxApp([str(log)], prebuild=False)
    async with opened(app, (100, 30)):
        pass
    assert cmd_open.prepare_hint(app) is None


#: Holds the correlation tables' lock of the database argv[1] (as another app or prepare writing
#: them would) for argv[2] seconds, after printing that it does.
_OTHER_WRITER = """
import sys, time
from pathlib import Path
from core.store.cache_lock import tables_writer
with tables_writer(Path(sys.argv[1])) as mine:
    print(mine, flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _other_writer(db: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _OTHER_WRITER, str(db), str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    return proc


def test_one_process_writes_a_logs_tables_at_a_time(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers of the same tables (an app open on the log and `prepare`) would interleave
    their deletes and chunks, and one could tag a view it holds only part of: the tables have a
    lock, taken again freely by the process that holds it; prepare waits for the other writer,
    then finds the tables written or writes them itself, and gives up after its bound."""
    path = _cached(log)
    with cache_lock.tables_writer(path) as mine, cache_lock.tables_writer(path) as again:
        assert mine and again  # nested in one process (prepare's writing steps)
    other = _other_writer(path, 60)
    try:
        with cache_lock.tables_writer(path) as mine:
            assert not mine
        assert not ModelCache().stored_view(path, True, "processes", BUILDERS, wait=True)  # the app's: none written
        monkeypatch.setattr(mc, "OTHER_WRITER_S", 0.5)
        monkeypatch.setattr(mc, "_OTHER_WRITER_POLL_S", 0.05)
        code, _, err = run_cli("prepare", str(log))
        assert code == 5 and "another evtx-explorer kept writing them" in err
    finally:
        other.kill()
        other.wait()
    assert not _prepared(path)
    other = _other_writer(path, 1.0)
    try:
        monkeypatch.setattr(mc, "OTHER_WRITER_S", 60.0)
        began = time.monotonic()
        code, _, err = run_cli("prepare", str(log))
        assert code == 0, err
        assert time.monotonic() - began >= 0.5  # it waited for the other one's end
    finally:
        other.kill()
        other.wait()
    assert _prepared(path)
    assert cache_lock.tables_lock_path(path).exists()
    assert run_cli("cache", "--clear")[0] == 0
    assert not path.exists() and not cache_lock.tables_lock_path(path).exists()  # gone with its database

