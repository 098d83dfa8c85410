"""Sigma rules over the store: compile once, read each candidate event once, keep the matches.

`compile_rules` turns loaded rules into per-source functions (`core.findings.sigma.compiler`): one for
each source of the rule's logsource (`core.findings.sigma.logsources`), or a reason it is not run there
(unsupported logsource or modifier, a field the source lacks where the rule needs it). `run`
reads the candidate events in one pass (`core.store.sigma_reads.candidates`: by EventID where the
rules allow it), dispatches each by (channel, EventID) to the rules that can match it, and
returns a `SigmaResult`: matches with their rule's metadata, and what ran and what was skipped
per source.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.model.same_records import record_key

from . import correlate
from .compiler import Lower, Match, Node, Unsupported, build, definite, event_ids, fields_of, keyword_tests
from .index import Bucket, keyword_needs, needs
from .logsources import ANY_CHANNEL, MAP_4688, SYSTEM_FIELDS, map_4688, sources_for
from .ruleset import LoadedRules, RuleMeta, RuleSpec

#: Longest value kept as a match's evidence (a command line can be 32 K characters).
EVIDENCE_CHARS = 400
#: Why a rule is not run on a source that lacks fields it needs (`definite`).
MISSING = "needs a field this source lacks"
#: Matches kept per rule: a rule firing on every event of a big log is noise past this.
MAX_MATCHES_PER_RULE = 10_000
#: Candidate events between two progress reports (about 0.1 s of evaluation).
PROGRESS_EVERY = 5_000


@dataclass(frozen=True, slots=True)
class SigmaMatch:
    """One rule firing on one event: `rule` indexes `SigmaResult.rules`."""

    rule: int
    store_id: int
    record_id: int
    event_id: int
    computer: str
    time: int | None
    source: str
    fields: tuple[tuple[str, str], ...]
    #: The whole values of the fields a correlation groups or counts this rule's matches by:
    #: `fields` cuts a long value (`_evidence`), and two command lines alike in their first 400
    #: characters were one group, one distinct value.
    keys: tuple[tuple[str, str], ...] = ()


@dataclass
class SigmaResult:
    """Matches, their rules (`RuleMeta`, with the author the license requires), and coverage:
    `ran[source]` rules run on each source, `skipped[source][reason]` those that were not."""

    rules: list[RuleMeta] = field(default_factory=list)
    matches: list[SigmaMatch] = field(default_factory=list)
    ran: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    truncated: dict[int, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    events: int = 0
    evaluations: int = 0
    #: Matching events left out as copies of a record loaded twice (`core.model.same_records`).
    copies: int = 0
    #: Rules shown only through the correlations referring to them (`generate: false`).
    folded: int = 0


@dataclass
class _Entry:
    rule: int
    match: Match
    mapped: bool
    fields: tuple[str, ...]
    keys: tuple[str, ...] = ()  # (the correlations' fields: `SigmaMatch.keys`)
    #: The tests of its keywords (`compiler.keyword_tests`): the fields a match's keyword is in.
    keywords: tuple[Callable[[str], bool], ...] = ()


@dataclass
class CompiledRules:
    """Rules ready to run: dispatch[(channel lower, EventID or None)] -> a `Bucket` of entries
    per field mapping (`ready` builds their indexes)."""

    rules: list[RuleMeta] = field(default_factory=list)
    dispatch: dict[tuple[str, int | None], dict[bool, Bucket]] = field(default_factory=lambda: defaultdict(dict))
    ran: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[tuple[str, str]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    missing: Counter[str] = field(default_factory=Counter)
    correlations: list[correlate.Correlation] = field(default_factory=list)
    #: Rules run only for the correlations referring to them (left out by the filters).
    hidden: set[int] = field(default_factory=set)
    #: Rules whose matches feed the correlations referring to them only (`generate: false`).
    folded: set[int] = field(default_factory=set)
    #: Texts one of which every match of a rule of every channel (`product: windows` alone)
    #: contains in a value (its keywords: `index.keyword_needs`); None once one such rule has
    #: none, or a text the posting lists cannot search (not ASCII).
    star_words: set[str] | None = field(default_factory=set)

    def skip(self, where: str, reason: str) -> None:
        self.skipped[where][reason] += 1

    def add(self, key: tuple[str, int | None], entry: _Entry, node: Node) -> None:
        if key[0] == ANY_CHANNEL and self.star_words is not None:
            words = keyword_needs(node)
            ok = words and all(w.isascii() for w in words)
            self.star_words = self.star_words | words if ok and words is not None else None
        buckets = self.dispatch[key]
        bucket = buckets.get(entry.mapped)
        if bucket is None:
            bucket = buckets[entry.mapped] = Bucket(entry.mapped)
        bucket.add(entry, needs(node), tuple(fields_of(node)))

    def ready(self) -> None:
        for buckets in self.dispatch.values():
            for bucket in buckets.values():
                bucket.build()

    def query(self) -> tuple[list[int], list[str], list[tuple[str, str, str]]]:
        """What the candidates are (`core.store.sigma_reads.candidates`): the EventIDs rules name;
        for a channel whose rules name none, the literal values they need (through the posting
        lists) when each has some, else the whole channel."""
        ids = sorted({eid for (_, eid) in self.dispatch if eid is not None})
        chans: list[str] = []
        tests: set[tuple[str, str, str]] = set()
        for (ch, eid), buckets in self.dispatch.items():
            if eid is not None:
                continue
            found = _posting_tests(buckets.values())
            if found is None:
                chans.append(ch)
            else:
                tests |= found
        return ids, sorted(chans), sorted(tests)

    def keywords(self) -> list[str] | None:
        """The rules of every channel's keywords (`star_words`), when some such rule is loaded
        and each has them: their events are those holding one (`sigma_reads.keyword_ids`), not
        every event."""
        has_star = any(ch == ANY_CHANNEL for ch, _ in self.dispatch)
        return sorted(self.star_words) if has_star and self.star_words else None


def _posting_tests(buckets: Iterable[Bucket]) -> set[tuple[str, str, str]] | None:
    """Value tests one of which every event these buckets' rules can match passes (the first
    group of each rule's `needs`), or None when some rule has none the posting lists can answer
    (a System field, a mapped field, non-ASCII text: LIKE folds ASCII only)."""
    out: set[tuple[str, str, str]] = set()
    for bucket in buckets:
        if bucket.mapped:
            return None
        for groups in bucket.atoms:
            if not groups:
                return None
            for name, kind, text in groups[0]:
                if name in SYSTEM_FIELDS or not text.isascii() or not name.isascii():
                    return None
                out.add((name, kind, text))
    return out


def _has_4688(name: str | None) -> bool:
    return name is not None and (name in MAP_4688 or name in SYSTEM_FIELDS)


def _always(name: str | None) -> bool:
    return True


def _why(exc: BaseException) -> str:
    """A rule's compile failure in a line: the kind of error and its message, bounded."""
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    message = " ".join(message.split())
    if len(message) > 200:
        message = message[:200] + "..."
    return f"its condition does not compile ({type(exc).__name__}{': ' + message if message else ''})"


