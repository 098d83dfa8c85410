"""Findings rules: the analyst's lists, patterns and severities, read from TOML and checked.

Every knob lives in a TOML file so that a site can tune the 4688 monitoring recommendations to
its own accounts, folders and computers without touching code. The built-in
`core/findings/default_rules.toml` gives defaults that make sense on a fresh install; a user file (from
`--rules FILE`, else `<user config dir>/evtx-explorer/rules.toml`) is laid over it key by key,
so a user can change one severity without restating the lists. A bad file is refused as a
whole, with the line (where it can be found) and the reason: a typo in a key silently ignored
would switch a detection off without anyone noticing.

The rule logic is in `core.findings.engine`; this module only knows shapes and types (`SPECS`).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import functools
import hashlib
import json
import os
import re
import sys
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from core.findings.linear_regex import rx
from core.model.small_files import read_small

APP_NAME = "evtx-explorer"
#: A rules file read at most (the built-in one is a few KB; `--rules` may name anything).
MAX_RULES_BYTES = 4 * 1024 * 1024
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
#: Account kinds that `account_types` / `allowed_types` lists may name (see `core.findings.engine.account_kind`).
ACCOUNT_TYPES: tuple[str, ...] = ("machine", "well-known", "local-user", "domain-user")
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Option kinds understood by the validator.
BOOL, STR, INT_LIST, STR_LIST = "bool", "str", "list[int]", "list[str]"
REGEX, SEVERITY, TIME, TIMEZONE = "regex", "severity", "time", "timezone"
STR_LIST_MAP = "map[str, list[str]]"
ACCOUNT_TYPE_LIST = "list[account-type]"
DAY_LIST = "list[day]"

#: Keys every rule table accepts.
COMMON: dict[str, str] = {"enabled": BOOL, "severity": SEVERITY, "event_ids": INT_LIST}

#: Array-of-tables options: option name -> the keys of each entry.
ENTRY_SPECS: dict[str, dict[str, str]] = {
    "allowlists": {"name": STR, "images": STR_LIST, "accounts": STR_LIST},
    "account_types_by_image": {"name": STR, "images": STR_LIST, "allowed_types": ACCOUNT_TYPE_LIST},
    "restricted": {"name": STR, "computers": STR_LIST, "accounts": STR_LIST},
}

#: rule id -> (one-line title, option name -> kind). Array-of-tables options use kind "entries".
SPECS: dict[str, tuple[str, dict[str, str]]] = {
    "image-outside-standard-folders": (
        "Process image outside the standard folders",
        {"fields": STR_LIST, "standard_folders": STR_LIST},
    ),
    "image-in-restricted-folder": (
        "Process image in a restricted folder (Temp, Downloads, ...)",
        {"fields": STR_LIST, "restricted_folders": STR_LIST},
    ),
    "unexpected-image-path": (
        "Known process name at an unexpected path",
        {"fields": STR_LIST, "expected": STR_LIST_MAP},
    ),
    "restricted-substring": (
        "Restricted substring in a process image or command line",
        {"fields": STR_LIST, "substrings": STR_LIST, "decode_command_line": BOOL},
    ),
    "uac-disabled": (
        "Full token (%%1936) for a real user account: UAC likely off",
        {"exclude_accounts": STR_LIST},
    ),
    "run-as-administrator": (
        "Elevated token (%%1937) for a real user on a workstation: run as administrator",
        {"workstations": STR_LIST, "exclude_computers": STR_LIST, "exclude_accounts": STR_LIST},
    ),
    "elevated-foreign-computer-account": (
        "Elevated token (%%1937) for another computer's account",
        {"workstations": STR_LIST, "exclude_computers": STR_LIST},
    ),
    "mandatory-label-of-interest": (
        "Process started with a mandatory label of interest",
        {"labels": STR_LIST},
    ),
    "mandatory-label-above-parent": (
        "Process integrity level above its parent's",
        {"ignore_images": STR_LIST},
    ),
    "high-value-account": ("High-value account in action", {"accounts": STR_LIST}),
    "inactive-account": ("Account that should be inactive in action", {"accounts": STR_LIST}),
    "account-not-allowlisted": (
        "Account outside the allowlist for an action",
        {"allowlists": "entries"},
    ),
    "unexpected-account-type": (
        "Account of an unexpected type for an action",
        {"account_types_by_image": "entries"},
    ),
    "account-naming-convention": (
        "Account name breaks the naming convention",
        {"pattern": REGEX, "account_types": ACCOUNT_TYPE_LIST, "exclude_accounts": STR_LIST},
    ),
    "foreign-domain-account": (
        "Account from a foreign domain",
        {"allowed_domains": STR_LIST, "allow_computer_domain": BOOL, "account_types": ACCOUNT_TYPE_LIST},
    ),
    "local-account-process": ("Local account running a process", {"exclude_accounts": STR_LIST}),
    "restricted-computer": (
        "Account acting on a restricted computer",
        {"restricted": "entries"},
    ),
    "outside-working-hours": (
        "Account used outside working hours",
        {
            "start": TIME,
            "end": TIME,
            "days": DAY_LIST,
            "timezone": TIMEZONE,
            "account_types": ACCOUNT_TYPE_LIST,
            "exclude_accounts": STR_LIST,
        },
    ),
}

_MAX_LIST = 10_000
#: A refusal's reason is cut here: it quotes the file, and the file may be anything.
MAX_REASON = 500
#: An EventID is 16 bits (the EVTX record's field); a larger one could never match.
MAX_EVENT_ID = 0xFFFF


class RulesError(Exception):
    """A rules file we refuse: `path`, `line` (1-based, None when unknown) and `reason`."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "..."  # (a key may be 4 MB)
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {self.reason}")


