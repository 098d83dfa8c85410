"""`--sigma` naming a FIFO or /dev/zero (neither a folder nor a regular file) printed "Sigma: 0
rules", status 0, and nothing of the path: it is now a file that did not load, named with its
reason, as such a file inside a rules folder is (and so is a path gone meanwhile)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.findings.sigma.ruleset import load_rules, rule_files
from tests.cliutil import run_cli
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "rules.fifo"
    os.mkfifo(path)
    return path


def test_a_fifo_or_a_device_named_as_rules_is_said(fifo: Path, tmp_path: Path) -> None:
    zero = tmp_path / "zero.yml"
    zero.symlink_to("/dev/zero")
    began = time.monotonic()
    loaded = load_rules([fifo, Path("/dev/zero"), zero], cache=False)
    assert time.monotonic() - began < 10  # (never read: a FIFO nobody writes would hang)
    assert loaded.errors == [(str(fifo), "not a regular file or a folder"),
                             ("/dev/zero", "not a regular file or a folder"),
                             (str(zero), "not a regular file or a folder")]
    assert loaded.rules == []


def test_a_path_gone_is_said_and_the_other_folders_still_load(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    gone = tmp_path / "gone"
    problems: list[tuple[str, str]] = []
    assert rule_files([gone, rules], problems) == [rules / "cleared.yml"]
    assert problems == [(str(gone), "No such file or directory")]
    loaded = load_rules([gone, rules], cache=False)
    assert [m.title for m, _ in loaded.rules] == ["Security Log Cleared"]
    assert loaded.errors == [(str(gone), "No such file or directory")]


def test_a_folder_that_cannot_be_read_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Tests may run as root, whom no permission stops: the listing is made to fail.)"""
    real = os.scandir

    def refusing(path: str) -> object:
        if Path(path) == tmp_path:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", refusing)
    problems: list[tuple[str, str]] = []
    assert rule_files([tmp_path], problems) == []
    assert problems == [(str(tmp_path), "cannot read this folder: Permission denied")]


def test_the_cli_names_the_fifo(fifo: Path, tmp_path: Path) -> None:
    log = write_events(tmp_path / "log.xml", [event_xml(1102, 1, "2024-01-01T00:00:00Z", {})])
    code, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(fifo))
    assert code == 0 and f"not loaded: {fifo}: not a regular file or a folder" in out
    code, out, _ = run_cli("rules", "check", str(fifo))
    assert code == 1 and f"not loaded: {fifo}: not a regular file or a folder" in out
