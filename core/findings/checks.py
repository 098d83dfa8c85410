"""One function per seed rule (the 4688 page's recommendations) and the `CHECKS` registry.

A check looks at one event and returns its verdict: the one-line reason it fired, with the
field values that made it fire as evidence, or None. Adding a rule is adding a function and a
row in `CHECKS` (and its settings in `default_rules.toml`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from core.findings.accounts import (
    Account,
    account_kind,
    account_matches,
    accounts,
    is_real_user,
    running_account,
    short_name,
)
from core.findings.paths import NormPath, contains_folder, in_folder, norm_path, same_path
from core.findings.rules import Rule, glob_match
from core.model.command_line import decoded_command_line
from core.model.event import Event, filetime_to_datetime
from core.model.sids import decode_label, sid_rid

# -- token elevation --------------------------------------------------------------------------


def elevation_type(value: str | None) -> int | None:
    """1, 2 or 3 from `%%1936`/`%%1937`/`%%1938` (or their rendered names), else None."""
    if not value:
        return None
    v = value.strip().lower()
    for code, (msg, name) in enumerate(
        (
            ("%%1936", "tokenelevationtypedefault"),
            ("%%1937", "tokenelevationtypefull"),
            ("%%1938", "tokenelevationtypelimited"),
        ),
        start=1,
    ):
        if v == msg or v.startswith(name):
            return code
    return None


# -- the rules --------------------------------------------------------------------------------

#: One rule's verdict on one event: (message, evidence) or None.
Verdict = tuple[str, list[tuple[str, str]]] | None
Check = Callable[[Rule, Event], Verdict]


def _fields(rule: Rule, event: Event) -> Iterator[tuple[str, str, NormPath]]:
    for name in rule.strs("fields"):
        for value in event.get_all(name):  # (every value of a name held twice)
            if not value:
                continue
            path = norm_path(value)
            if path is not None:
                yield name, value, path


def _join(parts: list[str]) -> str:
    return "; ".join(parts)


def check_outside_standard(rule: Rule, event: Event) -> Verdict:
    folders = rule.strs("standard_folders")
    hits = [(n, v) for n, v, p in _fields(rule, event) if not any(in_folder(p, f) for f in folders)]
    if not hits:
        return None
    return _join([f"{n} {v} is outside the standard folders" for n, v in hits]), hits


def check_restricted_folder(rule: Rule, event: Event) -> Verdict:
    hits: list[tuple[str, str]] = []
    parts: list[str] = []
    for name, value, path in _fields(rule, event):
        found = [f for f in rule.strs("restricted_folders") if contains_folder(path, f)]
        if found:
            hits.append((name, value))
            parts.append(f"{name} {value} is in restricted folder {found[0].strip(chr(92))}")
    return (_join(parts), hits) if hits else None


def check_unexpected_path(rule: Rule, event: Event) -> Verdict:
    expected: dict[str, tuple[str, ...]] = rule.get("expected") or {}
    hits: list[tuple[str, str]] = []
    parts: list[str] = []
    for name, value, path in _fields(rule, event):
        base = path.rest.rsplit("\\", 1)[-1]
        allowed = expected.get(base)
        if allowed and not any(same_path(path, e) for e in allowed):
            hits.append((name, value))
            parts.append(f"{name} {value}: {base} is expected at {' or '.join(allowed)}")
    return (_join(parts), hits) if hits else None


def check_restricted_substring(rule: Rule, event: Event) -> Verdict:
    subs = [(s, s.lower()) for s in rule.strs("substrings") if s]
    hits: list[tuple[str, str]] = []
    parts: list[str] = []
    for name, value in ((n, v) for n in rule.strs("fields") for v in event.get_all(n)):
        if not value:
            continue
        low = value.lower()
        found = [s for s, sl in subs if sl in low]
        if found:
            hits.append((name, value))
            parts.append(f"{', '.join(repr(s) for s in found)} in {name}")
            continue
        if rule.flag("decode_command_line") and "commandline" in name.lower():
            for how, payload in decoded_command_line(value):
                pl = payload.lower()
                found = [s for s, sl in subs if sl in pl]
                if found:
                    hits.append((f"{name} ({how})", payload[:500]))
                    parts.append(f"{', '.join(repr(s) for s in found)} in {name} (decoded from {how})")
                    break
    if not hits:
        return None
    image = event.get("NewProcessName") or ""
    return f"Restricted substring {_join(parts)}" + (f" [{image}]" if image else ""), hits


def _elevation(event: Event) -> tuple[int | None, str]:
    raw = event.get("TokenElevationType") or ""
    return elevation_type(raw), raw


def check_uac_disabled(rule: Rule, event: Event) -> Verdict:
    kind, raw = _elevation(event)
    acc = running_account(event)
    if kind != 1 or acc is None or not is_real_user(acc, event.computer):
        return None
    if account_matches(acc, rule.strs("exclude_accounts")):
        return None
    note = " (built-in Administrator: UAC is off for it by default)" if sid_rid(acc.sid) == 500 else ""
    image = event.get("NewProcessName") or "?"
    msg = f"Full token (%%1936) for real user {acc.display} ({acc.role}) running {image}: UAC likely off{note}"
    return msg, [("TokenElevationType", raw), (f"{acc.role}", acc.display)]


def _is_workstation(rule: Rule, computer: str) -> bool:
    names = (computer.lower(), short_name(computer))
    ok = any(glob_match(n, rule.strs("workstations")) for n in names)
    return ok and not any(glob_match(n, rule.strs("exclude_computers")) for n in names)


def check_run_as_admin(rule: Rule, event: Event) -> Verdict:
    kind, raw = _elevation(event)
    acc = running_account(event)
    if kind != 2 or acc is None or not is_real_user(acc, event.computer):
        return None
    if not _is_workstation(rule, event.computer) or account_matches(acc, rule.strs("exclude_accounts")):
        return None
    image = event.get("NewProcessName") or "?"
    msg = f"Elevated token (%%1937): {acc.display} ran {image} as administrator on {event.computer}"
    return msg, [("TokenElevationType", raw), (acc.role, acc.display)]


def check_foreign_computer_account(rule: Rule, event: Event) -> Verdict:
    kind, raw = _elevation(event)
    if kind != 2 or not _is_workstation(rule, event.computer):
        return None
    here = short_name(event.computer)[:15]
    for acc in accounts(event):
        if account_kind(acc, event.computer) == "machine" and acc.name[:-1].lower()[:15] != here:
            image = event.get("NewProcessName") or "?"
            msg = (
                f"Elevated token (%%1937) for computer account {acc.display} ({acc.role}) on "
                f"{event.computer}, which is another computer: {image}"
            )
            return msg, [("TokenElevationType", raw), (acc.role, acc.display), ("Computer", event.computer)]
    return None


def check_label_of_interest(rule: Rule, event: Event) -> Verdict:
    label = (event.get("MandatoryLabel") or "").strip()
    if not label or label.upper() not in {x.upper() for x in rule.strs("labels")}:
        return None
    image = event.get("NewProcessName") or "?"
    return f"{image} started with mandatory label {label} ({decode_label(label)})", [("MandatoryLabel", label)]


def _account_list_rule(what: str) -> Check:
    def check(rule: Rule, event: Event) -> Verdict:
        hits = [a for a in accounts(event) if account_matches(a, rule.strs("accounts"))]
        if not hits:
            return None
        image = event.get("NewProcessName")
        tail = f": {image}" if image else ""
        return (
            _join([f"{what} {a.display} as {a.role}" for a in hits]) + tail,
            [(a.role, a.display) for a in hits],
        )

    return check


def _image_of(event: Event) -> str:
    return event.get("NewProcessName") or event.get("ProcessName") or ""


def check_allowlist(rule: Rule, event: Event) -> Verdict:
    image = _image_of(event)
    if not image:
        return None
    for entry in rule.entries("allowlists"):
        if not glob_match(image, entry["images"]):
            continue
        outside = [a for a in accounts(event) if not account_matches(a, entry["accounts"])]
        if outside:
            label = f" ({entry['name']})" if entry.get("name") else ""
            who = ", ".join(f"{a.display} as {a.role}" for a in outside)
            return f"{image}{label} started by {who}, outside its allowlist", [(a.role, a.display) for a in outside]
    return None


def check_account_type(rule: Rule, event: Event) -> Verdict:
    image = _image_of(event)
    if not image:
        return None
    for entry in rule.entries("account_types_by_image"):
        if not glob_match(image, entry["images"]):
            continue
        wrong = [(a, account_kind(a, event.computer)) for a in accounts(event)]
        wrong = [(a, k) for a, k in wrong if k not in entry["allowed_types"]]
        if wrong:
            label = f" ({entry['name']})" if entry.get("name") else ""
            who = ", ".join(f"{a.display} ({k}) as {a.role}" for a, k in wrong)
            allowed = ", ".join(entry["allowed_types"])
            return f"{image}{label} run by {who}; expected {allowed}", [(a.role, a.display) for a, _ in wrong]
    return None


def _typed_accounts(rule: Rule, event: Event) -> list[Account]:
    types = rule.strs("account_types")
    return [
        a
        for a in accounts(event)
        if account_kind(a, event.computer) in types and not account_matches(a, rule.strs("exclude_accounts"))
    ]


def check_naming(rule: Rule, event: Event) -> Verdict:
    pattern: Any = rule.get("pattern")  # (`linear_regex.rx`: an RE2 or a `re` pattern)
    if pattern is None:
        return None
    bad = [a for a in _typed_accounts(rule, event) if a.name and not pattern.fullmatch(a.name)]
    if not bad:
        return None
    # The exact name, quoted: `!r` put Python's escapes (`\\x1b`) into the stored message and the
    # JSON; a terminal gets it escaped by the CLI's stream and the app shows it as text.
    who = ", ".join(f"'{a.name}' ({a.role})" for a in bad)
    return f"Account name {who} breaks the naming convention {pattern.pattern!r}", [(a.role, a.display) for a in bad]


def _allowed_domains(rule: Rule, computer: str) -> set[str]:
    allowed = {d.lower() for d in rule.strs("allowed_domains")}
    if rule.flag("allow_computer_domain") and "." in computer.strip():
        allowed.add(computer.strip().split(".", 1)[1].lower())
    return allowed | {d.split(".", 1)[0] for d in allowed}


def check_foreign_domain(rule: Rule, event: Event) -> Verdict:
    allowed = _allowed_domains(rule, event.computer)
    if not allowed:
        return None
    foreign = [a for a in _typed_accounts(rule, event) if a.domain and a.domain.lower() not in allowed]
    if not foreign:
        return None
    who = ", ".join(f"{a.display} as {a.role}" for a in foreign)
    return f"Account from a foreign domain: {who} (allowed: {', '.join(sorted(allowed))})", [
        (a.role, a.display) for a in foreign
    ]


def check_local_account(rule: Rule, event: Event) -> Verdict:
    local = [
        a
        for a in accounts(event)
        if account_kind(a, event.computer) == "local-user" and not account_matches(a, rule.strs("exclude_accounts"))
    ]
    if not local:
        return None
    image = event.get("NewProcessName") or "a process"
    who = ", ".join(f"{a.display} ({a.role})" for a in local)
    return f"Local account {who} on {event.computer}: {image}", [(a.role, a.display) for a in local]


def check_restricted_computer(rule: Rule, event: Event) -> Verdict:
    names = (event.computer.lower(), short_name(event.computer))
    for entry in rule.entries("restricted"):
        if not any(glob_match(n, entry["computers"]) for n in names):
            continue
        hits = [a for a in accounts(event) if account_matches(a, entry["accounts"])]
        if hits:
            label = f" ({entry['name']})" if entry.get("name") else ""
            who = ", ".join(f"{a.display} as {a.role}" for a in hits)
            return f"{who} acted on restricted computer {event.computer}{label}", [(a.role, a.display) for a in hits]
    return None


def check_working_hours(rule: Rule, event: Event) -> Verdict:
    """An account active outside the rule's days and hours, in its time zone. A time the date
    type cannot hold there (year 9999 moved east of UTC, a FILETIME past it: a crafted or
    clock-broken log) is in no working hours: flagged, with its ticks, rather than a crash."""
    if event.filetime is None:
        return None
    start, end = rule.get("start"), rule.get("end")
    try:
        local = filetime_to_datetime(event.filetime).astimezone(rule.get("timezone"))
    except (OverflowError, ValueError):
        local = None
    if local is not None:
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
        t = local.time().replace(tzinfo=None)
        inside_hours = (start <= t < end) if start <= end else (t >= start or t < end)
        if day in rule.strs("days") and inside_hours:
            return None
    who = _typed_accounts(rule, event)
    if not who:
        return None
    names = ", ".join(f"{a.display} ({a.role})" for a in who)
    zone = rule.get("timezone")
    when = f"{local:%a %Y-%m-%d %H:%M} {zone}" if local is not None else f"FILETIME {event.filetime}, no date in {zone}"
    hours = f"{'-'.join(rule.strs('days'))} {start:%H:%M}-{end:%H:%M}"
    return f"{names} active at {when}, outside working hours ({hours})", [
        (a.role, a.display) for a in who
    ]


#: Rules that need only the event itself.
CHECKS: dict[str, Check] = {
    "image-outside-standard-folders": check_outside_standard,
    "image-in-restricted-folder": check_restricted_folder,
    "unexpected-image-path": check_unexpected_path,
    "restricted-substring": check_restricted_substring,
    "uac-disabled": check_uac_disabled,
    "run-as-administrator": check_run_as_admin,
    "elevated-foreign-computer-account": check_foreign_computer_account,
    "mandatory-label-of-interest": check_label_of_interest,
    "high-value-account": _account_list_rule("High-value account"),
    "inactive-account": _account_list_rule("Account that should be inactive:"),
    "account-not-allowlisted": check_allowlist,
    "unexpected-account-type": check_account_type,
    "account-naming-convention": check_naming,
    "foreign-domain-account": check_foreign_domain,
    "local-account-process": check_local_account,
    "restricted-computer": check_restricted_computer,
    "outside-working-hours": check_working_hours,
}
ABOVE_PARENT = "mandatory-label-above-parent"