@dataclass(frozen=True, slots=True)
class Rule:
    """One configured rule. `options` holds validated values (regexes compiled, times parsed)."""

    id: str
    title: str
    enabled: bool
    severity: str
    event_ids: frozenset[int]
    options: Mapping[str, Any] = field(default_factory=dict)

    def strs(self, key: str) -> tuple[str, ...]:
        value = self.options.get(key, ())
        return tuple(value)

    def flag(self, key: str) -> bool:
        return bool(self.options.get(key, False))

    def get(self, key: str) -> Any:
        return self.options.get(key)

    def entries(self, key: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.options.get(key, ()))


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in force and where they came from (`sources`: built-in, then the user file).
    `digest` names the texts they were read from (`rules_digest`): findings kept with a store
    are reused only for the same one (`core.findings.stored`); "" (rules built otherwise) never."""

    rules: tuple[Rule, ...]
    sources: tuple[str, ...]
    digest: str = ""

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)


# -- loading ----------------------------------------------------------------------------------


def config_dir() -> Path:
    """The user config dir (`EVTX_EXPLORER_CONFIG_DIR` overrides it, for tests and portable use)."""
    override = os.environ.get("EVTX_EXPLORER_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def user_rules_path() -> Path:
    return config_dir() / "rules.toml"


def default_rules_text() -> str:
    return resources.files("core.findings").joinpath("default_rules.toml").read_text(encoding="utf-8")


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Built-in defaults overlaid with `path`, else with the user's rules.toml when it exists.

    Raises RulesError for a file that cannot be read, is not valid TOML, or holds an unknown
    rule, an unknown key, a value of the wrong type, a bad regex, severity or time.
    """
    default = default_rules_text()
    base = _parse("<built-in default_rules.toml>", default)
    sources, texts = ["built-in"], [default]
    user: Path | None = Path(path) if path is not None else None
    if user is None and user_rules_path().is_file():
        user = user_rules_path()
    merged = base
    if user is not None:
        try:
            text = read_small(user, MAX_RULES_BYTES, pipes=True).decode("utf-8")  # (`--rules <(...)`)
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RulesError(str(user), None, f"cannot read rules file: {why}") from None
        merged = _merge(base, _parse(str(user), text))
        sources.append(str(user))
        texts.append(text)
    return RuleSet(tuple(_build(rid, title, merged.get(rid, {})) for rid, (title, _) in SPECS.items()), tuple(sources),
                   rules_digest(sources, texts))


def parse_rules_text(text: str, name: str = "<rules>") -> RuleSet:
    """Defaults overlaid with TOML `text` (for tests and the UI's rule editor)."""
    default = default_rules_text()
    merged = _merge(_parse("<built-in default_rules.toml>", default), _parse(name, text))
    return RuleSet(
        tuple(_build(rid, title, merged.get(rid, {})) for rid, (title, _) in SPECS.items()), ("built-in", name),
        rules_digest(["built-in", name], [default, text]),
    )


def rules_digest(sources: list[str], texts: list[str]) -> str:
    """A digest of the rules' texts (the built-in file, then the user's) and where they came
    from: a byte changed in either gives another one. The code's own defaults (`SPECS`, the
    checks) are named by `core.findings.stored.FINDINGS_VERSION` instead."""
    parts = json.dumps([sources, texts], ensure_ascii=True)
    return hashlib.sha256(parts.encode("ascii")).hexdigest()


