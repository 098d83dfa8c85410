"""Loading Sigma rule files with pySigma: what loaded, what did not and why, what is left out.

Rules come from directories (`--sigma DIR`, else `<user config dir>/sigma`). Every `.yml` /
`.yaml` under them is parsed by pySigma (`SigmaCollection.from_yaml`, errors collected): a file
that does not parse is listed with its reason and the others load. The defaults leave out
`status: deprecated/unsupported` and `level: informational/low` (hayabusa's defaults: they are
noisy or broken by their authors' own account); `min_level` / `statuses` change that.

Nothing here touches the network: pySigma's MITRE ATT&CK tables (downloaded on first use) are
never consulted; tactic names come from the rule's own tags through `TACTICS`.
"""

from __future__ import annotations

import os
import pickle
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.model.small_files import read_small

#: Bounds on what a rule directory may hold (a user may point at the wrong folder).
MAX_FILES = 20_000
MAX_FILE_BYTES = 1_000_000
#: Bounds on searching a folder for rule files (SigmaHQ's whole repository: ~4,000 entries, 6 deep).
MAX_ENTRIES = 200_000
MAX_DEPTH = 16
#: Rule files between two progress reports.
PROGRESS_FILES = 100
LEVELS: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("stable", "test", "experimental", "deprecated", "unsupported")
DEFAULT_MIN_LEVEL = "medium"
DEFAULT_STATUSES: tuple[str, ...] = ("stable", "test", "experimental")

