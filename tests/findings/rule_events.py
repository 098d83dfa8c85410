"""The 4688s the findings tests start from (SYSTEM's svchost at boot, a user's rundll32 with UAC
on), an event made from one with fields changed (`ev`), and the rules that fire on it (`fired`)."""

from __future__ import annotations

from core.findings.engine import Finding, run_findings
from core.findings.rules import RuleSet, load_rules, parse_rules_text
from core.model.event import Event, parse_time
from core.store.store import StoredEvent

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


def defaults() -> RuleSet:
    return load_rules(None)


def fired(event: Event, rules: RuleSet | None = None) -> dict[str, Finding]:
    found = run_findings([StoredEvent(7, event)], rules or defaults())
    by_rule = {f.rule: f for f in found}
    assert len(by_rule) == len(found), "one finding per rule per event"
    return by_rule


def with_rules(toml: str) -> RuleSet:
    return parse_rules_text(toml, "test.toml")
