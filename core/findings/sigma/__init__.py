"""Sigma rules (SigmaHQ's format) over the event store, beside the built-in findings.

`run_sigma(store, dirs)` loads the rules under `dirs` with pySigma (`ruleset`), compiles them
into Python functions per event source (`compiler`, `logsources`), runs them over the events
they can match (`engine`, `core.store.sigma_reads`) and keeps the result with the store.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

from core.store import findings_tables
from core.store import sigma_reads as storage
from core.store.store import Store

from .engine import CompiledRules, SigmaMatch, SigmaResult, compile_rules, run_compiled
from .logsources import ANY_CHANNEL
from .progress import EVALUATING, LOADING, Progress, SigmaProgress
from .ruleset import DEFAULT_MIN_LEVEL, DEFAULT_STATUSES, HINT, LEVELS, STATUSES, RuleMeta, load_rules, rule_dirs

__all__ = [
    "DEFAULT_MIN_LEVEL", "DEFAULT_STATUSES", "HINT", "LEVELS", "STATUSES", "CompiledRules", "RuleMeta",
    "SigmaMatch", "SigmaProgress", "SigmaResult", "cached_sigma", "compile_dirs", "rule_dirs", "run_sigma",
]


#: Part of the cached results' key: bump when the engine's answers change.
#: 2: a cut value says how much is left; 3: copies matched once; 4: correlations as the spec says
#: (temporal counts rules, a missing group-by field is no group, `generate`, chains), and values
#: (exact numbers, IPv4-mapped addresses in IPv4 networks, `product: windows` alone on every event).
ENGINE_VERSION = "sigma-engine-5"


def compile_dirs(
    dirs: Sequence[Path], *, min_level: str = DEFAULT_MIN_LEVEL, statuses: Sequence[str] = DEFAULT_STATUSES,
    progress: Progress | None = None,
) -> CompiledRules:
    """Load and compile the rules under `dirs`."""
    loading = None if progress is None else (lambda done, total: progress(SigmaProgress(LOADING, done, total)))
    return compile_rules(load_rules(dirs, min_level=min_level, statuses=statuses, progress=loading))


def _key(store: Store, dirs: Sequence[Path], min_level: str, statuses: Sequence[str]) -> str:
    """The cached result's key: the engine, the filters, the rule files (path, size, time: a
    changed rule file gets another) and the store's content (more events, another key)."""
    from .ruleset import rule_files

    files = []
    for path in rule_files(dirs):
        try:
            st = path.stat()
        except OSError:
            continue
        files.append((str(path), st.st_size, st.st_mtime_ns))
    content = findings_tables.content_key(store) or "partial"  # a store still loading: as before
    return storage.result_key([ENGINE_VERSION, min_level, sorted(statuses), files, content])


def cached_sigma(
    store: Store, dirs: Sequence[Path], *, min_level: str = DEFAULT_MIN_LEVEL,
    statuses: Sequence[str] = DEFAULT_STATUSES, key: str | None = None,
) -> SigmaResult | None:
    """The result kept with the store for these rules, or None (none, or damaged: run them)."""
    cached = storage.load_result(store, key or _key(store, dirs, min_level, statuses))
    if cached is None:
        return None
    try:
        value = pickle.loads(cached)  # noqa: S301 - written by this module into our own cache
    except Exception:  # noqa: BLE001 - a damaged entry: compute it again
        return None
    return value if isinstance(value, SigmaResult) else None


Query = tuple[list[int], list[str], list[tuple[str, str, str]]]


def read_plan(store: Store, compiled: CompiledRules) -> tuple[Query, set[int] | None]:
    """Which events to read (`sigma_reads.candidates`' EventIDs, channels, value tests) and the
    only events the rules of every channel can match: those holding one of their keywords, when
    the posting lists can say (else None, and they read every event)."""
    ids, chans, tests = compiled.query()
    words = compiled.keywords()
    star_ids = storage.keyword_ids(store, words) if words is not None and ANY_CHANNEL in chans else None
    if star_ids is not None:
        chans = [ch for ch in chans if ch != ANY_CHANNEL]
    return (ids, chans, tests), star_ids


def run_sigma(
    store: Store,
    dirs: Sequence[Path],
    *,
    min_level: str = DEFAULT_MIN_LEVEL,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> SigmaResult:
    """The Sigma matches of the store (from its cache when the same rule files were run);
    `progress` hears how far loading and evaluating are (not called for a cached result)."""
    key = _key(store, dirs, min_level, statuses)
    if use_cache:
        cached = cached_sigma(store, dirs, key=key)
        if cached is not None:
            return cached
    compiled = compile_dirs(dirs, min_level=min_level, statuses=statuses, progress=progress)
    query, star_ids = read_plan(store, compiled)
    evaluating = None
    if progress is not None:
        total, rules = storage.count_candidates(store, *query, star_ids), len(compiled.rules)
        progress(SigmaProgress(EVALUATING, 0, total, rules, 0))

        def evaluating(done: int, matches: int) -> None:
            progress(SigmaProgress(EVALUATING, min(done, total), total, rules, matches))

    result = run_compiled(storage.candidates(store, *query, star_ids), compiled, evaluating, star_ids)
    if use_cache:
        storage.save_result(store, key, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return result
