"""Findings through the CLI (JSON, a terminal-safe table, a rules option, an unreadable input
among good ones) and on the real attack logs of ../shared/samples."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.findings.engine import run_findings
from core.findings.rules import SPECS
from core.model.command_line import decoded_command_line
from core.model.event import Event, ParseIssue
from core.store.store import StoredEvent
from tests.cliutil import run_cli
from tests.findings.rule_events import SYSTEM_SVCHOST, T0, USER_RUNDLL, defaults

# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture()
def attack_log(tmp_path: Path) -> Path:
    from tests.logs import event_xml, write_events

    return write_events(
        tmp_path / "sec.xml",
        [
            event_xml(4688, 2814, T0, SYSTEM_SVCHOST),
            event_xml(
                4688,
                2815,
                "2015-11-12T02:25:00Z",
                {
                    **USER_RUNDLL,
                    "NewProcessName": "C:\\Users\\dadmin\\Downloads\\mimikatz.exe",
                    "CommandLine": "mimikatz.exe \x1b[31m sekurlsa::logonpasswords",
                },
            ),
            event_xml(4624, 2816, "2015-11-12T02:26:00Z", {"TargetUserName": "bob", "LogonType": "2"}),
        ],
    )


def test_cli_findings_json(attack_log: Path) -> None:
    status, out, err = run_cli("findings", "--json", str(attack_log))
    assert status == 0, err
    found = json.loads(out)
    assert {f["rule"] for f in found} == {
        "image-outside-standard-folders",
        "image-in-restricted-folder",
        "restricted-substring",
    }
    for f in found:
        assert set(f) == {"rule", "severity", "record_id", "event_id", "computer", "time", "message", "engine", "file"}
        assert f["engine"] == "built-in" and f["file"] == str(attack_log)
        assert f["record_id"] == 2815 and f["event_id"] == 4688 and f["computer"] == "WS01.contoso.local"
        assert f["time"] == "2015-11-12T02:25:00.0000000Z"
    (sub,) = [f for f in found if f["rule"] == "restricted-substring"]
    assert sub["severity"] == "high" and "'mimikatz', 'sekurlsa::'" in sub["message"]


def test_cli_findings_table_is_terminal_safe(attack_log: Path) -> None:
    status, out, _ = run_cli("findings", str(attack_log))
    assert status == 0
    assert "\x1b" not in out
    assert "3 finding(s):" in out and "restricted-substring" in out


def test_cli_rules_option_and_bad_rules_file(attack_log: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        "[rules.image-outside-standard-folders]\nenabled = false\n[rules.image-in-restricted-folder]\nenabled = false\n"
    )
    status, out, _ = run_cli("findings", "--json", "--rules", str(good), str(attack_log))
    assert status == 0 and [f["rule"] for f in json.loads(out)] == ["restricted-substring"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.restricted-substring]\nsubstrings = [\n")
    status, out, err = run_cli("findings", "--json", "--rules", str(bad), str(attack_log))
    assert status == 2 and out == ""
    assert f"{bad}:2: TOML syntax error" in err


def test_cli_unreadable_input_exit_1_others_processed(attack_log: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    status, out, err = run_cli("findings", "--json", "--no-cache", str(empty), str(attack_log))
    assert status == 1
    assert "empty.evtx" in err
    assert any(f["rule"] == "restricted-substring" for f in json.loads(out))


# -- real logs --------------------------------------------------------------------------------


def _load_real(path: Path) -> list[StoredEvent]:
    iter_events: Callable[[str, int], Iterator[Event | ParseIssue]]
    try:
        from parsers.evtx import iter_events
    except ImportError:
        from parsers.evtx.reference import iter_events
    events = [e for e in iter_events(str(path), 0) if isinstance(e, Event)]
    events.sort(key=lambda e: (e.filetime or 0, e.record_id or 0))
    return [StoredEvent(i, e) for i, e in enumerate(events)]


def _attack_4688_paths() -> list[str]:
    from tests.shared import SAMPLES

    manifest_file = SAMPLES / "MANIFEST.tsv"
    if not manifest_file.is_file():
        return ["<../shared missing>"]
    import csv

    with manifest_file.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    try:
        import parsers.evtx  # noqa: F401  (the fast loader: every attack log is affordable)

        fast = True
    except ImportError:
        fast = False  # the reference loader runs ~300 records/s: only the logs with 4688s
    return [
        r["path"]
        for r in rows
        if r["path"].startswith("evtx/attack/") and (fast or "4688" in json.loads(r["event_ids"] or "{}"))
    ]


@pytest.mark.slow
@pytest.mark.parametrize("relpath", _attack_4688_paths())
def test_findings_run_on_real_attack_logs(relpath: str) -> None:
    from tests.shared import sample

    stored = _load_real(sample(relpath))
    found = run_findings(stored, defaults())
    by_id = {s.id: s.event for s in stored}
    for f in found:
        assert f.rule in SPECS and f.message
        assert by_id[f.store_id].event_id == f.event_id
    if "mimikatz" in relpath.lower():
        flagged = {f.store_id for f in found if f.rule == "restricted-substring"}
        for s in stored:
            e = s.event
            if e.event_id != 4688:
                continue
            text = " ".join(e.get(k) or "" for k in ("NewProcessName", "ParentProcessName", "CommandLine"))
            text += " ".join(payload for _, payload in decoded_command_line(e.get("CommandLine") or ""))
            if "mimikatz" in text.lower():
                assert s.id in flagged, e.record_id


@pytest.mark.slow
def test_obfuscated_mimikatz_in_real_log_is_found() -> None:
    """CrackMapExec spells Invoke-Mimikatz as character codes; the rule still names it."""
    from tests.shared import sample

    rel = (
        "evtx/attack/TA0005-Defense Evasion__T1027-Obfuscated Files or Information__"
        "4624,4674,4688- CrackMap Exec SMB mimikatz.evtx"
    )
    found = [f for f in run_findings(_load_real(sample(rel)), defaults()) if f.rule == "restricted-substring"]
    assert len(found) == 2
    assert all("'mimikatz'" in f.message and "decoded from character codes" in f.message for f in found)
    assert {f.computer for f in found} == {"fs03vuln.offsec.lan"}
