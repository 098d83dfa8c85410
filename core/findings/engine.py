"""Findings: the 4688 security-monitoring recommendations run over events.

Each rule (configured in `core.findings.rules`) looks at one event and says why it fired, in one line,
with the field values that made it fire as evidence. `run_findings` streams: it keeps only a
table of live processes per computer (pid -> integrity level), which is what the
"integrity above the parent's" rule needs, so memory does not grow with the log.

Accounts: the recommendations name the "Creator Subject" and the "Target Subject" of 4688. Both
are checked by the account rules. The token rules (%%1936 / %%1937) look at the account the new
process runs as: the Target Subject when the event has one (the creator started the process
for another logon), else the Creator Subject.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.findings.rules import Rule, RulesError, RuleSet, glob_match, load_rules
from core.model.command_line import decoded_command_line
from core.model.event import Event, filetime_to_datetime
from core.model.sids import decode_label, label_rid, sid_rid
from core.model.values import as_int
from core.store.schema import FIELD_IDS

if TYPE_CHECKING:
    from core.store.store import Store, StoredEvent

__all__ = ["Finding", "FindingsData", "RuleSet", "RulesError", "findings_for_event", "load_rules", "run_findings"]

PROCESS_CREATED = 4688
PROCESS_EXITED = 4689


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule firing on one event.

    `time` is the event's FILETIME (100 ns ticks, UTC) or None; render it with
    `core.model.event.iso_from_filetime`. `evidence` holds the (field, value) pairs that made the rule
    fire; `related_store_id` points at a second record the finding relies on (the parent's 4688
    for the integrity rule).
    """

    rule: str
    severity: str
    store_id: int
    record_id: int | None
    event_id: int
    computer: str
    time: int | None
    message: str
    evidence: tuple[tuple[str, str], ...] = ()
    related_store_id: int | None = None


# -- accounts ---------------------------------------------------------------------------------

_NULL_SIDS = {"", "-", "S-1-0-0"}
_WELL_KNOWN_DOMAINS = {
    "NT AUTHORITY",
    "NT-AUTORITÄT",
    "AUTORITE NT",
    "AUTORIDAD NT",
    "NT SERVICE",
    "WINDOW MANAGER",
    "FONT DRIVER HOST",
    "IIS APPPOOL",
    "NT VIRTUAL MACHINE",
    "VIRTUAL USERS",
}
_WELL_KNOWN_NAMES = {"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON", "LOCALSERVICE", "NETWORKSERVICE"}


@dataclass(frozen=True, slots=True)
class Account:
    """An account named by an event: its role ("Creator Subject" / "Target Subject")."""

    role: str
    sid: str
    name: str
    domain: str

    @property
    def display(self) -> str:
        who = f"{self.domain}\\{self.name}" if self.domain and self.domain != "-" else self.name or "-"
        sid = self.sid if self.sid not in _NULL_SIDS else ""
        return f"{who} ({sid})" if sid and sid.upper() != who.upper() else who


def accounts(event: Event) -> list[Account]:
    """The Creator Subject and the Target Subject of an event, when present (Target only if it
    names another account). Several rules ask for the same event's in a row: the last answer
    is kept (for that very Event object)."""
    global _LAST_ACCOUNTS
    last = _LAST_ACCOUNTS  # one read: another thread may replace it, never change it
    if last is not None and last[0] is event:
        return list(last[1])
    found = _accounts(event)
    _LAST_ACCOUNTS = (event, tuple(found))
    return found


_LAST_ACCOUNTS: tuple[Event, tuple[Account, ...]] | None = None


def _accounts(event: Event) -> list[Account]:
    out: list[Account] = []
    for role, prefix in (("Creator Subject", "Subject"), ("Target Subject", "Target")):
        sid = (event.get(prefix + "UserSid") or "").strip()
        name = (event.get(prefix + "UserName") or "").strip()
        domain = (event.get(prefix + "DomainName") or "").strip()
        if sid.upper() in _NULL_SIDS and name in ("", "-"):
            continue
        acc = Account(role, sid, name if name != "-" else "", domain if domain != "-" else "")
        if out and (acc.sid.upper(), acc.name.lower()) == (out[0].sid.upper(), out[0].name.lower()):
            continue
        out.append(acc)
    return out


def running_account(event: Event) -> Account | None:
    """The account the new process runs as: Target Subject when present, else Creator Subject."""
    accs = accounts(event)
    for acc in accs:
        if acc.role == "Target Subject":
            return acc
    return accs[0] if accs else None


def short_name(computer: str) -> str:
    """`WS01.contoso.local` -> `ws01` (lower-cased)."""
    return computer.strip().split(".", 1)[0].lower()


