"""Hostile rules files (`--rules FILE` or the config dir's rules.toml): nesting past tomllib's
recursion, numbers past Python's digit limit, time zone names that are folders or paths, working
hours with a UTC offset, EventIDs past 16 bits are a bad rules file (status 2, one line naming
the file, before any log loads), never a traceback; and a time no calendar holds in the rule's
zone is flagged by the working-hours rule, not a crash of the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.findings.rules import RulesError, load_rules
from tests.cliutil import run_cli
from tests.findings.rule_events import USER_RUNDLL, ev, fired, with_rules

HOURS = "[rules.outside-working-hours]\nenabled = true\n"
RESTRICTED = "[rules.image-in-restricted-folder]\n"
#: (rules text, line, words of the reason): each once made the load raise something else.
HOSTILE: dict[str, tuple[str, int | None, str]] = {
    "deep": ("x = " + "[" * 50_000 + "]" * 50_000 + "\n", None, "TOML nested too deep"),
    "long number": (RESTRICTED + "event_ids = [" + "9" * 5000 + "]\n", 2, "a number too long to read"),
    "zone folder": (HOURS + 'timezone = "America"\n', 3, "unknown time zone 'America'"),
    "zone path": (HOURS + 'timezone = "../../etc/passwd"\n', 3, "unknown time zone"),
    "zone not a zone file": (HOURS + 'timezone = "zone.tab"\n', 3, "unknown time zone 'zone.tab'"),
    "zone empty": (HOURS + 'timezone = ""\n', 3, "unknown time zone ''"),
    "zone NUL": (HOURS + 'timezone = "UTC\\u0000"\n', 3, "unknown time zone"),
    "zone too long": (HOURS + f'timezone = "{"x" * 5000}"\n', 3, "unknown time zone"),
    "offset": (HOURS + 'start = "08:00:00.123456+05:00"\nend = "07:00"\n', 3, "has a UTC offset"),
    "Z": (HOURS + 'end = "19:00Z"\n', 3, "has a UTC offset"),
    "EventID past 16 bits": (RESTRICTED + "event_ids = [4688, 70000]\n", 2, "EventID 70000 out of range (0-65535)"),
    "negative EventID": (RESTRICTED + "event_ids = [-1]\n", 2, "EventID -1 out of range"),
    "hex EventID": (RESTRICTED + "event_ids = [0x" + "f" * 5000 + "]\n", 2, "EventID <too large to show> out of"),
    "hex in a list of strings": ("[rules.uac-disabled]\nexclude_accounts = [0x" + "f" * 5000 + "]\n", 2,
                                 "must be a list of strings, not list <too large to show>"),
    "deep regex": ("[rules.account-naming-convention]\npattern = '" + "(" * 5000 + ")" * 5000 + "\\1'\n", 2,
                   "regular expression nested too deep"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_rules_file_is_refused_with_its_reason(tmp_path: Path, name: str) -> None:
    text, line, reason = HOSTILE[name]
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert (info.value.line, info.value.path) == (line, str(path)), str(info.value)
    assert reason in info.value.reason
    assert len(str(info.value)) < 800 and "\n" not in str(info.value)


def test_times_without_an_offset_are_taken_in_every_form() -> None:
    """Seconds, a fraction and TOML's own local times are fine: only an offset is refused."""
    rules = with_rules(HOURS + 'start = "08:00:00.123456"\nend = 17:30:00.5\n')
    rule = rules.get("outside-working-hours")
    assert f"{rule.get('start')}-{rule.get('end')}" == "08:00:00.123456-17:30:00.500000"
    assert "outside-working-hours" in fired(ev(USER_RUNDLL, time="2015-11-12T18:00:00Z"), rules)
    assert "outside-working-hours" not in fired(ev(USER_RUNDLL, time="2015-11-12T09:00:00Z"), rules)


def test_a_time_past_the_calendar_of_the_zone_is_flagged_not_a_crash() -> None:
    """9999-12-31 23:59 UTC is already next year in Kiritimati (UTC+14): no date holds it."""
    rules = with_rules(HOURS + 'timezone = "Pacific/Kiritimati"\n')
    found = fired(ev(USER_RUNDLL, time="9999-12-31T23:59:59Z"), rules)
    assert "no date in Pacific/Kiritimati, outside working hours" in found["outside-working-hours"].message


@pytest.mark.parametrize("name", ["deep", "long number", "zone folder", "offset"])
@pytest.mark.parametrize(("command", "where"), [("findings", "--rules"), ("findings", "config dir"),
                                                ("prepare", "config dir")])  # (prepare has no --rules)
def test_the_cli_says_bad_rules_file_before_any_log_loads(tmp_path: Path, name: str, command: str,
                                                           where: str) -> None:
    path = tmp_path / "mine.toml"
    if where == "config dir":
        path = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "rules.toml"
    path.write_text(HOSTILE[name][0], encoding="utf-8")
    log = tmp_path / "Security.evtx"  # not there: the rules are refused before it is looked for
    status, out, err = run_cli(command, str(log), *(["--rules", str(path)] if where == "--rules" else []))
    assert status == 2 and out == ""
    assert err.startswith(f"evtx-explorer {command}: bad rules file: {path}") and err.count("\n") == 1, err
    assert HOSTILE[name][2] in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_file_of_many_entries_loads_in_time(tmp_path: Path) -> None:
    """Every key of every entry was located by scanning the whole text again: 10,000 entries (the
    most a list takes) took over a minute; then a bad key in the last one is still placed."""
    import time

    entry = "[[rules.restricted-computer.restricted]]\ncomputers = ['X']\naccounts = ['y']\n"
    path = tmp_path / "rules.toml"
    path.write_text(entry * 10_000, encoding="utf-8")
    began = time.monotonic()
    assert len(load_rules(path).get("restricted-computer").entries("restricted")) == 10_000
    path.write_text(entry * 9_999 + entry.replace("accounts", "acounts"), encoding="utf-8")
    with pytest.raises(RulesError, match="unknown key 'acounts'") as info:
        load_rules(path)
    assert info.value.line == 30_000
    assert time.monotonic() - began < 10
