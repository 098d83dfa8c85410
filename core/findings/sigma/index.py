"""Which rules can match an event, without running them all: literals they need, in RE2 sets.

Most Sigma rules need one of a few literal tests to hold before anything else matters: the
`Image|endswith` list of a process_creation rule, the `EventID` of a Security rule, a
`CommandLine|contains` list. `need` finds such a set for a plan (an event that matches the rule
passes at least one of its tests); `Bucket` files each rule under those tests, one RE2 set per
field (SigmaHQ's 1,400 process-creation rules: a dozen fields), and `candidates` asks each set
once per event which tests hold: one C call per field instead of a Python call per rule. Rules
with no such literal are run on every event. RE2 comes with pySigma (google-re2).

Only a filter: a candidate rule is still evaluated in full, so a rule is never reported on
the strength of its literal alone, and a literal that cannot be indexed only costs speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .compiler import Lower, Node

#: Answers remembered per bucket (by the values its rules read), and how many lookups decide
#: whether remembering pays (logs repeat the same process starts, service installs...; a
#: bucket whose rules read a per-event value such as a PID never hits and stops trying).
MEMO_SIZE = 50_000
MEMO_TRIAL = 5_000
MEMO_MIN_HITS = 0.2
#: RE2 memory for one field's set (its DFA); past it, that field's rules run on every event.
RE2_MAX_MEM = 64 << 20
Atom = tuple[str, str, str]  # (field, kind eq/start/end/in, lower-cased text)


def need(node: Node) -> set[Atom] | None:
    """Literal tests at least one of which holds on any event the plan matches (None: none
    known). AND takes its smallest child set, OR the union of its children's."""
    return _literals(node, keywords=False)


def keyword_needs(node: Node) -> set[str] | None:
    """Texts (lower-cased) at least one of which is contained in some value of any event the
    plan matches, from its keywords (values without a field: `_Gen.keyword`), else None."""
    found = _literals(node, keywords=True)
    return None if found is None else {text for _field, _kind, text in found}


def _literals(node: Node, *, keywords: bool) -> set[Atom] | None:
    """`need` over the tests of a field (or, `keywords`, over the keywords: their field None)."""
    kind = node[0]
    if kind in ("str", "glob") and (node[1] is None) is keywords:
        if kind == "str":
            return {(node[1], node[2], node[3].lower())}
        return {(node[1], "in", node[4])} if len(node[4]) >= 3 else None
    if kind == "const":
        return None if node[1] else set()
    if kind == "or":
        out: set[Atom] = set()
        for child in node[1]:
            found = _literals(child, keywords=keywords)
            if found is None:
                return None
            out |= found
        return out
    if kind == "and":
        best: set[Atom] | None = None
        for child in node[1]:
            found = _literals(child, keywords=keywords)
            if found is not None and (best is None or _cost(found) < _cost(best)):
                best = found
        return best
    return None


def needs(node: Node) -> list[set[Atom]] | None:
    """Up to two sets of literal tests, from different children of a top-level AND, each of
    which must have a test that holds (None: no literal known; the rule runs on every event)."""
    if node[0] != "and":
        found = need(node)
        return None if found is None else [found]
    sets = [found for child in node[1] if (found := need(child)) is not None]
    sets.sort(key=_cost)
    return sets[:2] or None


def _cost(atoms: set[Atom]) -> tuple[int, int]:
    """Prefer few tests, and whole values or ends (selective) over short substrings."""
    weak = sum(1 for _f, kind, text in atoms if kind != "eq" and len(text) < 4)
    return (weak, len(atoms))


def _pattern(kind: str, text: str) -> str:
    import re2

    body = re2.escape(text)
    return str({"eq": f"^{body}$", "start": f"^{body}", "end": f"{body}$"}.get(kind, body))


@dataclass
class _FieldSet:
    name: str
    matcher: Any
    entries: list[list[int]]