def compile_one(compiled: CompiledRules, meta: RuleMeta, spec: RuleSpec, extra: Iterable[str] = ()) -> int | None:
    """Add one rule's functions to `compiled` (its index), or count why it cannot run (None).
    `extra`: fields kept with its matches besides those it tests (a correlation's group-by)."""
    where = "/".join(str(p) for p in (spec.product, spec.category, spec.service) if p) or "none"
    if spec.product is not None and spec.product.lower() != "windows":
        compiled.skip("not Windows", f"product {spec.product}")
        return None
    sources = sources_for(spec.product, spec.category, spec.service)
    if isinstance(sources, str):
        compiled.skip(where, f"unsupported logsource: {sources}")
        return None
    if not sources:
        compiled.skip(where, "no event source for this logsource")
        return None
    if spec.plan is None:
        compiled.skip(where, f"unsupported: {spec.unsupported}")
        return None
    base: Node = spec.plan
    index = len(compiled.rules)
    used = fields_of(base)
    keys = tuple(sorted(set(extra)))
    evidence = tuple(sorted({f for f in used if f is not None} | set(keys)))
    added = False
    for source in sources:
        has: Callable[[str | None], bool] = _has_4688 if source.mapping == "4688" else _always
        node: Node = definite(base, has) if source.mapping else base
        if node == ("const", False):
            compiled.skip(source.label, MISSING)
            compiled.missing.update(f"{source.label}: {f}" for f in used if f is not None and not has(f))
            continue
        try:
            fn = build(node)
            ids = event_ids(node)
        except Unsupported as exc:
            compiled.skip(source.label, f"unsupported: {exc}")
            continue
        except (SyntaxError, RecursionError, MemoryError, ValueError, re.error) as exc:
            # (a condition CPython will not compile, too deep or too big: it costs only its rule)
            compiled.skip(source.label, f"unsupported: {_why(exc)}")
            continue
        wanted: Sequence[int | None]
        if source.event_ids is not None:
            wanted = [i for i in source.event_ids if ids is None or i in ids]
        else:
            wanted = sorted(ids) if ids is not None else [None]
        entry = _Entry(index, fn, source.mapping == "4688", evidence, keys, keyword_tests(node) if None in used else ())
        for eid in wanted:
            compiled.add((source.channel.lower(), eid), entry, node)
        compiled.ran[source.label] += 1
        added = True
    if not added:
        return None
    compiled.rules.append(meta)
    return index