def _build(rule_id: str, title: str, table: Mapping[str, Any]) -> Rule:
    opts = {k: v for k, v in table.items() if k not in COMMON}
    event_ids = set(table.get("event_ids", [4688]))
    if rule_id == "mandatory-label-above-parent":
        # It fires on 4688 only, but must see the 4689 exits to know which parent is alive;
        # callers that pre-filter events by `event_ids` then keep them.
        event_ids.add(4689)
    return Rule(
        id=rule_id,
        title=title,
        enabled=bool(table.get("enabled", True)),
        severity=str(table.get("severity", "medium")),
        event_ids=frozenset(event_ids),
        options=opts,
    )


def _merge(base: dict[str, dict[str, Any]], over: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {rid: dict(table) for rid, table in base.items()}
    for rid, table in over.items():
        out.setdefault(rid, {}).update(table)
    return out


_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse(path: str, text: str) -> dict[str, dict[str, Any]]:
    """Parse and validate one rules document into rule id -> validated options."""
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # (tomllib recurses per nested array or inline table)
        raise RulesError(path, None, "TOML nested too deep") from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _LINE_RE.search(msg)
        line = int(m.group(1)) if m else None
        reason = _LINE_RE.sub("", msg).strip()
        if m:
            reason += f" (column {m.group(2)})"
        elif "(at end of document)" in msg:
            # An unclosed string or list: point at the last line that holds anything.
            lines = text.splitlines()
            line = max((i for i, raw in enumerate(lines, start=1) if raw.strip()), default=1)
            reason = reason.replace("(at end of document)", "(at end of file)").strip()
        raise RulesError(path, line, f"TOML syntax error: {reason}") from None
    except ValueError:  # (not a TOMLDecodeError: Python's limit on the digits of an integer)
        raise RulesError(path, _long_number_line(text), "a number too long to read") from None
    for key in doc:
        if key != "rules":
            raise RulesError(path, _locate(text, None, key), f"unknown top-level key {key!r} (expected [rules.<id>])")
    rules = doc.get("rules", {})
    if not isinstance(rules, dict):
        raise RulesError(path, _locate(text, None, "rules"), "'rules' must be a table of [rules.<id>] tables")
    out: dict[str, dict[str, Any]] = {}
    for rid, table in rules.items():
        header = f"rules.{rid}"
        if rid not in SPECS:
            known = ", ".join(SPECS)
            raise RulesError(path, _locate(text, header, None), f"unknown rule {rid!r}; known rules: {known}")
        if not isinstance(table, dict):
            raise RulesError(path, _locate(text, "rules", rid), f"[{header}] must be a table")
        spec = {**COMMON, **SPECS[rid][1]}
        checked: dict[str, Any] = {}
        for key, value in table.items():
            line = _locate(text, header, key)
            if key not in spec:
                raise RulesError(path, line, f"unknown key {key!r} in [{header}]; allowed: {', '.join(sorted(spec))}")
            kind = spec[key]
            if kind == "entries":
                checked[key] = _check_entries(path, text, header, key, value)
            else:
                checked[key] = _check(path, line, f"{header}.{key}", kind, value)
        out[rid] = checked
    return out


def _long_number_line(text: str) -> int | None:
    """The line of the first integer longer than Python converts (tomllib names none)."""
    found = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1},}}", text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _check_entries(path: str, text: str, header: str, key: str, value: Any) -> list[dict[str, Any]]:
    entry_header = f"{header}.{key}"
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RulesError(
            path, _locate(text, header, key), f"{entry_header} must be an array of tables [[{entry_header}]]"
        )
    if len(value) > _MAX_LIST:
        raise RulesError(path, None, f"{entry_header}: too many entries ({len(value)} > {_MAX_LIST})")
    spec = ENTRY_SPECS[key]
    out: list[dict[str, Any]] = []
    for entry in value:
        checked: dict[str, Any] = {"name": ""}
        for k, v in entry.items():
            line = _locate(text, entry_header, k)
            if k not in spec:
                raise RulesError(
                    path, line, f"unknown key {k!r} in [[{entry_header}]]; allowed: {', '.join(sorted(spec))}"
                )
            checked[k] = _check(path, line, f"{entry_header}.{k}", spec[k], v)
        missing = [k for k in spec if k != "name" and k not in checked]
        if missing:
            raise RulesError(path, _locate(text, entry_header, None), f"[[{entry_header}]] lacks {', '.join(missing)}")
        out.append(checked)
    return out


