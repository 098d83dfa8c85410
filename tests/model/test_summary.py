"""The one-line summaries of the event table (core.model.summary)."""

from __future__ import annotations

from core.model.event import Event
from core.model.summary import basename, event_image, event_user, fallback, short_hex, summarize


def ev(event_id: int, provider: str = "Microsoft-Windows-Security-Auditing", **data: str) -> Event:
    return Event(source=0, record_number=1, record_id=1, filetime=None, event_id=event_id, provider=provider,
                 channel="Security", data=tuple(data.items()))


def test_4688_parent_child_and_pid() -> None:
    e = ev(4688, ParentProcessName="C:\\Windows\\explorer.exe", NewProcessName="C:\\Windows\\System32\\cmd.exe",
           NewProcessId="0x0000000000001a2c", ProcessId="0x2bc", SubjectUserName="dadmin")
    assert summarize(e) == "explorer.exe -> cmd.exe (0x1a2c)"
    assert event_image(e) == "cmd.exe"
    assert event_user(e) == "dadmin"


def test_4688_without_parent_name_uses_pid_and_adds_command_line() -> None:
    e = ev(4688, NewProcessName="C:\\x\\a.exe", NewProcessId="6700", ProcessId="0x2bc", CommandLine="a.exe  -x\n-y")
    assert summarize(e) == "pid 0x2bc -> a.exe (0x1a2c): a.exe -x -y"


def test_4690_handle_duplication() -> None:
    e = ev(4690, SourceHandleId="0x438", SourceProcessId="0x2bc", TargetProcessId="0x4", TargetHandleId="0xd9c")
    assert summarize(e) == "handle 0x438 of 0x2bc duplicated into 0x4 as 0xd9c"


def test_logons() -> None:
    assert summarize(ev(4624, TargetUserName="dadmin", LogonType="2", IpAddress="127.0.0.1")) == (
        "dadmin logon type 2 Interactive from 127.0.0.1"
    )
    assert summarize(ev(4624, TargetUserName="svc", LogonType="5", IpAddress="-")) == "svc logon type 5 Service"
    assert summarize(ev(4625, TargetUserName="bob", LogonType="3", IpAddress="10.0.0.9", Status="0xc000006d",
                        SubStatus="0xC000006A")) == (
        "failed logon bob type 3 Network from 10.0.0.9: bad password (0xc000006a)")
    assert summarize(ev(4634, TargetUserName="bob", TargetLogonId="0x5a3c1")) == "bob logoff (0x5a3c1)"


def test_object_access_and_exit() -> None:
    common = {"ProcessName": "C:\\Windows\\System32\\lsass.exe", "HandleId": "0x438", "ProcessId": "0x2bc"}
    assert summarize(ev(4656, ObjectType="File", ObjectName="C:\\secret.txt", **common)) == (
        "lsass.exe requested handle 0x438 to File C:\\secret.txt"
    )
    assert summarize(ev(4663, ObjectType="File", ObjectName="C:\\s", AccessMask="0x1", **common)) == (
        "lsass.exe accessed File C:\\s via handle 0x438: ReadData/ListDirectory"
    )
    assert summarize(ev(4658, **common)) == "handle 0x438 closed by lsass.exe"
    assert summarize(ev(4689, ProcessName="C:\\a\\b.exe", ProcessId="0x1e0c", Status="0x0")) == (
        "b.exe (0x1e0c) exited status 0x0"
    )


def test_other_types() -> None:
    assert summarize(ev(4672, SubjectUserName="alice", PrivilegeList="SeDebugPrivilege\n\t\t\tSeTcbPrivilege")) == (
        "special privileges for alice: SeDebugPrivilege SeTcbPrivilege"
    )
    assert summarize(ev(7045, "Service Control Manager", ServiceName="evil", ImagePath="C:\\e.exe")) == (
        "service installed: evil (C:\\e.exe)")
    assert summarize(ev(7045, ServiceName="evil")) == "ServiceName=evil"  # 7045 of another provider
    assert summarize(ev(4648, SubjectUserName="a", TargetUserName="b", TargetServerName="srv",
                        ProcessName="C:\\x\\runas.exe")) == "a used explicit credentials of b for srv (runas.exe)"
    assert summarize(ev(4104, provider="Microsoft-Windows-PowerShell", ScriptBlockText="iex\n(x)")) == (
        "script block: iex (x)"
    )