def account_kind(acc: Account, computer: str) -> str:
    """machine (NAME$), well-known (SYSTEM, services, DWM-1...), local-user or domain-user."""
    if acc.name.endswith("$"):
        return "machine"
    sid = acc.sid.upper()
    domain = acc.domain.upper()
    if sid not in _NULL_SIDS:
        if not sid.startswith("S-1-5-21-"):
            return "well-known"
    elif domain in _WELL_KNOWN_DOMAINS or acc.name.upper() in _WELL_KNOWN_NAMES:
        return "well-known"
    if domain and domain.lower() == short_name(computer):
        return "local-user"
    return "domain-user"


def is_real_user(acc: Account, computer: str) -> bool:
    return account_kind(acc, computer) in ("local-user", "domain-user")


def account_matches(acc: Account, patterns: Iterable[str]) -> bool:
    """`S-1-...` patterns match the SID, `DOMAIN\\name` the qualified name, others the name."""
    for pattern in patterns:
        if pattern.upper().startswith("S-1-"):
            if acc.sid and glob_match(acc.sid, (pattern,)):
                return True
        elif "\\" in pattern:
            if glob_match(f"{acc.domain}\\{acc.name}", (pattern,)):
                return True
        elif acc.name and glob_match(acc.name, (pattern,)):
            return True
    return False


# -- paths ------------------------------------------------------------------------------------

