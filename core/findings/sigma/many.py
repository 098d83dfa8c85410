"""Many values of one field in one OR: a few RE2 programs searched once, not a test per value.

A rule may list thousands of values for a field (an IOC list; a hostile rule, 60,000 globs): the
generated code tested them one by one, a Python call and an RE2 search per value and event (4,000
globs took 55 s over 5,000 events, 20,000 `|re` values 7.4 s over 4). Here they become the
alternatives of RE2 programs of at most MAX_INSTS instructions each (a bounded DFA state, which a
crafted value cannot blow up with the whole list at once), each searched once per event: about
one pass over the value per program (one program per few thousand values), whatever their number.

The answers are the per-value tests' exactly (`tests/findings/test_sigma_hostile_values.py`
compares both on random values and texts):
- a value without `|re` is matched as before: a case-insensitive one (lower-cased text) against
  the lower-cased value (Python's `lower`, not RE2's case folding), a `|cased` one against the value;
- startswith/endswith tested `value or '\\x00'`: for a missing or empty value the answers are
  worked out once, the programs only ever see a non-empty value;
- a glob is fullmatched with `.` matching any character (DOTALL); its leading and trailing `*`
  become a search (the same answer: any prefix, any suffix), so that RE2 shares the literal
  prefixes of thousands of alternatives instead of running thousands of `.*` loops;
- a `|re` keeps its flags on its own group; one that RE2 does not compile alone (lookarounds,
  backreferences: Python's `re` runs it) stays a test of its own;
- a value RE2 cannot encode (a lone surrogate of a damaged log) is tested value by value;
- keywords (values without a field: any value of the event) alike, with their own semantics: a
  plain word is contained, a case-insensitive glob ignores case on the value as it is.
The compile is bounded: a program RE2 refuses (past MAX_MEM) or past MAX_INSTS is split in halves,
down to single values, each then tested on its own as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from core.findings.linear_regex import rx

from .value_tests import glob_test as _glob
from .value_tests import search_test as _search

Node = tuple[Any, ...]
Test = Callable[[str | None], bool]

#: Values per RE2 program at most, and its instructions: a DFA state holds up to one entry per
#: instruction, and a program whose states outgrow its memory (MAX_MEM) falls back to RE2's
#: NFA, far slower than the tests one by one (20,000 keyword globs `*a*a*...*N` in programs of
#: 2,000: 110 s over one 30,000-character value, 3.6 s one by one). At 10,000 instructions the
#: worst value found costs about what the tests one by one do, a usual one a few microseconds.
CHUNK = 10_000
MAX_INSTS = 10_000
#: RE2 memory per program (its compiled form, about 16 bytes an instruction, and its DFA).
MAX_MEM = 16 << 20
#: Estimated nanoseconds per value and event of the per-value tests (measured: `str.endswith` on a
#: tuple, `in` in a generator, a Python call and an RE2 search), and of one RE2 search of the
#: combined values. Values are combined when their tests cost more than two searches.
COST = {"start": 5, "end": 5, "in": 100, "glob": 1_000, "re": 1_000}
SEARCH_COST = 2_500
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))


def kind_of(node: Node) -> str | None:
    """The kind of per-value test a leaf is when it can join a combined program (else None):
    a field's equality is left out (a frozenset test already costs one lookup); a keyword's
    plain word is contained in a value."""
    if node[0] == "str":
        if node[1] is None:
            return "in" if node[2] == "eq" else str(node[2])
        return None if node[2] == "eq" else str(node[2])
    if node[0] in ("glob", "re"):
        return str(node[0])
    return None


def raw_input(node: Node) -> bool:
    """Whether the leaf reads the value as it is (cased, `|re`, a keyword's glob: matched
    ignoring case) or lower-cased."""
    if node[0] == "glob":
        return node[1] is None or bool(node[3])
    return node[0] == "re" or bool(node[4])


def _fold_glob(node: Node) -> bool:
    """A keyword's case-insensitive glob: RE2 ignores case on the value as it is."""
    return node[0] == "glob" and node[1] is None and not node[3]


def worth(nodes: Sequence[Node]) -> bool:
    """Whether one search of the combined values costs less than their tests one by one."""
    return sum(COST[kind_of(n) or "in"] for n in nodes) > 2 * SEARCH_COST


def one(node: Node) -> Test:
    """The leaf's per-value test, as the generated code runs it (`core.findings.sigma.compiler`;
    a keyword's on each value of the event, never None, lower-cased for a case-insensitive word)."""
    kind = kind_of(node)
    if kind in ("start", "end", "in"):
        text: str = node[3]
        if node[1] is None:  # (a keyword: no '\x00' for an empty value)
            if kind == "start":
                return lambda v: v is not None and v.startswith(text)
            if kind == "end":
                return lambda v: v is not None and v.endswith(text)
            return lambda v: v is not None and text in v
        if kind == "start":
            return lambda v: (v or "\x00").startswith(text)
        if kind == "end":
            return lambda v: (v or "\x00").endswith(text)
        return lambda v: v is not None and text in v
    if kind == "glob":
        glob = rx(node[2], re.DOTALL | (re.IGNORECASE if _fold_glob(node) else 0))
        return lambda v: _glob(glob, v)
    if kind == "re":
        regex = rx(node[2], node[3])
        return lambda v: _search(regex, v)
    raise ValueError(f"not a value test: {node[0]}")


