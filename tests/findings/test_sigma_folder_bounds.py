"""A rules folder past its bounds says so: the files past MAX_FILES were dropped without a word
(`rules update` installed 50,000 rules, `findings` ran 20,000 and said nothing of the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.findings.sigma import ruleset


def test_rule_files_past_the_bound_are_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ruleset, "MAX_FILES", 3)
    for n in range(5):
        (tmp_path / f"r{n}.yml").write_text("title: x\n", encoding="utf-8")
    problems: list[tuple[str, str]] = []
    assert len(ruleset.rule_files([tmp_path], problems)) == 3
    assert problems == [(str(tmp_path), "more than 3 rule files: the first 3 are loaded, the rest are not")]


def test_exactly_the_bound_is_no_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ruleset, "MAX_FILES", 3)
    for n in range(3):
        (tmp_path / f"r{n}.yml").write_text("title: x\n", encoding="utf-8")
    problems: list[tuple[str, str]] = []
    assert len(ruleset.rule_files([tmp_path], problems)) == 3 and problems == []
