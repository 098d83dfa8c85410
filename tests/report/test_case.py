"""Marks and notes: persistence per set of inputs, robust identity, atomic durable saves."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.report.case import Case, default_case_path
from tests.report.case_logs import build_store, write_input

ROOT = Path(__file__).resolve().parents[2]

@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def test_marks_and_notes_come_back_for_the_same_inputs(tmp_path: Path) -> None:
    log = write_input(tmp_path)
    store = build_store(tmp_path / "a.sqlite", log)
    events = store.select()
    case = Case.for_inputs([str(log)])
    case.bind(store)
    assert case.toggle(events[1]) is True
    case.set_note(events[3], "dup of lsass handle?\nsecond line")
    assert case.path == default_case_path([str(log)])
    assert case.path.is_relative_to(tmp_path / "data" / "cases")

    again = Case.for_inputs([str(log)])
    assert again.warnings == []
    assert [(m.record_id, m.note) for m in again.marks()] == [
        (1002, ""), (1004, "dup of lsass handle?\nsecond line")]
    # Other inputs get their own (empty) case.
    other = write_input(tmp_path, "Other.xml")
    assert len(Case.for_inputs([str(other)])) == 0
    # Unmark and toggle off persist too.
    again.bind(store)
    assert again.toggle(events[1]) is False
    assert [m.record_id for m in Case.for_inputs([str(log)]).marks()] == [1004]


def test_explicit_case_file(tmp_path: Path) -> None:
    log = write_input(tmp_path)
    store = build_store(tmp_path / "a.sqlite", log)
    chosen = tmp_path / "my-case.json"
    case = Case.for_inputs([str(log)], chosen)
    case.bind(store)
    case.mark(store.select()[0])
    assert chosen.is_file()
    assert not (tmp_path / "data" / "cases").exists()
    assert len(Case.for_inputs([str(log)], chosen)) == 1


def test_a_case_file_that_is_a_link_or_no_regular_file(tmp_path: Path) -> None:
    """`--case` through a link saves into the file it names (the link stays); `--case /dev/null`
    or a named pipe keeps the marks for the session, says so, and never touches it (/dev/null was
    read as a damaged case and, on the first mark, moved aside and replaced by a file; a pipe's
    read never ended)."""
    log = write_input(tmp_path)
    store = build_store(tmp_path / "a.sqlite", log)
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    Case.for_inputs([str(log)], real).save()
    link.symlink_to(real)
    case = Case.for_inputs([str(log)], link)
    case.bind(store)
    case.mark(store.select()[0])
    assert link.is_symlink() and len(Case.for_inputs([str(log)], real)) == 1
    pipe = tmp_path / "case.fifo"
    os.mkfifo(pipe)
    master, slave = os.openpty()  # a character device (not /dev/null: a regression would move it)
    try:
        for special in (pipe, Path(os.ttyname(slave))):
            before = os.stat(special)
            case = Case.for_inputs([str(log)], special)  # (returns: nothing read from either)
            assert case.warnings == [f"case file {special} is not a regular file: marks are kept for this "
                                     "session only, not saved"]
            case.bind(store)
            case.mark(store.select()[0])
            assert len(case) == 1
            after = os.stat(special)
            assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
            with pytest.raises(OSError, match="not a regular file"):
                case.save()
        assert sorted(p.name for p in tmp_path.glob("case.fifo*")) == ["case.fifo"]
    finally:
        os.close(master)
        os.close(slave)


def test_marks_survive_a_cache_rebuild_that_renumbers_ids(tmp_path: Path) -> None:
    log = write_input(tmp_path)
    first = build_store(tmp_path / "a.sqlite", log)
    case = Case.for_inputs([str(log)])
    case.bind(first)
    target = next(se for se in first.select() if se.event.event_id == 4690)
    case.set_note(target, "look here")
    rebuilt = build_store(tmp_path / "b.sqlite", log, reverse=True)
    moved = next(se for se in rebuilt.select() if se.event.event_id == 4690)
    assert moved.id != target.id  # the rebuild renumbered it

    reopened = Case.for_inputs([str(log)])
    resolved = reopened.resolve(rebuilt)
    assert list(resolved) == [moved.id]
    assert resolved[moved.id].note == "look here"
    # The hinted id now points at a different event in the rebuilt store: it must not match.
    wrong = rebuilt.get(target.id)
    assert wrong is not None and wrong.event.event_id != 4690
    assert not reopened.is_marked(wrong)
    assert reopened.is_marked(moved)


def test_damaged_case_file_is_reported_and_backup_used(tmp_path: Path) -> None:
    log = write_input(tmp_path)
    store = build_store(tmp_path / "a.sqlite", log)
    case = Case.for_inputs([str(log)])
    case.bind(store)
    evs = store.select()
    case.mark(evs[0])
    case.mark(evs[1])  # the .bak now holds the one-mark version
    path = case.path
    assert json.loads(path.with_name(path.name + ".bak").read_text())["count"] == 1
    path.write_bytes(path.read_bytes()[:40])  # torn by something else

    damaged = Case.for_inputs([str(log)])
    assert len(damaged) == 1
    assert any("damaged" in w and ".bak" in w for w in damaged.warnings)
    assert path.read_bytes().startswith(b"{")  # not replaced on opening
    damaged.bind(store)
    damaged.mark(evs[2])
    kept = list(tmp_path.glob("data/cases/*.damaged-*"))
    assert len(kept) == 1 and len(kept[0].read_bytes()) == 40
    assert len(Case.for_inputs([str(log)]).marks()) == 2


def test_not_a_case_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"format": "something-else", "marks": []}))
    case = Case.open(bad)
    assert len(case) == 0
    assert case.warnings and "not an evtx-explorer case file" in case.warnings[0]
    wrong_types = tmp_path / "d.json"
    wrong_types.write_text(json.dumps({"format": "evtx-explorer-case", "version": 1,
                                       "marks": [{"event_id": "4688"}]}))
    assert "not an integer" in Case.open(wrong_types).warnings[0]


_SAVER = r"""
import sys
from pathlib import Path
from core.report.case import Case, Mark