def _glob_search(pattern: str) -> str:
    """A glob's fullmatch pattern (escaped text, `.*`, `.`) as a search with the same answers."""
    lead = pattern.startswith(".*")
    body = pattern[2:] if lead else pattern
    trail = False
    if body.endswith(".*"):
        slashes = len(body) - 2 - len(body[:-2].rstrip("\\"))
        trail = slashes % 2 == 0  # (an escaped `\.` followed by `*` is no wildcard: never built)
    if trail:
        body = body[:-2]
    return ("" if lead else "^") + f"(?s:{body})" + ("" if trail else "$")


def pattern_of(node: Node) -> str | None:
    """The leaf as one RE2 alternative searched in a non-empty value (None: it cannot be one)."""
    import re2

    kind = kind_of(node)
    if kind in ("start", "end", "in"):
        text = str(re2.escape(node[3]))
        return {"start": f"^{text}", "end": f"{text}$"}.get(kind, text)
    if kind == "glob":
        return f"(?i:{_glob_search(node[2])})" if _fold_glob(node) else _glob_search(node[2])
    if kind == "re":
        if isinstance(rx(node[2], node[3]), re.Pattern):
            return None  # (Python's engine: RE2 does not run it alone, nor in a program)
        flags = "".join(c for flag, c in _FLAGS if node[3] & flag)
        return f"(?{flags}:{node[2]})"
    return None


def _compile(patterns: Sequence[str]) -> Any:
    import re2

    options = re2.Options()
    options.max_mem = MAX_MEM
    options.log_errors = False  # (RE2 would write the refused pattern, raw, on the terminal)
    options.never_capture = True  # (a yes/no answer: no group is read; names may repeat)
    return re2.compile("|".join(f"(?:{p})" for p in patterns).encode("utf-8"), options=options)


def programs(patterns: Sequence[str]) -> tuple[list[Any], list[int]]:
    """RE2 programs holding the patterns in order, CHUNK values and MAX_INSTS instructions at
    most each, and the indexes of those no program holds (alone past MAX_INSTS or refused by
    RE2: tested on their own, as before). Each next program's size is guessed from the last's
    instructions per value, so that about one compile in a few is wasted, whatever the values."""
    done: list[Any] = []
    alone: list[int] = []
    start, size = 0, min(CHUNK, 64)
    while start < len(patterns):
        end = min(start + size, len(patterns))
        try:
            program = _compile(patterns[start:end])
            insts = int(program.programsize)
        except Exception:  # noqa: BLE001 - RE2 refuses it (past MAX_MEM, a syntax it lacks): fewer
            program, insts = None, 0
        count = end - start
        if program is not None and insts <= MAX_INSTS:
            done.append(program)
            start = end
            size = max(1, min(CHUNK, int(count * 0.9 * MAX_INSTS / max(insts, 1))))
        elif count == 1:
            alone.append(start)
            start = end
        else:
            size = max(1, int(count * 0.9 * MAX_INSTS / insts) if insts else count // 2)
    return done, alone


class Many:
    """Whether any of `nodes` (value tests of one field in one OR, or keywords, reading the same
    input) holds on a value: `Many(nodes)(value)` answers as `any(one(n)(value) for n in nodes)`."""

    __slots__ = ("empty", "nodes", "none", "programs", "slow", "tests")

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = tuple(nodes)
        found = [(n, pattern_of(n)) for n in self.nodes]
        combined = [(n, p) for n, p in found if p is not None]
        self.programs, alone = programs([p for _, p in combined])
        rest = [n for n, p in found if p is None] + [combined[i][0] for i in alone]
        self.tests: tuple[Test, ...] = tuple(one(n) for n in rest)
        self.slow: tuple[Test, ...] | None = None
        ends = [n for n in self.nodes if kind_of(n) in ("start", "end") and n[1] is not None]
        # A missing or empty value: a field's startswith/endswith saw '\x00'; the others None or ''.
        self.none = any(one(n)(None) for n in ends)
        self.empty = self.none or self._fast("")

    def _fast(self, value: str) -> bool:
        data = value.encode("utf-8")
        return any(p.search(data) is not None for p in self.programs) or any(t(value) for t in self.tests)

    def lowered(self, value: str) -> bool:
        """A keyword's case-insensitive words: on the value lower-cased."""
        return self(value.lower())

    def __call__(self, value: str | None) -> bool:
        if not value:
            return self.none if value is None else self.empty
        try:
            data = value.encode("utf-8")
        except UnicodeError:  # a lone surrogate RE2 cannot encode: value by value, as before
            if self.slow is None:
                self.slow = tuple(one(n) for n in self.nodes)
            return any(t(value) for t in self.slow)
        for program in self.programs:
            if program.search(data) is not None:
                return True
        return any(t(value) for t in self.tests)
