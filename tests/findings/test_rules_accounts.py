"""The findings rules on the accounts and computers a 4688 names (high-value, inactive,
allowlisted, typed, named by convention, foreign, local, restricted, off hours), and the guard
that every rule has a test firing it."""

from __future__ import annotations

import pytest

from core.findings.rules import SPECS
from tests.findings.rule_events import DOMAIN_SID, USER_RUNDLL, ev, fired, with_rules

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


def test_a_naming_convention_runs_in_linear_time_over_a_crafted_name() -> None:
    """The pattern is the analyst's, the account name the log's: `(a|aa)+` (an ordinary-looking
    repetition of alternatives) over 40 a's and a '!' backtracked for hours in Python's `re`. RE2
    answers at once; a pattern RE2 lacks (a lookahead) is still Python's."""
    import time

    rules = with_rules("[rules.account-naming-convention]\npattern = '(a|aa)+'\n")
    began = time.monotonic()
    f = fired(ev(USER_RUNDLL, SubjectUserName="a" * 40 + "!"), rules)
    assert time.monotonic() - began < 5
    assert "breaks the naming convention" in f["account-naming-convention"].message
    assert "account-naming-convention" not in fired(ev(USER_RUNDLL, SubjectUserName="a" * 40), rules)
    lookahead = with_rules("[rules.account-naming-convention]\npattern = '(?!adm)[a-z.]+'\n")
    assert "account-naming-convention" in fired(ev(USER_RUNDLL, SubjectUserName="admin"), lookahead)
    assert "account-naming-convention" not in fired(ev(USER_RUNDLL, SubjectUserName="j.smith"), lookahead)


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