def test_sysmon_process_create_is_not_confused_with_security_ids() -> None:
    e = ev(1, provider="Microsoft-Windows-Sysmon", ParentImage="C:\\p.exe", Image="C:\\c.exe", ProcessId="42",
           CommandLine="c.exe /q")
    assert summarize(e) == "p.exe -> c.exe (42): c.exe /q"
    assert summarize(ev(3, provider="Microsoft-Windows-Sysmon", Image="C:\\n.exe", DestinationIp="1.2.3.4",
                        DestinationPort="443")) == "n.exe -> 1.2.3.4:443"


def test_unknown_types_fall_back_to_key_fields() -> None:
    e = ev(5999, ShareName="\\\\*\\C$", IpAddress="-", SubjectUserName="bob", ObjectType="File", Extra="1")
    assert summarize(e) == "ShareName=\\\\*\\C$ SubjectUserName=bob ObjectType=File Extra=1"
    assert fallback(ev(1)) == ""


def test_bounded_and_robust() -> None:
    e = ev(4688, NewProcessName="x" * 100_000, CommandLine="y" * 100_000)
    assert len(summarize(e)) <= 400
    assert summarize(ev(4690)) == "handle ? of ? duplicated into ? as ?"
    assert basename('"C:\\Program Files\\a b.exe"') == "a b.exe"
    assert short_hex("0xffffffffffffffff") == "0xffffffffffffffff"


# -- issue 15: the events triage lives on read themselves -----------------------------------------

SYSMON = "Microsoft-Windows-Sysmon"
DEFENDER = "Microsoft-Windows-Windows Defender"
PS = "Microsoft-Windows-PowerShell"


def test_logons_name_type_source_workstation_and_package() -> None:
    e = ev(4624, SubjectUserName="WS01$", TargetUserName="bob", LogonType="3", IpAddress="::ffff:10.0.0.9",
           WorkstationName="WS02", AuthenticationPackageName="NTLM", LmPackageName="NTLM V1")
    assert summarize(e) == "bob logon type 3 Network from 10.0.0.9 (WS02) via NTLM V1"
    assert event_user(e) == "bob"  # the account logging on, not the machine account
    e = ev(4625, SubjectUserName="-", TargetUserName="admin", LogonType="10", IpAddress="1.2.3.4", Status="0xc000006e",
           SubStatus="0x0", AuthenticationPackageName="Negotiate")
    assert summarize(e) == "failed logon admin type 10 RemoteInteractive from 1.2.3.4 via Negotiate: " \
        "account restriction (0xc000006e)"
    assert event_user(e) == "admin"


def test_kerberos_and_ntlm_decode_status_options_and_encryption() -> None:
    e = ev(4768, TargetUserName="test1", Status="0x00000006", TicketOptions="0x50800000", IpAddress="::ffff:10.2.3.4",
           TicketEncryptionType="0xffffffff")
    assert summarize(e) == ("Kerberos TGT for test1 from 10.2.3.4: unknown user (0x6), "
                            "options Forwardable, Proxiable, Renewable")
    e = ev(4769, TargetUserName="bob@CORP", ServiceName="MSSQLSvc/db01", Status="0x0", TicketEncryptionType="0x17",
           TicketOptions="0x40810000", IpAddress="10.0.0.5")
    assert summarize(e) == ("Kerberos service ticket MSSQLSvc/db01 for bob@CORP from 10.0.0.5: ok (0x0), RC4, "
                            "options Forwardable, Renewable, Canonicalize")
    e = ev(4771, TargetUserName="admin-hacker", Status="0x18", IpAddress="::ffff:10.23.123.11")
    assert summarize(e) == ("Kerberos pre-auth failed for admin-hacker from 10.23.123.11: "
                            "bad password (pre-auth failed) (0x18)")
    e = ev(4776, TargetUserName="bob", Workstation="WS02", Status="0xC0000064")
    assert summarize(e) == "NTLM validation of bob from WS02: unknown user (0xc0000064)"
    assert event_user(e) == "bob"


def test_group_and_account_changes_name_the_actor_and_put_the_target_in_the_summary() -> None:
    common = {"SubjectUserName": "admmig", "TargetUserName": "Domain Admins", "TargetSid": "S-1-5-21-1-2-3-512"}
    e = ev(4728, MemberName="CN=bob,OU=Users,DC=corp,DC=lan", MemberSid="S-1-5-21-1-2-3-1159", **common)
    assert summarize(e) == "admmig added bob to global group Domain Admins"
    assert event_user(e) == "admmig"  # not the group
    e = ev(4732, MemberName="-", MemberSid="S-1-5-21-9-9-9-1001", SubjectUserName="admmig", TargetUserName="Users")
    assert summarize(e) == "admmig added S-1-5-21-9-9-9-1001 to local group Users"
    e = ev(4720, SubjectUserName="lambda-user", TargetUserName="admin-kriss", UserAccountControl="\n\t%%2080")
    assert summarize(e).startswith("lambda-user created user admin-kriss")
    assert event_user(e) == "lambda-user"  # not the created account
    assert summarize(ev(4726, SubjectUserName="a", TargetUserName="b")) == "a deleted user b"
    assert summarize(ev(4757, SubjectUserName="a", TargetUserName="G", MemberName="CN=x\\, y,DC=c")) == (
        "a removed x, y from universal group G")
    assert summarize(ev(4740, SubjectUserName="DC01$", TargetUserName="bob", TargetDomainName="WS07")) == (
        "bob locked out (from WS07)")


