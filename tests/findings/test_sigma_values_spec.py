"""Sigma value tests as the Sigma v2 spec and pySigma define them, where the engine differed:
`|fieldref|contains` (pySigma sets both starts_with and ends_with: ran as startswith), the
timestamp-part modifiers (`|hour`...: ran as plain numbers, `A|hour: 5` fired on A = "5"),
numbers (wrapped into the signed 64-bit range: `N|gt: 0` failed on 0xffffffffffffffff; read by
`float`: "inf" was greater than anything), `|cidr` on IPv4-mapped IPv6 addresses (Windows logs
4624's IpAddress as `::ffff:10.1.2.3`: SigmaHQ's external-RDP rule fired on private ones),
and logsource names compared case-sensitively. Also: a list of keywords, now searched in the
event's values as one text (`_kwin`), answers as each word in each value did."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.findings.sigma.compiler import Lower, build
from core.findings.sigma.engine import SigmaResult
from core.findings.sigma.logsources import sources_for
from core.findings.sigma.ruleset import parse_file
from core.model.event import Event
from tests.findings.sigma_helpers import run_rules, write_rule
from tests.shared import SHARED, require_shared

RDP_RULE = (SHARED / "sigma" / "rules" / "windows" / "builtin" / "security" / "account_management"
            / "win_security_successful_external_remote_rdp_login.yml")


def _rule_text(detection: str, logsource: str = "{product: windows, service: security}", n: int = 1) -> str:
    body = "\n".join("    " + line for line in detection.strip().splitlines())
    return (f"title: Spec {n}\nid: 7e0c6a4e-0000-4000-8000-{n:012d}\nstatus: test\nlevel: high\n"
            f"logsource: {logsource}\ndetection:\n{body}\n    condition: sel\n")


def _security(record_id: int, event_id: int = 4624, channel: str = "Security", **data: str) -> Event:
    return Event(0, record_id, record_id, 133500000000000000, event_id, channel=channel,
                 provider="Microsoft-Windows-Security-Auditing", computer="PC1", data=tuple(data.items()))


def _fired(result: SigmaResult) -> list[int]:
    return sorted(m.record_id for m in result.matches)


def _matches(tmp_path: Path, detection: str, values: dict[str, str]) -> bool:
    """Whether the rule whose `sel` is `detection` matches an event of these fields."""
    path = write_rule(tmp_path, "r", _rule_text(detection))
    parsed, error = parse_file(path)
    assert error is None
    (_meta, spec), = parsed
    assert spec.plan is not None, spec.unsupported
    fn = build(spec.plan)
    return fn(dict(values), Lower(dict(values)))


def _unsupported(tmp_path: Path, detection: str) -> str:
    path = write_rule(tmp_path, "r", _rule_text(detection))
    parsed, error = parse_file(path)
    assert error is None
    (_meta, spec), = parsed
    assert spec.plan is None
    return spec.unsupported


# -- |fieldref|contains ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("hello bob", "bob", True),    # an end
    ("bob hello", "bob", True),    # a start
    ("a bob here", "BOB", True),   # the middle, any case
    ("hello", "bob", False),
    ("bo", "bob", False),
])
def test_fieldref_contains_is_contains(tmp_path: Path, a: str, b: str, expected: bool) -> None:
    assert _matches(tmp_path, "sel: {A|fieldref|contains: B}", {"A": a, "B": b}) is expected


def test_fieldref_contains_fires_on_the_events_whose_value_holds_the_other(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, "ref", _rule_text("sel: {A|fieldref|contains: B}"))
    events = [_security(1, A="hello bob", B="bob"), _security(2, A="alice", B="bob"),
              _security(3, A="a bob b", B="bob"), _security(4, A="bob", B="bob")]
    assert _fired(run_rules([rule], events)) == [1, 3, 4]


# -- timestamp parts ------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["minute", "hour", "day", "week", "month", "year"])
def test_timestamp_part_modifiers_are_refused(tmp_path: Path, part: str) -> None:
    assert _unsupported(tmp_path, f"sel: {{UtcTime|{part}: 5}}") == (
        f"timestamp parts (the {part} modifier) are not evaluated")


def test_timestamp_parts_never_fire_as_plain_numbers(tmp_path: Path) -> None:
    hour = write_rule(tmp_path, "hour", _rule_text("sel: {A|hour: 5}"))
    compared = write_rule(tmp_path, "gt", _rule_text("sel: {UtcTime|hour|gt: 4}", n=2))
    result = run_rules([hour, compared], [_security(1, A="5", UtcTime="2024-01-01 05:00:00.000")])
    assert result.matches == []
    reason = "unsupported: timestamp parts (the hour modifier) are not evaluated"
    assert result.skipped["windows/security"] == {reason: 2}


# -- numbers --------------------------------------------------------------------------------------

BIG = str(2**128 - 1)


@pytest.mark.parametrize(("detection", "value", "expected"), [
    # Unsigned 64-bit values are themselves, not -1 (hex and decimal alike), nor wrapped past 2**63.
    ("N|gt: 0", "0xffffffffffffffff", True),
    ("N|gt: 0", "18446744073709551615", True),
    ("N|gt: 0", "9223372036854775808", True),
    ("N|lt: 0", "0xffffffffffffffff", False),
    ("N|lt: 0", "18446744073709551615", False),
    ("N: -1", "0xffffffffffffffff", False),
    ("N: -1", "18446744073709551615", False),
    ("N: -1", "-1", True),
    ("N|lt: 0", "-1", True),
    ("N|gte: 9007199254740992", "9007199254740993", True),  # (2**53 is exact in pySigma)
    ("N|lt: 9007199254740992", "9007199254740993", False),
    ("N: 9007199254740992", "9007199254740993", False),
    # Past 64 bits: exact, not a float.
    ("N|gt: 0", BIG, True),
    ("N: 0", "0x" + "f" * 40, False),
    ("N|gt: 0", "1" * 101, False),  # (past MAX_DIGITS: not a number)
    # Never numbers: inf, nan, exponents, separators, other digits, spaces.
    ("N|gt: 0", "inf", False),
    ("N|lt: 0", "-inf", False),
    ("N|gt: 0", "nan", False),
    ("N|lt: 0", "nan", False),
    ("N|gt: 0", "Infinity", False),
    ("N|gt: 5", "1e3", False),
    ("N|gt: 5", "1_000", False),
    ("N|gt: 5", "\uff17", False),  # (a fullwidth 7: Python's int takes it)
    ("N: 5", " 5", False),
    ("N: 5", "5 ", False),
    ("N: 5", "5\n", False),
    # A number's own renderings: leading zeros, a sign, hex.
    ("N: 5", "05", True),
    ("N: 5", "+5", True),
    ("N: 5", "0x5", True),
    ("N: 5", "0X00000005", True),
    ("N: -5", "-05", True),
    ("N|gt: 4", "0x5", True),
    # Decimal fractions: only to a rule whose number has one, then exactly.
    ("N: 5", "5.0", False),
    ("N|gt: 4", "4.5", False),
    ("N|gt: 1.5", "1.6", True),
    ("N|gt: 1.5", "1.5", False),
    ("N|gt: 1.5", "1.50000000000000000001", True),
    ("N|gt: 1.5", "2", True),
    ("N|gt: 1.5", "1e1", False),
    ("N|lte: 1.1", "1.1", True),
    ("N|gt: 1.1", "1.1000000000000000001", True),
    ("N: 1.1", "1.10", True),
    ("N: 1.1", "1.1000000000000000001", False),
    ("N: 0.00001", "0.00001", True),
    ("N: 0.00001", "1e-05", False),
])
def test_numbers_are_exact(tmp_path: Path, detection: str, value: str, expected: bool) -> None:
    assert _matches(tmp_path, f"sel: {{{detection}}}", {"N": value}) is expected


@pytest.mark.parametrize("detection", ["N|gt: 9223372036854775807", "N: 18446744073709551615",
                                       "N|lt: -9007199254740993"])
def test_a_number_pysigma_cannot_keep_exactly_is_refused(tmp_path: Path, detection: str) -> None:
    # pySigma keeps an int past 2**53 as the float nearest it: 2**63 - 1 becomes 2**63, and the
    # rule would be another rule.
    assert "past 2**53" in _unsupported(tmp_path, f"sel: {{{detection}}}")


def test_numbers_over_unsigned_64_bit_values(tmp_path: Path) -> None:
    rules = [write_rule(tmp_path, "gt", _rule_text("sel: {N|gt: 0}", n=2)),
             write_rule(tmp_path, "lt", _rule_text("sel: {N|lt: 0}", n=3)),
             write_rule(tmp_path, "eq", _rule_text("sel: {N: -1}", n=4))]
    events = [_security(1, N="0xffffffffffffffff"), _security(2, N="18446744073709551615"),
              _security(3, N="9223372036854775808"), _security(4, N="-1"), _security(5, N="inf")]
    result = run_rules(rules, events)
    fired = sorted((result.rules[m.rule].path.rsplit("/", 1)[-1], m.record_id) for m in result.matches)
    assert fired == [("eq.yml", 4), ("gt.yml", 1), ("gt.yml", 2), ("gt.yml", 3), ("lt.yml", 4)]


# -- |cidr on IPv4-mapped IPv6 addresses -----------------------------------------------------------


@pytest.mark.parametrize(("network", "address", "expected"), [
    ("10.0.0.0/8", "::ffff:10.1.2.3", True),
    ("10.0.0.0/8", "::FFFF:10.1.2.3", True),
    ("10.0.0.0/8", "10.1.2.3", True),
    ("10.0.0.0/8", "::ffff:11.1.2.3", False),
    ("10.0.0.0/8", "::10.1.2.3", False),  # (IPv4-compatible, deprecated: not a mapped address)
    ("10.0.0.0/8", "fe80::1", False),
    ("192.168.0.0/16", "::ffff:c0a8:105", True),
    ("::ffff:10.0.0.0/104", "10.1.2.3", True),
    ("::ffff:10.0.0.0/104", "::ffff:10.1.2.3", True),
    ("::ffff:10.0.0.0/104", "11.1.2.3", False),
    ("::ffff:0:0/96", "8.8.8.8", True),
    ("fc00::/7", "10.1.2.3", False),
    ("::/0", "10.1.2.3", False),  # (an IPv6 network beyond the mapped block: no IPv4 address)
    ("fe80::/10", "fe80::1%12", True),
])
def test_cidr_reads_ipv4_mapped_addresses(tmp_path: Path, network: str, address: str, expected: bool) -> None:
    assert _matches(tmp_path, f"sel: {{IpAddress|cidr: '{network}'}}", {"IpAddress": address}) is expected


def _rdp_events() -> list[Event]:
    addresses = ["::ffff:10.1.2.3", "10.1.2.3", "::ffff:192.168.1.5", "8.8.8.8", "::ffff:8.8.4.4", "-", "::1"]
    return [_security(i, LogonType="10", IpAddress=a, TargetUserName="bob") for i, a in enumerate(addresses, 1)]


def test_hand_made_private_range_filter_on_mapped_addresses(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, "rdp", """
        title: Remote Logon From Outside
        id: 7e0c6a4e-0000-4000-8000-000000000010
        status: test
        level: medium
        logsource: {product: windows, service: security}
        detection:
            selection: {EventID: 4624, LogonType: 10}
            filter_private:
                IpAddress|cidr: ['10.0.0.0/8', '192.168.0.0/16', '::1/128']
            filter_empty: {IpAddress: '-'}
            condition: selection and not 1 of filter_*
        """)
    assert _fired(run_rules([rule], _rdp_events())) == [4, 5]


def test_sigmahq_external_rdp_rule_ignores_private_mapped_addresses() -> None:
    require_shared()
    result = run_rules([RDP_RULE], _rdp_events())
    assert {result.rules[m.rule].title for m in result.matches} == {"External Remote RDP Logon from Public IP"}
    assert _fired(result) == [4, 5]


# -- logsource names --------------------------------------------------------------------------------


@pytest.mark.parametrize(("product", "category", "service"), [
    ("Windows", None, "System"),
    ("WINDOWS", None, "Security"),
    ("windows", "Process_Creation", None),
    (None, "PROCESS_CREATION", "Security"),
])
def test_logsource_names_compare_case_insensitively(product: str | None, category: str | None,
                                                     service: str | None) -> None:
    found = sources_for(product, category, service)
    lower = sources_for(*(None if n is None else n.lower() for n in (product, category, service)))
    assert isinstance(found, tuple) and found
    assert found == lower


def test_logsource_reasons_keep_the_rules_spelling() -> None:
    assert sources_for("Linux", None, None) == "product Linux (only Windows logs are loaded)"
    assert sources_for("Windows", None, "NoSuch") == "service NoSuch is not known"


def test_a_rule_naming_windows_in_capitals_runs(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, "cap", _rule_text("sel: {A: foo}", "{product: Windows, service: System}"))
    events = [_security(1, 7045, "System", A="foo"), _security(2, 7045, "System", A="bar")]
    assert _fired(run_rules([rule], events)) == [1]


# -- keywords: a plain word is contained in a value (searched as one text, `_kwin`) ----------------

#: Characters that matter to a search of the values joined by NUL: NUL itself, case pairs whose
#: lower-casing depends on their neighbours (a final sigma) or changes length (dotted I).
KW_ALPHABET = ["a", "b", "A", "B", " ", ":", "\x00", "Σ", "σ", "ς", "İ", "i̇", "ß", "é"]


def _kw_word(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(KW_ALPHABET) for _ in range(rng.randint(0, most)))


def test_keyword_lists_match_as_words_contained_in_a_value(tmp_path: Path) -> None:
    rng = random.Random(7)
    for n in range(300):
        words = [_kw_word(rng, 3) or "a" for _ in range(rng.randint(1, 6))]
        cased = rng.random() < 0.3
        listed = "".join(f"{'    ' * (1 + cased)}- {json.dumps(w)}\n" for w in words)
        path = write_rule(tmp_path, f"kw{n}", _rule_text("sel:\n" + "    '|cased':\n" * cased + listed, n=n))
        parsed, error = parse_file(path)
        assert error is None, error
        (_meta, spec), = parsed
        assert spec.plan is not None
        fn = build(spec.plan)
        fold = (lambda s: s) if cased else str.lower
        for _ in range(20):
            event = {f"F{i}": _kw_word(rng, 8) for i in range(rng.randint(0, 4))}
            if rng.random() < 0.5:  # (a word within a value, or across two)
                word = rng.choice(words)
                event["F9"] = _kw_word(rng, 2) + (word.upper() if rng.random() < 0.5 else word)
            expected = any(fold(w) in fold(v) for w in words for v in event.values())
            assert fn(dict(event), Lower(dict(event))) is expected, (words, cased, event)


# -- `product: windows` alone: every Windows event --------------------------------------------------

MIMIKATZ = SHARED / "sigma" / "rules" / "windows" / "builtin" / "win_alert_mimikatz_keywords.yml"


def _everywhere() -> list[Event]:
    return [_security(1, 1234, "Some-Vendor/Operational", Msg="running sekurlsa::logonpasswords"),
            _security(2, 15, "Microsoft-Windows-Sysmon/Operational", TargetFilename="C:\\sekurlsa::x.yml"),
            _security(3, 4688, "Security", CommandLine="m.exe privilege::debug", A="foo"),
            _security(4, 7045, "System", ImagePath="C:\\mimidrv.sys", A="bar"),
            _security(5, 4624, "Security", A="foo"),
            _security(6, 1, "Application", Msg="nothing here")]


def test_a_rule_naming_only_the_product_runs_on_every_event(tmp_path: Path) -> None:
    keywords = write_rule(tmp_path, "kw", _rule_text(
        "sel: ['sekurlsa::', 'privilege::debug', 'mimidrv.sys']\nfilter: {EventID: 15}",
        "{product: windows}").replace("condition: sel", "condition: sel and not filter"))
    field = write_rule(tmp_path, "field", _rule_text("sel: {A: foo}", "{product: windows}", n=2))
    logon = write_rule(tmp_path, "logon", _rule_text("sel: {EventID: 4624}", "{product: windows}", n=3))
    result = run_rules([keywords, field, logon], _everywhere())
    fired = sorted((result.rules[m.rule].path.rsplit("/", 1)[-1], m.record_id) for m in result.matches)
    assert fired == [("field.yml", 3), ("field.yml", 5), ("kw.yml", 1), ("kw.yml", 3), ("kw.yml", 4),
                     ("logon.yml", 5)]
    assert result.ran == {"every channel": 3}


def test_sigmahq_mimikatz_keywords_run_on_every_channel() -> None:
    require_shared()
    result = run_rules([MIMIKATZ], _everywhere())
    assert {result.rules[m.rule].title for m in result.matches} == {"Mimikatz Use"}
    assert _fired(result) == [1, 3, 4]