#: ATT&CK tactic tag (SigmaHQ spells them `attack.<slug>`) -> its name.
TACTICS: dict[str, str] = {
    "reconnaissance": "Reconnaissance",
    "resource-development": "Resource Development",
    "initial-access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege-escalation": "Privilege Escalation",
    "defense-evasion": "Defense Evasion",
    "defense-impairment": "Defense Impairment",
    "credential-access": "Credential Access",
    "discovery": "Discovery",
    "lateral-movement": "Lateral Movement",
    "collection": "Collection",
    "command-and-control": "Command and Control",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
}


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """What a finding shows of its rule (the Detection Rule License requires `author`)."""

    id: str
    title: str
    level: str
    status: str
    author: str
    path: str
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    description: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What the engine needs of a parsed rule (picklable: parsed rule sets are cached):
    its logsource and detection plan (`core.findings.sigma.compiler.plan`), or why there is none."""

    product: str | None
    category: str | None
    service: str | None
    plan: tuple[Any, ...] | None
    unsupported: str = ""
    correlation: str = ""
    #: Correlations: the rules referred to (name or id), group-by fields, window (seconds),
    #: condition (operator, count, field counted by value_count).
    refs: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    timespan: int = 0
    condition: tuple[str, float, str | None] = ("gte", 1, None)
    #: `generate: true`: the rules referred to are shown on their own too (the spec's default,
    #: false: only the correlation is).
    generate: bool = False


@dataclass
class LoadedRules:
    """The rules of some directories: `rules` (pySigma objects, with their meta) to compile,
    `errors` (file, reason) that did not parse, `left_out` counts by reason (level, status)."""

    rules: list[tuple[RuleMeta, RuleSpec]] = field(default_factory=list)
    correlations: list[tuple[RuleMeta, RuleSpec]] = field(default_factory=list)
    #: Rules the filters left out: a correlation may still refer to them.
    hidden: list[tuple[RuleMeta, RuleSpec]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()

    def leave_out(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1


def default_dir() -> Path:
    """`<user config dir>/sigma` (where `rules update` installs SigmaHQ), beside rules.toml."""
    from core.findings.rules import config_dir

    return config_dir() / "sigma"


#: Folders of Sigma rules (os.pathsep-separated) for when none are given: how `open --sigma`
#: reaches the app and its child processes.
ENV_DIRS = "EVTX_EXPLORER_SIGMA"


def rule_dirs(given: Sequence[str] | None) -> list[Path]:
    """The directories to load: those given, else $EVTX_EXPLORER_SIGMA, else the user's sigma
    dir if it exists, else none. Made absolute: the matches kept with a store are keyed by the
    rule files' paths, so `findings --sigma rules/` run in one folder and the app opened with the
    same rules from another (or `prepare`) must name the same files the same way."""
    if given:
        return [Path(d).resolve() for d in given]
    env = os.environ.get(ENV_DIRS)
    if env:
        return [Path(d).resolve() for d in env.split(os.pathsep) if d]
    here = default_dir()
    return [here] if here.is_dir() else []


HINT = "no Sigma rules: `evtx-explorer rules update` installs SigmaHQ's, or pass --sigma DIR"


def rule_files(dirs: Iterable[Path], problems: list[tuple[str, str]] | None = None) -> list[Path]:
    """Every .yml/.yaml under `dirs`, sorted, at most MAX_FILES (deprecated/ folders included:
    their rules carry the status that leaves them out). A folder is searched MAX_DEPTH deep and
    through MAX_ENTRIES entries at most (`--sigma /` walked the whole disk, /proc included):
    past them, (folder, why) goes to `problems`; so does a path named that is neither a folder
    nor a regular file (a FIFO, /dev/zero, gone: `--sigma` on one said "0 rules" and nothing
    else), and a folder that cannot be read."""
    found: list[Path] = []

    def unreadable(exc: OSError) -> None:
        if problems is not None:
            problems.append((str(exc.filename or ""), f"cannot read this folder: {exc.strerror or exc}"))

    for root in dirs:
        try:
            mode = root.stat().st_mode
        except (OSError, ValueError) as exc:  # (gone, unreadable, a name too long or with a NUL)
            if problems is not None:
                problems.append((str(root), getattr(exc, "strerror", None) or str(exc)))
            continue
        if stat.S_ISREG(mode):
            found.append(root)
            continue
        if not stat.S_ISDIR(mode):  # (inside a folder, such a file is "not a regular file" too)
            if problems is not None:
                problems.append((str(root), "not a regular file or a folder"))
            continue
        entries, depth0 = 0, len(root.parts)
        for dirpath, dirnames, names in os.walk(root, onerror=unreadable):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(Path(dirpath).parts) - depth0 >= MAX_DEPTH:
                dirnames.clear()
            found.extend(Path(dirpath) / n for n in sorted(names) if n.endswith((".yml", ".yaml")))
            if len(found) > MAX_FILES:
                if problems is not None:  # (said: 30,000 of 50,000 installed rules never ran, unsaid)
                    problems.append((str(Path(dirpath)), f"more than {MAX_FILES:,} rule files: the first "
                                                         f"{MAX_FILES:,} are loaded, the rest are not"))
                return found[:MAX_FILES]
            entries += len(dirnames) + len(names)
            if entries > MAX_ENTRIES:
                if problems is not None:
                    problems.append((str(root), f"more than {MAX_ENTRIES:,} entries: searched no further "
                                                "(name the rules folder itself)"))
                break
    return found


def _tags(rule: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tactics: list[str] = []
    techniques: list[str] = []
    for tag in getattr(rule, "tags", None) or ():
        if str(tag.namespace).lower() != "attack":
            continue
        name = str(tag.name).lower()
        if name in TACTICS:
            tactics.append(TACTICS[name])
        elif name[:1] == "t" and name[1:5].isdigit():
            techniques.append(name.upper())
    return tuple(tactics), tuple(techniques)


def meta_of(rule: Any, path: str) -> RuleMeta:
    tactics, techniques = _tags(rule)
    return RuleMeta(
        id=str(rule.id or ""),
        title=str(rule.title or ""),
        level=str(rule.level.name.lower()) if rule.level is not None else "",
        status=str(rule.status.name.lower()) if rule.status is not None else "",
        author=str(rule.author or ""),
        path=path,
        tactics=tactics,
        techniques=techniques,
        description=str(rule.description or "").strip(),
        name=str(getattr(rule, "name", None) or ""),
    )


def _wanted(meta: RuleMeta, min_level: str, statuses: Sequence[str]) -> str | None:
    """Why the rule is left out by the level/status filters, or None."""
    if meta.status and meta.status not in statuses:
        return f"status {meta.status}"
    if meta.level in LEVELS and LEVELS.index(meta.level) < LEVELS.index(min_level):
        return f"level {meta.level}"
    return None


def _spec(rule: Any, generate: bool = False) -> RuleSpec:
    """`generate`: the rule's document says `generate: true` at its top, where the spec's schema
    puts it (pySigma reads it in the `correlation` section only: either is taken)."""
    from sigma.correlations import SigmaCorrelationRule

    from .compiler import Unsupported, plan

    if isinstance(rule, SigmaCorrelationRule):
        cond: Any = rule.condition
        unsupported = ""
        if rule.aliases and rule.aliases.aliases:
            unsupported = "field aliases"
        elif not hasattr(cond, "op") or isinstance(cond.fieldref, list):
            unsupported = "extended correlation conditions"
        return RuleSpec(
            None, None, None, None, unsupported=unsupported, correlation=str(rule.type.name.lower()),
            refs=tuple(str(r.reference) for r in rule.rules or ()), group_by=tuple(rule.group_by or ()),
            timespan=int(rule.timespan.seconds),
            condition=(str(cond.op.name.lower()), cond.count, cond.fieldref) if not unsupported else ("gte", 1, None),
            generate=bool(rule.generate) or generate,
        )
    ls = rule.logsource
    try:
        return RuleSpec(ls.product, ls.category, ls.service, plan(rule))
    except Unsupported as exc:
        return RuleSpec(ls.product, ls.category, ls.service, None, unsupported=str(exc))


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_file(path: Path) -> tuple[list[tuple[RuleMeta, RuleSpec]], str | None]:
    """The rules of one file, or why it does not parse. A YAML file that is not a rule (no
    `detection` or `correlation` key: a test's info.yml, a CI config) is none, silently."""
    from sigma.collection import SigmaCollection

    from .quiet_re2 import install

    install()  # (RE2 wrote a rejected pattern, raw, to the terminal)
    try:
        try:
            text = read_small(path, MAX_FILE_BYTES).decode("utf-8")
        except OSError as exc:  # (a named pipe, /dev/zero, too big: said as such)
            return [], exc.strerror or str(exc)
        if "detection:" not in text and "correlation:" not in text:
            return [], None
        # libyaml where it is there: pySigma's `from_yaml` uses PyYAML's pure-Python loader, 80%
        # of a cold parse of SigmaHQ (18 of 22 s profiled). Same safe loader, same documents.
        docs = list(yaml.load_all(text, Loader=_LOADER))
        # References between rules (correlations) are resolved over every file, by the engine.
        collection = SigmaCollection.from_dicts(docs, collect_errors=True, resolve_references=False)
        if collection.errors:
            return [], str(collection.errors[0])
        rules = list(collection.rules)
        for rule in rules:
            if rule.errors:
                return [], str(rule.errors[0])
        # `generate: true` at the top of each correlation's document (pySigma makes one correlation
        # rule of each, in order).
        tops = iter([d.get("generate") is True for d in docs
                     if isinstance(d, dict) and "correlation" in d and d.get("action") is None])
        return [(meta_of(rule, str(path)), _spec(rule, hasattr(rule, "generate") and next(tops, False)))
                for rule in rules], None
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's reason
        return [], f"{type(exc).__name__}: {exc}"


#: Parsed files by (path, size, mtime): a cold parse of SigmaHQ costs about 2.8 s of CPU (libyaml,
#: pySigma and our plans about a third each), a warm one 0.2 s.
_CACHE_VERSION = 4  # 4: RuleSpec.generate; timestamp parts refused, numbers above 2**53 refused


def _cache_path() -> Path:
    """Beside the cache databases (`core.store.cache.cache_dir`: its override applies too)."""
    from core.store.cache import cache_dir

    return cache_dir() / f"sigma-parsed-{_CACHE_VERSION}.pickle"


#: The parsed-rule cache read back at most (SigmaHQ's ~3,000 rules: a few MB).
CACHE_BYTES = 256 << 20


def _read_cache(path: Path) -> dict[tuple[str, int, int], Any]:
    """Our own cache file, written by `_write_cache` (a regular file only: a named pipe there hung
    every run with Sigma rules)."""
    try:
        value = pickle.loads(read_small(path, CACHE_BYTES))  # noqa: S301 - our own cache file, written below
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError,
            RecursionError, MemoryError, IndexError, KeyError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_cache(path: Path, value: dict[tuple[str, int, int], Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass


def load_rules(
    dirs: Sequence[Path],
    *,
    min_level: str = DEFAULT_MIN_LEVEL,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    cache: Path | bool | None = True,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedRules:
    """Parse every rule file under `dirs` (see the module doc); parsed files are kept in a
    cache (`cache`: True = the user cache dir, a path, or False) by path, size and time.
    `progress(files read, files)` every PROGRESS_FILES files, and at the end."""
    out = LoadedRules(dirs=tuple(str(d) for d in dirs))
    cache_file = _cache_path() if cache is True else (cache or None)
    old = _read_cache(cache_file) if cache_file is not None else {}
    new: dict[tuple[str, int, int], Any] = {}
    files = rule_files(dirs, out.errors)
    for done, path in enumerate(files):
        if progress is not None and done and not done % PROGRESS_FILES:
            progress(done, len(files))
        try:
            st = path.stat()
        except OSError as exc:
            out.errors.append((str(path), str(exc)))
            continue
        key = (str(path), st.st_size, st.st_mtime_ns)
        parsed = old.get(key) if stat.S_ISREG(st.st_mode) else None  # (a special file: never kept)
        if parsed is None:
            parsed = parse_file(path)
        if stat.S_ISREG(st.st_mode):
            new[key] = parsed
        rules, error = parsed
        if error is not None:
            out.errors.append((str(path), error.splitlines()[0] if error else "unreadable"))
            continue
        for meta, spec in rules:
            why = _wanted(meta, min_level, statuses)
            if why is not None:
                out.leave_out(why)
                out.hidden.append((meta, spec))
            elif spec.correlation:
                out.correlations.append((meta, spec))
            else:
                out.rules.append((meta, spec))
    if progress is not None:
        progress(len(files), len(files))
    if cache_file is not None and new != old:
        _write_cache(cache_file, new)
    return out