def compile_rules(loaded: LoadedRules) -> CompiledRules:
    compiled = CompiledRules(errors=list(loaded.errors), left_out=dict(loaded.left_out))
    # Rules, then correlations: those the filters let through first, then those left out (run
    # only when a correlation refers to them).
    pool = loaded.rules + [r for r in loaded.hidden if not r[1].correlation]
    corrs = loaded.correlations + [r for r in loaded.hidden if r[1].correlation]
    order, why = correlate.link([meta for meta, _ in pool], corrs, len(loaded.correlations))
    for reason in why.values():
        compiled.skip("correlation", reason)
    extra: dict[int, set[str]] = defaultdict(set)
    for j, found in order:
        spec = corrs[j][1]
        for kind, pos in found:
            if not kind:
                extra[pos] |= set(spec.group_by) | ({str(spec.condition[2])} if spec.condition[2] else set())
    index: dict[correlate.Ref, int | None] = {}
    for pos, (meta, spec) in enumerate(pool):
        if pos >= len(loaded.rules) and pos not in extra:
            continue
        found_index = index[(False, pos)] = compile_one(compiled, meta, spec, extra.get(pos, ()))
        if pos >= len(loaded.rules) and found_index is not None:
            compiled.hidden.add(found_index)
    shown_alone: set[int] = set()  # rules a correlation with `generate: true` refers to
    for j, found in order:
        meta, spec = corrs[j]
        refs = tuple(r for ref in found if (r := index.get(ref)) is not None)
        if len(refs) != len(found):  # (a rule that does not compile, or a correlation over one)
            index[(True, j)] = None
            if j < len(loaded.correlations):
                compiled.skip("correlation", "refers to a rule that cannot run")
            continue
        rule = index[(True, j)] = len(compiled.rules)
        compiled.correlations.append(correlate.Correlation(rule, refs, spec))
        compiled.rules.append(meta)
        compiled.ran[f"correlation ({spec.correlation})"] += 1
        if j >= len(loaded.correlations):
            compiled.hidden.add(rule)
        (shown_alone if spec.generate else compiled.folded).update(refs)
    # The spec's `generate` (default false): the rules a correlation refers to are its parts,
    # not rules of their own, unless one referring to them says otherwise.
    compiled.folded -= shown_alone
    compiled.ready()
    return compiled


def _correlate(result: SigmaResult, compiled: CompiledRules) -> None:
    """Add the correlation matches (those a correlation refers to first); drop the matches of
    rules run only for them (left out by the filters, or folded into them: `generate`)."""
    by_rule: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(result.matches):
        by_rule[m.rule].append(i)
    for corr in compiled.correlations:
        hits: list[correlate.Hit] = []
        for i in sorted(i for r in set(corr.refs) for i in by_rule.get(r, ())):
            m = result.matches[i]
            if m.time is not None:
                hits.append((m.time, m.rule, i, {**dict(m.fields), **dict(m.keys)}))
        for last, count, values in correlate.run(corr, hits):
            m = result.matches[last]
            fields = (*values.items(), ("count", str(count)))
            by_rule[corr.rule].append(len(result.matches))
            result.matches.append(SigmaMatch(corr.rule, m.store_id, m.record_id, m.event_id, m.computer, m.time,
                                             f"correlation of {len(hits):,} matches", fields))
    dropped = compiled.hidden | compiled.folded
    if dropped:
        result.matches = [m for m in result.matches if m.rule not in dropped]
    result.folded = len(compiled.folded - compiled.hidden)


#: Fields named for a match's keywords (`_evidence`): the first ones holding one, at most.
MAX_KEYWORD_FIELDS = 4


def _evidence(r: dict[str, str], names: tuple[str, ...],
              keywords: tuple[Callable[[str], bool], ...] = ()) -> tuple[tuple[str, str], ...]:
    """The matched fields' values, each cut at EVIDENCE_CHARS. The cut says how much is left
    (`… (N more characters)`): a plain `...` read the same as a value ending in dots. A rule's
    keywords add the fields holding one (a few: an event may hold it in many)."""
    if keywords:
        held = [n for n, v in r.items() if n not in names and isinstance(v, str) and any(t(v) for t in keywords)]
        names = (*names, *held[:MAX_KEYWORD_FIELDS])
    out = []
    for name in names:
        value = r.get(name)
        if value is not None:
            if len(value) > EVIDENCE_CHARS:
                value = f"{value[:EVIDENCE_CHARS]}… ({len(value) - EVIDENCE_CHARS:,} more characters)"
            out.append((name, value))
    return tuple(out)