def test_services_tasks_policy_shares_firewall_and_cleared_logs() -> None:
    e = ev(4697, SubjectUserName="admmig", ServiceName="iOWamcEn", ServiceFileName="%COMSPEC% /b /c x",
           ServiceStartType="3", ServiceAccount="LocalSystem")
    assert summarize(e) == "service installed: iOWamcEn (%COMSPEC% /b /c x), demand start as LocalSystem"
    xml = ("<Task><Actions Context=\"Author\"><Exec><Command>cmd.exe</Command><Arguments>/c whoami &gt; "
           "C:\\o.txt</Arguments></Exec></Actions></Task>")
    assert summarize(ev(4698, SubjectUserName="a", TaskName="\\Evil", TaskContent=xml)) == (
        "scheduled task created: \\Evil: cmd.exe /c whoami > C:\\o.txt")
    assert summarize(ev(4699, TaskName="\\Evil")) == "scheduled task deleted: \\Evil"
    assert summarize(ev(4719, CategoryId="%%8272", SubcategoryId="%%12288", AuditPolicyChanges="%%8448, %%8450")) == (
        "audit policy changed: System / Security State Change: Success removed, Failure removed")
    e = ev(5145, SubjectUserName="admmig", ShareName="\\\\*\\ADMIN$", RelativeTargetName="PSEXESVC.exe",
           IpAddress="10.0.0.7", AccessList="%%4417\n\t\t\t\t", ObjectType="File")
    assert summarize(e) == "share object \\\\*\\ADMIN$\\PSEXESVC.exe from 10.0.0.7: WriteData (or AddFile)"
    e = ev(5156, Application="\\device\\harddiskvolume2\\windows\\system32\\svchost.exe", Direction="%%14593",
           SourceAddress="10.0.0.2", SourcePort="50000", DestAddress="10.0.0.1", DestPort="445", Protocol="6")
    assert summarize(e) == "connection allowed svchost.exe 10.0.0.2:50000 -> 10.0.0.1:445 TCP (outbound)"
    assert summarize(ev(1102, "Microsoft-Windows-Eventlog", SubjectUserName="admmig")) == "audit log cleared by admmig"
    assert summarize(ev(104, "Microsoft-Windows-Eventlog", SubjectUserName="admmig", Channel="System")) == (
        "System log cleared by admmig")


def test_object_access_decodes_rights() -> None:
    e = ev(4656, ProcessName="C:\\w\\mimikatz.exe", HandleId="0x4", ObjectType="Process",
           ObjectName="\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe", AccessMask="0x1410")
    assert summarize(e) == ("mimikatz.exe requested handle 0x4 to Process "
                            "\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe: "
                            "PROCESS_VM_READ, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION")
    e = ev(4663, ProcessName="C:\\w\\x.exe", HandleId="0x4", ObjectType="File", ObjectName="C:\\s.txt",
           AccessList="%%4416 %%4417", AccessMask="0x3")
    assert summarize(e) == ("x.exe accessed File C:\\s.txt via handle 0x4: "
                            "ReadData (or ListDirectory); WriteData (or AddFile)")