path, n = Path(sys.argv[1]), int(sys.argv[2])
case = Case(path, inputs=["Security.evtx"], autosave=False)
gen = int(sys.argv[3])
while True:
    gen += 1
    for i in range(n):
        m = Mark("Security.evtx", 0, i, 4688, "WS01", 130_000_000_000_000_000 + i, i)
        case.set_note(m, f"gen {gen} " + "x" * 4000)
    print(gen, flush=True)
    case.save()
"""


def _check_complete(path: Path, n: int) -> int:
    doc = json.loads(path.read_text(encoding="utf-8"))
    notes = {m["note"].split()[1] for m in doc["marks"]}
    assert doc["count"] == n and len(doc["marks"]) == n
    assert len(notes) == 1, f"a mix of versions: {sorted(notes)[:5]}"
    return int(notes.pop())


def test_kill_mid_write_leaves_a_complete_case(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    n = 300
    rng = random.Random(7)
    last_gen = 0
    leftovers = 0
    kills = 25
    for i in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), str(n), str(last_gen)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(rng.randint(2, 3)):  # the line comes just before a save starts
            proc.stdout.readline()
        if i % 2:
            time.sleep(rng.uniform(0.0, 0.03))  # somewhere in (or around) that save
        else:  # as soon as its temp file appears: in the middle of writing it
            deadline = time.monotonic() + 2.0
            while not any(tmp_path.glob(".case.json.*")) and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.003))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        gen = _check_complete(path, n)
        assert gen >= last_gen
        last_gen = gen
        bak = path.with_name(path.name + ".bak")
        if bak.exists():
            assert _check_complete(bak, n) <= gen
        # A temp file a kill left behind (proof the kill landed mid-write) goes at the next open.
        leftovers += any(tmp_path.glob(".case.json.*"))
        case = Case.open(path)
        assert case.warnings == [] and len(case) == n
        assert not list(tmp_path.glob(".case.json.*")), "a killed save's temp file outlived the next open"
    assert leftovers >= 1, "no kill landed during a write: the test did not exercise anything"


def test_marks_found_when_reopened_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write_input(tmp_path)
    monkeypatch.chdir(tmp_path)
    store = build_store(tmp_path / "a.sqlite", Path("Security.xml"))  # the cache keeps the name as typed
    case = Case.for_inputs(["Security.xml"])
    case.bind(store)
    se = store.select()[2]
    case.mark(se)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = Case.for_inputs([str(log)])  # same file, same case (keyed by identity)
    again.bind(store)
    assert again.is_marked(se)
    assert again.toggle(se) is False  # unmarks it rather than marking it twice
    assert len(again) == 0