#: Field maps made of an event holding a name more than once (`_variants`): at most this many.
MAX_VARIANTS = 64


def _variants(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """One field map per value of the names the event holds more than once: the k-th takes each
    such name's k-th value (its last where it has fewer), the first its first values; at most
    MAX_VARIANTS (a crafted event of thousands of repeats: its later values are not looked at)."""
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    depth = min(max(len(v) for v in values.values()), MAX_VARIANTS)
    return [{name: vs[min(k, len(vs) - 1)] for name, vs in values.items()} for k in range(depth)]


def run_compiled(
    candidates: Any, compiled: CompiledRules, progress: Callable[[int, int], None] | None = None,
    star_ids: Container[int] | None = None,
) -> SigmaResult:
    """Evaluate `compiled` over the `candidates` (`core.store.sigma_reads.candidates` rows);
    `progress(events, matches)` every PROGRESS_EVERY events. `star_ids`: the only events the
    rules of every channel can match (those holding one of their keywords), else every event."""
    started = time.perf_counter()
    result = SigmaResult(
        rules=list(compiled.rules),
        ran=dict(compiled.ran),
        skipped={k: dict(v) for k, v in compiled.skipped.items()},
        errors=list(compiled.errors),
        left_out=dict(compiled.left_out),
        missing=dict(compiled.missing),
    )
    dispatch = compiled.dispatch
    every = any(ch == ANY_CHANNEL for ch, _ in dispatch)  # (rules of every channel: `product: windows`)
    star: tuple[Bucket, ...] = ()
    for buckets in dispatch.values():
        for bucket in buckets.values():
            bucket.evaluations = 0
    counts: Counter[int] = Counter()
    labels: dict[tuple[str, int], str] = {}
    #: The events that matched, by what makes two the same record (`core.model.same_records`):
    #: a copy's matches (candidates come in store order: the first copy first) are not kept.
    matched: dict[tuple[Any, ...], int] = {}
    n = 0
    for sid, ts, record_id, eid, channel, provider, computer, pairs in candidates:
        n += 1
        if progress is not None and not n % PROGRESS_EVERY:
            progress(n, len(result.matches))
        ch = channel.lower()
        exact = dispatch.get((ch, eid))
        anyid = dispatch.get((ch, None))
        if every:
            star = () if star_ids is not None and sid not in star_ids else (
                *(dispatch.get((ANY_CHANNEL, eid)) or {}).values(), *(dispatch.get((ANY_CHANNEL, None)) or {}).values())
        if exact is None and anyid is None and not star:
            continue
        r = dict(pairs)
        # A name held more than once (a crafted or converted log): each of its values is looked
        # at (`_variants`), a rule firing once however many of them match.
        variants = [r] if len(r) == len(pairs) else _variants(pairs)
        fired: set[int] | None = None if len(variants) == 1 else set()
        first: int | None = None  # (the event's first copy, once it matched a rule)
        for r in variants:
            r["EventID"] = str(eid)
            r["Channel"] = channel
            r["Provider_Name"] = provider
            r["Computer"] = computer
            low = Lower(r)
            mapped: dict[str, str] | None = None
            mlow = low
            for bucket in (*(exact or {}).values(), *(anyid or {}).values(), *star):
                if bucket.mapped:
                    if mapped is None:
                        mapped = map_4688(r)
                        for name in SYSTEM_FIELDS:
                            mapped[name] = r[name]
                        mlow = Lower(mapped)
                    values, lows = mapped, mlow
                else:
                    values, lows = r, low
                entries = bucket.entries
                for i in bucket.matching(values, lows):
                    entry = entries[i]
                    if first is None:
                        first = matched.setdefault(record_key(computer, ch, ts, record_id, eid, pairs), sid)
                        if first != sid:
                            result.copies += 1
                    if first != sid:
                        break
                    if fired is not None:
                        if entry.rule in fired:
                            continue
                        fired.add(entry.rule)
                    counts[entry.rule] += 1
                    if counts[entry.rule] > MAX_MATCHES_PER_RULE:
                        continue
                    key = (ch, eid)
                    label = labels.get(key)
                    if label is None:
                        label = labels[key] = f"{channel} {eid}"
                    keys = tuple((n, values[n]) for n in entry.keys if n in values) if entry.keys else ()
                    result.matches.append(SigmaMatch(entry.rule, sid, record_id, eid, computer, ts, label,
                                                     _evidence(values, entry.fields, entry.keywords), keys))
    result.evaluations = sum(b.evaluations for bs in dispatch.values() for b in bs.values())
    _correlate(result, compiled)
    result.truncated = {rule: c for rule, c in counts.items() if c > MAX_MATCHES_PER_RULE}
    result.events = n
    result.seconds = time.perf_counter() - started
    return result