_DRIVE_RE = re.compile(r"([a-z]):(\\.*)?\Z", re.DOTALL)
_DEVICE_RE = re.compile(r"\\device\\harddiskvolume\d+(\\.*)\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class NormPath:
    """A path lower-cased with `\\`: `full` keeps the drive, `rest` is the path after it."""

    full: str
    rest: str


@functools.lru_cache(maxsize=8192)  # images repeat across events; rules ask for each one's
def norm_path(value: str) -> NormPath | None:
    """Normalise an image path (`\\??\\C:\\x`, `\\Device\\HarddiskVolume2\\x`, `\\SystemRoot\\x`,
    quotes, `/`); None when it is not a path (kernel pseudo-processes like `System`)."""
    s = value.strip().strip('"').replace("/", "\\")
    for prefix in ("\\??\\", "\\\\?\\", "\\\\.\\"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    low = s.lower()
    if "\\" not in low:
        return None
    for root in ("\\systemroot\\", "%systemroot%\\", "%windir%\\"):
        if low.startswith(root):
            rest = "\\windows\\" + low[len(root) :]
            return NormPath(rest, rest)
    m = _DRIVE_RE.match(low)
    if m:
        return NormPath(low, m.group(2) or "\\")
    m = _DEVICE_RE.match(low)
    if m:
        return NormPath(low, m.group(1))
    return NormPath(low, low)


@functools.lru_cache(maxsize=1024)  # the rules' own folders, met for every event
def _folder(pattern: str) -> NormPath | None:
    p = norm_path(pattern if "\\" in pattern or "/" in pattern else "\\" + pattern)
    if p is None:
        return None
    full = p.full if p.full.endswith("\\") else p.full + "\\"
    rest = p.rest if p.rest.endswith("\\") else p.rest + "\\"
    return NormPath(full, rest)


@functools.lru_cache(maxsize=1024)
def _has_drive(pattern: str) -> bool:
    return bool(_HAS_DRIVE_RE.match(pattern))


_HAS_DRIVE_RE = re.compile(r"\s*[a-zA-Z]:")


def in_folder(path: NormPath, folder: str) -> bool:
    """`path` lies under `folder` (a drive-less folder matches on any drive)."""
    f = _folder(folder)
    if f is None:
        return False
    return path.full.startswith(f.full) if _has_drive(folder) else path.rest.startswith(f.rest)


def contains_folder(path: NormPath, folder: str) -> bool:
    """`folder` (e.g. `\\Temp\\`) appears anywhere in the path's directories."""
    f = _folder(folder)
    if f is None:
        return False
    directory = path.full.rsplit("\\", 1)[0] + "\\"
    return (f.full if _has_drive(folder) else f.rest) in directory


def same_path(path: NormPath, expected: str) -> bool:
    e = norm_path(expected)
    if e is None:
        return False
    return path.full == e.full if _has_drive(expected) else path.rest == e.rest


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
        value = event.get(name)
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
    for name in rule.strs("fields"):
        value = event.get(name)
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
    pattern: re.Pattern[str] | None = rule.get("pattern")
    if pattern is None:
        return None
    bad = [a for a in _typed_accounts(rule, event) if a.name and not pattern.fullmatch(a.name)]
    if not bad:
        return None
    who = ", ".join(f"{a.name!r} ({a.role})" for a in bad)
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
    if event.filetime is None:
        return None
    local = filetime_to_datetime(event.filetime).astimezone(rule.get("timezone"))
    start, end = rule.get("start"), rule.get("end")
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    t = local.time().replace(tzinfo=None)
    inside_hours = (start <= t < end) if start <= end else (t >= start or t < end)
    if day in rule.strs("days") and inside_hours:
        return None
    who = _typed_accounts(rule, event)
    if not who:
        return None
    names = ", ".join(f"{a.display} ({a.role})" for a in who)
    when = local.strftime("%a %Y-%m-%d %H:%M")
    hours = f"{'-'.join(rule.strs('days'))} {start:%H:%M}-{end:%H:%M}"
    return f"{names} active at {when} {rule.get('timezone')}, outside working hours ({hours})", [
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


# -- the parent's integrity level -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParentInfo:
    """What the integrity rule needs of a parent process: its 4688's label and record."""

    label: str
    image: str
    store_id: int
    record_id: int | None


#: Finds the parent (its 4688) of a 4688 event: (event, store id) -> ParentInfo or None.
ParentLookup = Callable[[Event, int], ParentInfo | None]


def check_above_parent(rule: Rule, event: Event, parent: ParentInfo | None) -> Verdict:
    if parent is None:
        return None
    child_label = (event.get("MandatoryLabel") or "").strip()
    child, mother = label_rid(child_label), label_rid(parent.label)
    if child is None or mother is None or child <= mother:
        return None
    image = event.get("NewProcessName") or "?"
    if glob_match(image, rule.strs("ignore_images")):
        return None
    msg = (
        f"{image} runs at {decode_label(child_label)}, above its parent {parent.image or '?'} "
        f"at {decode_label(parent.label)} (parent record {parent.record_id})"
    )
    return msg, [("MandatoryLabel", child_label), ("parent MandatoryLabel", parent.label)]


class ProcessTable:
    """Live processes per computer, fed in time order: (computer, pid) -> the 4688 that started it.

    A 4688 replaces the entry of its NewProcessId (pids are reused); a 4689 removes its
    ProcessId. So a lookup gives the nearest preceding 4688 of that pid on that computer that no
    4689 has ended, exactly what "the parent" means. Memory is bounded by the number of pids
    alive at once per computer, not by the log.
    """

    def __init__(self) -> None:
        self._live: dict[tuple[str, int], ParentInfo] = {}

    def feed(self, store_id: int, event: Event) -> None:
        if event.event_id == PROCESS_CREATED:
            pid = as_int(event.get("NewProcessId"))
            if pid is not None:
                self._live[(event.computer.lower(), pid)] = ParentInfo(
                    (event.get("MandatoryLabel") or "").strip(),
                    event.get("NewProcessName") or "",
                    store_id,
                    event.record_id,
                )
        elif event.event_id == PROCESS_EXITED:
            pid = as_int(event.get("ProcessId"))
            if pid is not None:
                self._live.pop((event.computer.lower(), pid), None)

    def parent(self, event: Event) -> ParentInfo | None:
        ppid = as_int(event.get("ProcessId"))
        return None if ppid is None else self._live.get((event.computer.lower(), ppid))


def store_parent_lookup(store: Store) -> ParentLookup:
    """A ParentLookup answered by SQL over the store (for one event at a time, in the UI).

    Same definition as `ProcessTable` in the store's time order (ts, record_id, id): the
    nearest preceding 4688 whose NewProcessId is the event's ProcessId on the same computer,
    unless a 4689 of that pid lies between the two.
    """

    def lookup(event: Event, store_id: int) -> ParentInfo | None:
        ppid = as_int(event.get("ProcessId"))
        if ppid is None or event.filetime is None:
            return None
        rid = event.record_id if event.record_id is not None else event.record_number
        before = "(e.ts < ? OR (e.ts = ? AND (e.record_id < ? OR (e.record_id = ? AND e.id < ?))))"
        found = store.select(
            "e.event_id = 4688 AND e.computer = ? COLLATE NOCASE AND " + before + " AND e.id IN "
            "(" + FIELD_IDS.format(cond="p.name = 'newprocessid' AND p.num = ?") + ")",
            (event.computer, event.filetime, event.filetime, rid, rid, store_id, ppid),
            limit=1,
            order="e.ts DESC, e.record_id DESC, e.id DESC",
        )
        if not found:
            return None
        pid_, parent = found[0]
        if parent.filetime is None:
            return None
        prid = parent.record_id if parent.record_id is not None else parent.record_number
        after = "(e.ts > ? OR (e.ts = ? AND (e.record_id > ? OR (e.record_id = ? AND e.id > ?))))"
        exits = store.iter_events(
            "e.event_id = 4689 AND e.computer = ? COLLATE NOCASE AND "
            + after
            + " AND "
            + before
            + " AND e.id IN ("
            + FIELD_IDS.format(cond="p.name = 'processid' AND p.num = ?")
            + ")",
            (
                event.computer,
                parent.filetime,
                parent.filetime,
                prid,
                prid,
                pid_,
                event.filetime,
                event.filetime,
                rid,
                rid,
                store_id,
                ppid,
            ),
        )
        # `processid` also mirrors the System ProcessID: check the EventData value itself.
        if any(as_int(ex.event.get("ProcessId")) == ppid for ex in exits):
            return None
        return ParentInfo(
            (parent.get("MandatoryLabel") or "").strip(), parent.get("NewProcessName") or "", pid_, parent.record_id
        )

    return lookup


# -- the engine -------------------------------------------------------------------------------


def _finding(
    rule: Rule, store_id: int, event: Event, verdict: tuple[str, list[tuple[str, str]]], related: int | None = None
) -> Finding:
    message, evidence = verdict
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        store_id=store_id,
        record_id=event.record_id,
        event_id=event.event_id,
        computer=event.computer,
        time=event.filetime,
        message=" ".join(message.split())[:1000],
        evidence=tuple((k, v[:1000]) for k, v in evidence),
        related_store_id=related,
    )


def evaluate(rules: RuleSet, store_id: int, event: Event, parent: ParentInfo | None) -> list[Finding]:
    """Every enabled rule on one event; `parent` is its parent's 4688 (for the integrity rule)."""
    out: list[Finding] = []
    for rule in rules.rules:
        if not rule.enabled or event.event_id not in rule.event_ids:
            continue
        if rule.id == ABOVE_PARENT:
            verdict = check_above_parent(rule, event, parent)
            if verdict is not None:
                out.append(_finding(rule, store_id, event, verdict, parent.store_id if parent else None))
            continue
        verdict = CHECKS[rule.id](rule, event)
        if verdict is not None:
            out.append(_finding(rule, store_id, event, verdict))
    return out


def needed_event_ids(rules: RuleSet) -> list[int]:
    """The event IDs the enabled rules look at: callers may feed `run_findings` only those."""
    return sorted({eid for rule in rules.enabled for eid in rule.event_ids})


def iter_store_events(store: Store, rules: RuleSet) -> Iterator[StoredEvent]:
    """The store's events that the enabled rules need, in time order (what `run_findings` wants)."""
    ids = needed_event_ids(rules)
    if not ids:
        return iter(())
    return store.iter_events(f"e.event_id IN ({', '.join('?' * len(ids))})", tuple(ids))


def run_findings(events: Iterable[StoredEvent], rules: RuleSet) -> list[Finding]:
    """Run the rules over `events`, which must come in time order (`Store.iter_events`'s
    default order), streaming: only the live-process table is kept between events."""
    table = ProcessTable()
    track = any(r.enabled and r.id == ABOVE_PARENT for r in rules.rules)
    out: list[Finding] = []
    for store_id, event in events:
        parent = table.parent(event) if track and event.event_id == PROCESS_CREATED else None
        out.extend(evaluate(rules, store_id, event, parent))
        if track:
            table.feed(store_id, event)
    return out


@dataclass(frozen=True)
class FindingsData:
    """The findings of a store, with the title and severity of each rule (for grouping) and
    where the rules came from (built-in defaults, the user's file)."""

    findings: list[Finding]
    titles: dict[str, str]
    severities: dict[str, str]
    sources: tuple[str, ...]


def store_findings(store: Store, rules: RuleSet) -> FindingsData:
    """Every finding of `rules` over the whole store."""
    findings = run_findings(iter_store_events(store, rules), rules)
    return FindingsData(
        findings=findings,
        titles={r.id: r.title for r in rules.rules},
        severities={r.id: r.severity for r in rules.rules},
        sources=tuple(rules.sources),
    )


def findings_for_event(
    stored: StoredEvent, rules: RuleSet, store: Store | None = None, *, lookup: ParentLookup | None = None
) -> list[Finding]:
    """Which rules fire on one event and why (the UI's detail pane).

    The integrity-above-parent rule needs the parent's 4688: pass the `store` (or a `lookup`);
    without either that rule is skipped for this event.
    """
    store_id, event = stored
    parent: ParentInfo | None = None
    if event.event_id == PROCESS_CREATED:
        finder = lookup or (store_parent_lookup(store) if store is not None else None)
        if finder is not None:
            parent = finder(event, store_id)
    return evaluate(rules, store_id, event, parent)


def findings_json(finding: Finding) -> dict[str, Any]:
    """The CLI's JSON object for one finding."""
    from core.model.event import iso_from_filetime

    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "record_id": finding.record_id,
        "event_id": finding.event_id,
        "computer": finding.computer,
        "time": iso_from_filetime(finding.time),
        "message": finding.message,
    }
