"""The findings rules file (TOML): built-in defaults, the user's file, overrides key by key, and
bad files refused with their line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.findings.rules import SPECS, RulesError, load_rules
from tests.findings.rule_events import defaults, with_rules


@pytest.fixture()
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user config directory not made yet (the tests write their own rules.toml into it)."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(cfg))
    return cfg


# -- the rules file ---------------------------------------------------------------------------


def test_defaults_load_and_cover_every_rule() -> None:
    rules = defaults()
    assert [r.id for r in rules.rules] == list(SPECS)
    assert rules.sources == ("built-in",)
    assert all(r.title and r.severity in ("info", "low", "medium", "high", "critical") for r in rules.rules)
    assert "mimikatz" in rules.get("restricted-substring").strs("substrings")
    assert "cain.exe" in rules.get("restricted-substring").strs("substrings")


def test_user_config_file_is_used_when_no_rules_option(_no_user_config: Path, tmp_path: Path) -> None:
    _no_user_config.mkdir()
    (_no_user_config / "rules.toml").write_text("[rules.local-account-process]\nseverity = 'critical'\n")
    rules = load_rules(None)
    assert rules.get("local-account-process").severity == "critical"
    assert rules.sources == ("built-in", str(_no_user_config / "rules.toml"))
    explicit = tmp_path / "mine.toml"
    explicit.write_text("[rules.local-account-process]\nseverity = 'info'\n")
    assert load_rules(explicit).get("local-account-process").severity == "info"


def test_override_is_key_by_key() -> None:
    rules = with_rules("[rules.restricted-substring]\nseverity = 'critical'\n")
    rule = rules.get("restricted-substring")
    assert rule.severity == "critical" and "mimikatz" in rule.strs("substrings")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("[rules.uac-disabled]\nseverity = 'high\n", 2, "TOML syntax error"),
        ("[rules.uac-disabled]\nseverity = = 'high'\n", 2, "TOML syntax error: Invalid value (column 12)"),
        ("[rules.uac-disabled]\nseverity = 'high'\nseverty = 'low'\n", 3, "unknown key 'severty'"),
        ("# mine\n\n[rules.uac-disabld]\nseverity = 'high'\n", 3, "unknown rule 'uac-disabld'"),
        ("[rules.high-value-account]\naccounts = 'Administrator'\n", 2, "must be a list"),
        ("[rules.restricted-substring]\n\nsubstrings = ['a', 1]\n", 3, "a list of strings"),
        ("[rules.uac-disabled]\nenabled = 'yes'\n", 2, "must be true or false"),
        ("[rules.uac-disabled]\nseverity = 'urgent'\n", 2, "one of info, low, medium, high, critical"),
        ("[rules.account-naming-convention]\npattern = '[a-z'\n", 2, "bad regular expression '[a-z'"),
        ("[rules.outside-working-hours]\ntimezone = 'Mars/Olympus'\n", 2, "unknown time zone"),
        ("[rules.outside-working-hours]\nstart = '25:00'\n", 2, 'a time "HH:MM"'),
        ("[rules.foreign-domain-account]\naccount_types = ['human']\n", 2, "unknown account type 'human'"),
        ("[rules.local-account-process]\nevent_ids = ['4688']\n", 2, "a list of integers"),
        ("title = 'x'\n", 1, "unknown top-level key 'title'"),
        (
            "[[rules.restricted-computer.restricted]]\ncomputers = ['X']\nacounts = ['y']\n",
            3,
            "unknown key 'acounts'",
        ),
        ("[[rules.restricted-computer.restricted]]\ncomputers = ['X']\n", 1, "lacks accounts"),
    ],
)
def test_bad_rules_files_are_refused_with_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_unreadable_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.toml")


@pytest.mark.parametrize("kind", ["an endless device", "too big"])
def test_a_rules_file_that_is_no_small_regular_file_is_refused_at_once(kind: str, tmp_path: Path) -> None:
    """`--rules /dev/zero` filled the memory."""
    import time

    path = Path("/dev/zero") if kind == "an endless device" else tmp_path / "rules.toml"
    if kind == "too big":
        path.write_text("# " + "x" * (4 * 1024 * 1024) + "\n", encoding="utf-8")
    began = time.monotonic()
    with pytest.raises(RulesError, match=r"cannot read rules file: (not a regular file or a pipe|larger than)"):
        load_rules(path)
    assert time.monotonic() - began < 5


def test_a_rules_file_from_a_pipe(tmp_path: Path) -> None:
    """`--rules <(sed ... rules.toml)` (a pipe) is read; a named pipe nobody writes to reads as
    empty at once (it waited forever for a writer)."""
    import os
    import threading
    import time

    fifo = tmp_path / "rules.fifo"
    os.mkfifo(fifo)
    began = time.monotonic()
    assert load_rules(fifo).sources[-1] == str(fifo)  # nothing in it: the defaults
    assert time.monotonic() - began < 5
    read, write = os.pipe()
    def feed() -> None:
        os.write(write, b"[rules.nope]\n")
        os.close(write)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with pytest.raises(RulesError, match="unknown rule 'nope'"):
            load_rules(f"/dev/fd/{read}")
    finally:
        writer.join(5)
        os.close(read)


def test_bad_user_config_file_is_refused_too(_no_user_config: Path) -> None:
    _no_user_config.mkdir()
    (_no_user_config / "rules.toml").write_text("[rules.nope]\n")
    with pytest.raises(RulesError, match="unknown rule 'nope'"):
        load_rules(None)
