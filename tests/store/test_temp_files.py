"""Temp files of an export, a case save or a private store, left by a `kill -9`, are removed at
the next start; those of a live process never are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core.report.export import write_atomically
from core.store.cache import open_inputs
from tests.shared import sample

ROOT = Path(__file__).resolve().parents[2]

_SLOW_EXPORT = """
import sys, time
from core.report.export import write_atomically
def fill(fh):
    fh.write("x" * 1_000_000)
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
    return 1
write_atomically(sys.argv[1], fill)
"""


def _export_killed_mid_write(target: Path, prefix: str | None = None) -> list[Path]:
    """Start an export to `target`, kill -9 it while it writes: the hidden files it left (those
    named `prefix...`, default `.{target's name}.`)."""
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(target)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    with proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return [p for p in target.parent.iterdir() if p.name.startswith(prefix or f".{target.name}.")]


def test_an_export_killed_mid_write_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "view.csv"
    left = _export_killed_mid_write(target)
    assert len(left) == 1 and left[0].stat().st_size >= 1_000_000  # the hidden partial export
    assert not target.exists()
    write_atomically(target, lambda fh: fh.write("a,b\n") and 1)
    assert target.read_text() == "a,b\n"
    assert sorted(p.name for p in out.iterdir()) == ["view.csv"]


@pytest.mark.parametrize("name", ["a" * 250 + ".csv", "\u00e9" * 125 + ".md"])
def test_a_target_named_near_the_limit_is_written_and_its_leftovers_swept(name: str, tmp_path: Path) -> None:
    """A 254-byte name is a legal file name, but its temp file's (`.{name}.evtx-explorer-...part`)
    was too long: the export failed naming the temp file. The temp name holds a part of it."""
    out = tmp_path / "out"
    out.mkdir()
    target = out / name
    left = [p for p in _export_killed_mid_write(target, prefix=".") if p.name.endswith(".part")]
    assert len(left) == 1 and len(left[0].name.encode()) < 255
    write_atomically(target, lambda fh: fh.write("a,b\n") and 1)
    assert target.read_text() == "a,b\n"
    assert [p.name for p in out.iterdir()] == [name]  # the killed one's temp file swept


def test_a_running_exports_temp_file_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "view.csv"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(target)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    with proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "writing"
            write_atomically(tmp_path / "other.csv", lambda fh: fh.write("x\n") and 1)
            write_atomically(target, lambda fh: fh.write("y\n") and 1, overwrite=True)
            live = [p for p in tmp_path.iterdir() if p.name.startswith(".view.csv.")]
            assert len(live) == 1, "the temp file of a running export was removed"
        finally:
            proc.kill()


def test_a_private_store_of_a_killed_run_is_removed_at_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--no-cache` (and a build that could not use the cache) writes a whole database into
    the temp dir: a killed run's stays there no more."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    log = str(sample("evtx/parsers/omerbenamram__samples__system.evtx"))
    code = ("import os, sys\nfrom core.store.cache import open_inputs\n"
            "s = open_inputs([sys.argv[1]], use_cache=False, jobs=1)\n"
            "print(s.path, flush=True)\nos.kill(os.getpid(), 9)\n")
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    done = subprocess.run([sys.executable, "-c", code, log], cwd=ROOT, env=env, capture_output=True, text=True)
    left = Path(done.stdout.strip())
    assert left.exists() and left.stat().st_size > 100_000
    time.sleep(0.01)
    open_inputs([log], jobs=1).close()  # the next start
    assert not left.parent.exists()
    assert list((tmp_path / "tmp").iterdir()) == []