def _check(path: str, line: int | None, where: str, kind: str, value: Any) -> Any:
    """Validate one value of `kind`; return it in the form the engine uses."""

    def bad(expected: str) -> RulesError:
        return RulesError(path, line, f"{where} must be {expected}, not {type(value).__name__} {_shown(value)}")

    if kind == BOOL:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == STR:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == SEVERITY:
        if not isinstance(value, str) or value.lower() not in SEVERITIES:
            raise bad("one of " + ", ".join(SEVERITIES))
        return value.lower()
    if kind == REGEX:
        if not isinstance(value, str):
            raise bad("a regular expression string")
        try:  # (RE2 where it can: the names it runs on are the log's, `core.findings.linear_regex`)
            return rx(value)
        except (re.error, OverflowError, ValueError) as exc:
            raise RulesError(path, line, f"{where}: bad regular expression {value!r}: {exc}") from None
        except RecursionError:  # (Python's parser, for a pattern RE2 refused, recurses per group)
            raise RulesError(path, line, f"{where}: regular expression nested too deep") from None
    if kind == TIME:  # "HH:MM" (seconds, a fraction allowed) or TOML's own local time, `start = 07:00`
        try:
            parsed = value if isinstance(value, _dt.time) else _dt.time.fromisoformat(value)
        except (TypeError, ValueError):
            raise bad('a time "HH:MM"') from None
        if parsed.tzinfo is not None:  # (compared with the event's time in `timezone`: no other offset)
            raise RulesError(path, line, f"{where}: {value!s:.40} has a UTC offset; give the local time and set "
                             "the rule's `timezone` instead")
        return parsed
    if kind == TIMEZONE:
        if not isinstance(value, str):
            raise bad('a time zone name such as "UTC" or "Europe/Paris"')
        try:
            return zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # (not found; a path, "", NUL, no zone file; a folder of zones ("America"), too long: OSError)
            raise RulesError(path, line, f"{where}: unknown time zone {value!r}") from None
    if kind == STR_LIST_MAP:
        if not isinstance(value, dict):
            raise bad("a table of name = [paths]")
        if len(value) > _MAX_LIST:
            raise RulesError(path, line, f"{where}: too many names ({len(value)} > {_MAX_LIST})")
        return {str(k).lower(): tuple(_check(path, line, f"{where}.{k}", STR_LIST, v)) for k, v in value.items()}
    if kind in (INT_LIST, STR_LIST, ACCOUNT_TYPE_LIST, DAY_LIST):
        if not isinstance(value, list):
            raise bad("a list")
        if len(value) > _MAX_LIST:
            raise RulesError(path, line, f"{where}: too many items ({len(value)} > {_MAX_LIST})")
        if kind == INT_LIST:
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise bad("a list of integers")
            wrong_ids = [v for v in value if not 0 <= v <= MAX_EVENT_ID]
            if wrong_ids:
                raise RulesError(path, line, f"{where}: EventID {_shown(wrong_ids[0])} out of range (0-{MAX_EVENT_ID})")
            return list(value)
        if not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        if kind == ACCOUNT_TYPE_LIST:
            wrong = [v for v in value if v not in ACCOUNT_TYPES]
            if wrong:
                raise RulesError(
                    path, line, f"{where}: unknown account type {wrong[0]!r}; use {', '.join(ACCOUNT_TYPES)}"
                )
        if kind == DAY_LIST:
            wrong = [v for v in value if v.lower() not in DAYS]
            if wrong:
                raise RulesError(path, line, f"{where}: unknown day {wrong[0]!r}; use {', '.join(DAYS)}")
            return [v.lower() for v in value]
        return list(value)
    raise AssertionError(f"unknown option kind {kind}")  # pragma: no cover - a bug in SPECS


def _shown(value: Any) -> str:
    """A value quoted in a refusal, cut short; never an error itself (a hex integer's repr has a digit limit)."""
    try:
        return repr(value)[:200]
    except (ValueError, RecursionError):
        return "<too large to show>"


_HEADER_RE = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?\Z")


def _norm_header(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


def _locate(text: str, header: str | None, key: str | None) -> int | None:
    """Best-effort 1-based line of `key` under table `header` (or of the header itself): tomllib
    reports lines only for syntax errors. The text is scanned once (`_lines`; once per key, a file
    of 10,000 entries took minutes). Dotted keys and inline tables are not tracked: then the line
    is None and the reason still names the table and key."""
    return _lines(text).get((header, key))


_KEY_RE = re.compile(r"\s*[\"']?([^\"'=]+?)[\"']?\s*=")


@functools.lru_cache(maxsize=2)  # (the built-in text and the user's)
def _lines(text: str) -> dict[tuple[str | None, str | None], int]:
    """The first line of each table header, (header, None), and of each key under it."""
    found: dict[tuple[str | None, str | None], int] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        m = _HEADER_RE.match(raw)
        if m:
            current = _norm_header(m.group(1))
            found.setdefault((current, None), number)
        elif k := _KEY_RE.match(raw):
            found.setdefault((current, k.group(1)), number)
    return found


# -- matching helpers shared by the engine ----------------------------------------------------


def glob_match(value: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Case-insensitive shell-style match of `value` against any of `patterns`."""
    low = value.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)