def test_sysmon_defender_and_powershell() -> None:
    assert summarize(ev(7, SYSMON, Image="C:\\a\\rundll32.exe", ImageLoaded="C:\\t\\evil.dll", Signed="false")) == (
        "rundll32.exe loaded C:\\t\\evil.dll (unsigned)")
    assert summarize(ev(8, SYSMON, SourceImage="C:\\x\\a.exe", TargetImage="C:\\w\\explorer.exe",
                        StartFunction="LoadLibraryW")) == (
        "a.exe created a remote thread in explorer.exe at LoadLibraryW")
    e = ev(10, SYSMON, SourceImage="C:\\x\\mimikatz.exe", TargetImage="C:\\w\\lsass.exe", GrantedAccess="0x1010",
           SourceUser="CORP\\bob")
    assert summarize(e) == "mimikatz.exe opened lsass.exe (0x1010: PROCESS_VM_READ, PROCESS_QUERY_LIMITED_INFORMATION)"
    assert event_user(e) == "CORP\\bob"
    assert summarize(ev(12, SYSMON, Image="C:\\r.exe", EventType="CreateKey", TargetObject="HKLM\\S\\Run")) == (
        "r.exe CreateKey HKLM\\S\\Run")
    assert summarize(ev(13, SYSMON, Image="C:\\r.exe", TargetObject="HKLM\\Run\\x", Details="C:\\e.exe")) == (
        "r.exe set HKLM\\Run\\x = C:\\e.exe")
    assert summarize(ev(22, SYSMON, Image="C:\\p.exe", QueryName="evil.com", QueryResults="1.2.3.4;")) == (
        "p.exe DNS query evil.com -> 1.2.3.4;")
    e = ev(1116, DEFENDER, **{"Threat Name": "HackTool:Win32/Mimikatz", "Severity Name": "High",
                              "Path": "file:_C:\\t\\m.exe", "Detection User": "CORP\\bob", "Process Name": "Unknown"})
    assert summarize(e) == "malware detected: HackTool:Win32/Mimikatz (High) in file:_C:\\t\\m.exe"
    assert event_user(e) == "CORP\\bob"
    assert summarize(ev(1117, DEFENDER, **{"Threat Name": "X", "Action Name": "Quarantine"})) == "Quarantine: X"
    assert summarize(ev(4104, PS, MessageNumber="2", MessageTotal="3", ScriptBlockText="iex x")) == (
        "script block (part 2/3): iex x")
    assert summarize(ev(4103, PS, Payload="CommandInvocation(Invoke-WebRequest): x")) == (
        "pipeline: CommandInvocation(Invoke-WebRequest): x")
    assert summarize(ev(800, "PowerShell", Data="", **{"Data[2]": 'CommandInvocation(Get-Item): "Get-Item"\n'})) == (
        "pipeline: Get-Item")


def test_user_column_is_the_actor_never_none_or_a_group() -> None:
    assert event_user(ev(4688, SubjectUserName="dadmin", TargetUserName="-")) == "dadmin"
    assert event_user(ev(4688, SubjectUserName="-", SubjectUserSid="S-1-5-18")) == "SYSTEM"
    assert event_user(ev(4732, SubjectUserName="admmig", TargetUserName="Administrators", MemberName="-")) == "admmig"
    e = Event(source=0, record_number=1, record_id=1, filetime=None, event_id=7045, provider="Service Control Manager",
              user_sid="S-1-5-21-1-2-3-1111", data=(("ServiceName", "x"), ("AccountName", "LocalSystem")))
    assert event_user(e) == "S-1-5-21-1-2-3-1111"  # who installed it, not the service's account
    assert event_user(ev(9999)) == ""  # nobody named: an empty cell, never "None"


def _load(relpath: str) -> list[Event]:
    from core.store.cache import open_inputs
    from tests.shared import sample

    store = open_inputs([str(sample(relpath))], use_cache=False, jobs=1)
    return [se.event for se in store.iter_events()]


A = "evtx/attack/"


def test_real_samples_read_themselves() -> None:
    events = _load(A + "TA0003-Persistence__T1098.xxx-Account manipulation__ID4728-4756-Member added to "
                   "sensitive domain groups.evtx")
    lines = {(e.event_id, event_user(e), summarize(e)) for e in events if e.event_id in (4728, 4756)}
    assert (4728, "lambda-user", "lambda-user added honey-pot1 to global group Domain Admins") in lines
    assert (4756, "lambda-user", "lambda-user added honey-pot1 to universal group Enterprise Admins") in lines
    events = _load(A + "TA0006-Credential Access__T1110.xxx-Brut force__ID4768-4771-Kerberos brutforce with non "
                   "existing users.evtx")
    said = {summarize(e) for e in events if e.event_id == 4768}
    assert any(": unknown user (0x6)" in s for s in said), said
    events = _load(A + "TA0005-Defense Evasion__T1070.001-Clear Windows event logs__ID104-1102-Event log cleared.evtx")
    pairs = {(e.event_id, summarize(e)) for e in events}
    assert (1102, "audit log cleared by admmig") in pairs and (104, "System log cleared by admmig") in pairs
    events = _load(A + "TA0005-Defense Evasion__T1562.002-Disable Windows Event Logging__ID4719-Audit policy "
                   "deactivation.evtx")
    assert "audit policy changed: System / Security State Change: Success removed" in {summarize(e) for e in events}
    for e in events:
        assert event_user(e) not in ("None", "-")