@dataclass
class Bucket:
    """The rules one kind of event is dispatched to, for one field mapping (see module doc).
    `entries` holds them in order; `candidates` answers indexes into it. Each entry's sets of
    tests (`needs`) are groups: group g belongs to entry `owner[g]`, and an entry is a
    candidate when all `wanted[entry]` of its groups have a test that holds."""

    mapped: bool
    entries: list[Any] = field(default_factory=list)
    atoms: list[list[set[Atom]] | None] = field(default_factory=list)
    always: list[int] = field(default_factory=list)
    fields: list[_FieldSet] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    wanted: list[int] = field(default_factory=list)
    #: Fields any of its rules reads (None: one reads them all, a keyword): the memo's key.
    reads: tuple[str, ...] | None = ()
    memo: dict[tuple[str | None, ...], list[int]] | None = field(default_factory=dict)
    lookups: int = 0
    hits: int = 0
    evaluations: int = 0

    def add(self, entry: Any, atoms: list[set[Atom]] | None, reads: Sequence[str | None]) -> None:
        self.entries.append(entry)
        self.atoms.append(atoms)
        if self.reads is not None:
            self.reads = None if None in reads else tuple(sorted(set(self.reads) | {str(f) for f in reads}))
        if self.reads is None:
            self.memo = None

    def matching(self, values: dict[str, str], low: Lower) -> list[int]:
        """Indexes of the entries whose rule matches the event (`values`, `low`)."""
        memo = self.memo
        key: tuple[str | None, ...] = ()
        if memo is not None and self.reads is not None:
            get = values.get
            key = tuple([get(f) for f in self.reads])
            found = memo.get(key)
            self.lookups += 1
            if found is not None:
                self.hits += 1
                return found
            if self.lookups == MEMO_TRIAL and self.hits < MEMO_MIN_HITS * MEMO_TRIAL:
                self.memo = memo = None
        todo = self.candidates(low)
        self.evaluations += len(todo)
        entries = self.entries
        out = [i for i in todo if entries[i].match(values, low)]
        if memo is not None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = out
        return out

    def build(self) -> None:
        """Compile the RE2 sets (after every `add`)."""
        import re2

        by_field: dict[str, dict[tuple[str, str], list[int]]] = {}
        self.always = []
        self.owner = []
        self.wanted = [0] * len(self.atoms)
        for i, groups in enumerate(self.atoms):
            if groups is None:
                self.always.append(i)
                continue
            self.wanted[i] = len(groups)
            for group in groups:
                g = len(self.owner)
                self.owner.append(i)
                for name, kind, text in group:
                    by_field.setdefault(name, {}).setdefault((kind, text), []).append(g)
        self.fields = []
        for name, tests in by_field.items():
            options = re2.Options()
            options.max_mem = RE2_MAX_MEM
            options.log_errors = False
            matcher = re2.Set.SearchSet(options)
            entries: list[list[int]] = []
            try:
                for (kind, text), rules in tests.items():
                    matcher.Add(_pattern(kind, text))
                    entries.append(rules)
                matcher.Compile()
            except Exception:  # noqa: BLE001 - a set RE2 refuses: its rules run on every event
                self.always.extend(self.owner[g] for groups in tests.values() for g in groups)
                continue
            self.fields.append(_FieldSet(name, matcher, entries))
        self.always = sorted(set(self.always))

    def candidates(self, low: Lower) -> Sequence[int]:
        """Indexes of the entries that may match the event whose lower-cased values are `low`."""
        groups: set[int] | None = None
        for fs in self.fields:
            value = low[fs.name]
            if value is None:
                continue
            try:
                hits = fs.matcher.Match(value)
            except UnicodeError:  # a lone surrogate (damaged UTF-16): every test may hold
                hits = range(len(fs.entries))
            if hits:
                if groups is None:
                    groups = set()
                for h in hits:
                    groups.update(fs.entries[h])
        if groups is None:
            return self.always
        owner, wanted = self.owner, self.wanted
        held: dict[int, int] = {}
        for g in groups:
            i = owner[g]
            held[i] = held.get(i, 0) + 1
        found = [i for i, n in held.items() if n == wanted[i]]
        if not found:
            return self.always
        return sorted(found + self.always)
