"""A rule listing thousands of values for one field had no time bound: each value was a test of
its own per event (4,000 globs: 55 s over 5,000 events; 20,000 `|re` values: 7.4 s over 4).
Many OR'ed values of a field are now a few RE2 programs (`core.findings.sigma.many`), with the
answers of the tests one by one: compared here on random values and texts (fixed seeds)."""

from __future__ import annotations

import base64
import random
import re
import time
from pathlib import Path

import pytest
from sigma.types import SigmaCasedString, SigmaString

from core.findings.sigma import many
from core.findings.sigma.compiler import Lower, Match, Node, _string_leaf, build
from core.findings.sigma.many import Many
from core.findings.sigma.ruleset import parse_file

#: Characters that matter: wildcards, regex syntax, case pairs whose lower-casing RE2's case
#: folding does not share (Kelvin sign, dotted I, sharp s, title-case DŽ), NUL, a line break.
ALPHABET = ["a", "b", "A", "B", "*", "?", ".", "\\", "$", "^", "(", ")", "|", "[", "+", "{2}", " ", "\n",
            "\x00", "é", "É", "İ", "ß", "\u212a", "k", "ǅ", "ǆ"]
REGEXES = ["a.*b", "^a", "b$", "(?i)ab", "a|b", "", "x*", r"\d+", "(a)(b)", "(?P<n>a)", "a(?=b)", r"(a)\1",
           "é.b", "^$", ".", "A", "[ab]{2}", r"\n", "(?m)^b", "(?s)a.b", r"\x00", r"\w+\b"]
FLAGS = [0, re.IGNORECASE, re.MULTILINE, re.DOTALL, re.IGNORECASE | re.DOTALL]


def _word(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, most)))


def _leaf(rng: random.Random, field: str | None) -> Node:
    """A value test as pySigma and the plan make it: a string (plain, contains, startswith,
    endswith or a glob; cased or not) or a `|re` with flags; a keyword when `field` is None."""
    if rng.random() < 0.75:
        text = ("*" if rng.random() < 0.5 else "") + _word(rng, 5) + ("*" if rng.random() < 0.5 else "")
        cased = rng.random() < 0.3
        node = _string_leaf(field, SigmaCasedString(text) if cased else SigmaString(text), cased)
        if node[0] != "present" or field is not None:  # (a keyword `*` is no test the engine runs)
            return node
    pattern = rng.choice(REGEXES) if rng.random() < 0.7 else re.escape(_word(rng, 3))
    return ("re", field, pattern, rng.choice(FLAGS))


def _value(rng: random.Random, nodes: tuple[Node, ...]) -> str | None:
    """None, empty, random, with a lone surrogate, or made from one of the values (so that
    matches happen), in any case."""
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.16:
        return ""
    if roll < 0.22:
        return _word(rng, 8) + "\ud800"
    if roll < 0.6:
        node = rng.choice(nodes)
        text = str(node[3] if node[0] == "str" else node[2] if node[0] == "glob" else "ab")
        text = text.replace(".*", _word(rng, 3)).replace("*", _word(rng, 2)).replace("?", rng.choice(ALPHABET))
        text = _word(rng, 3) * (rng.random() < 0.5) + text + _word(rng, 3) * (rng.random() < 0.5)
        return text.upper() if rng.random() < 0.5 else text
    return _word(rng, 12)


def _manys(match: Match) -> list[Many]:
    """The `Many` tests of a rule's function (one per field and way of reading it)."""
    return [v for v in match.__globals__.values() if isinstance(v, Many)]


def _pair(node: Node, monkeypatch: pytest.MonkeyPatch) -> tuple[Match, Match]:
    """The rule's function with its values tested one by one, and with them combined."""
    one_by_one = build(node, many=False)
    with monkeypatch.context() as patch:
        patch.setattr(many, "SEARCH_COST", 0)  # (combined whatever their number)
        combined = build(node)
    return one_by_one, combined


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_combined_values_answer_as_the_tests_one_by_one(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    joined = keywords = 0
    for _ in range(150):
        nodes = tuple(_leaf(rng, rng.choice(["F", "G", None])) for _ in range(rng.randint(2, 40)))
        cut = rng.randint(0, len(nodes) - 1)  # (an OR of leaves inside: a modifier's expansions)
        one_by_one, combined = _pair(("or", (*nodes[:cut], ("or", nodes[cut:]))), monkeypatch)
        joined += bool(_manys(combined))
        keywords += any(m.nodes[0][1] is None for m in _manys(combined))
        for _ in range(40):
            values = {f: v for f in ("F", "G") if (v := _value(rng, nodes)) is not None}
            assert combined(values, Lower(values)) == one_by_one(values, Lower(values)), (nodes, values)
    assert joined >= 100 and keywords >= 50  # (the combined path was taken)


def test_chunks_and_programs_re2_refuses_answer_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Programs of CHUNK values, and programs past RE2's memory halved down to single values."""
    rng = random.Random(4)
    nodes = tuple(_leaf(rng, "F") for _ in range(60))
    one_by_one = build(("or", nodes), many=False)
    monkeypatch.setattr(many, "SEARCH_COST", 0)
    monkeypatch.setattr(many, "CHUNK", 7)
    chunked = build(("or", nodes))
    monkeypatch.setattr(many, "MAX_MEM", 300)  # (RE2 refuses every program: all value by value)
    refused = build(("or", nodes))
    assert sum(len(m.programs) for m in _manys(chunked)) >= 60 // 7
    assert all(not m.programs and m.tests for m in _manys(refused)) and _manys(refused)
    for _ in range(2000):
        values = {"F": v} if (v := _value(rng, nodes)) is not None else {}
        expected = one_by_one(values, Lower(values))
        assert chunked(values, Lower(values)) == expected and refused(values, Lower(values)) == expected


def test_programs_past_their_instructions_are_split_and_answer_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program past MAX_INSTS (its DFA states would outgrow RE2's memory) is split, down to
    single values tested on their own."""
    rng = random.Random(5)
    nodes = tuple(_leaf(rng, rng.choice(["F", None])) for _ in range(80))
    one_by_one = build(("or", nodes), many=False)
    monkeypatch.setattr(many, "SEARCH_COST", 0)
    monkeypatch.setattr(many, "MAX_INSTS", 40)
    split = build(("or", nodes))
    programs = [p for m in _manys(split) for p in m.programs]
    assert len(programs) > 4 and all(p.programsize <= 40 for p in programs)
    assert any(m.tests for m in _manys(split))  # (a value alone past 40 instructions)
    for _ in range(2000):
        values = {f: v for f in ("F", "G") if (v := _value(rng, nodes)) is not None}
        assert split(values, Lower(values)) == one_by_one(values, Lower(values)), values


def test_a_missing_or_empty_value_answers_as_before() -> None:
    """startswith/endswith tested `value or '\\x00'`: a NUL needle held on a missing value."""
    nul: Node = ("str", "F", "start", "\x00", True)
    words = tuple(("str", "F", "in", f"v{i}", True) for i in range(60))
    empty_glob: Node = ("glob", "F", ".*", True, "")
    for nodes, missing, empty in [((nul, *words), True, True), (words, False, False),
                                  ((*words, empty_glob), False, True)]:
        match = build(("or", nodes))
        assert [m.nodes for m in _manys(match)] == [nodes]
        assert match({}, Lower({})) is missing and match({"F": ""}, Lower({"F": ""})) is empty


def _globs(count: int) -> Node:
    return ("or", tuple(_string_leaf("CommandLine", SigmaString(f"*a{i}*b*"), False) for i in range(count)))


def test_four_thousand_globs_cost_about_one_pass() -> None:
    """The probe's rule: 4,000 globs took about 2.2 us each per event (9 s over 1,000 events)."""
    match = build(_globs(4000))
    events = [{"CommandLine": f"cmd /c flood {i}"} for i in range(1000)]
    began = time.perf_counter()
    hits = sum(match(e, Lower(e)) for e in events)
    assert time.perf_counter() - began < 2.0
    assert hits == 0
    hit = {"CommandLine": "x A3999 y B"}
    assert match(hit, Lower(hit)) is True


def test_twenty_thousand_regexes_on_long_values_cost_about_one_pass() -> None:
    """20,000 `|re` values took 7.4 s over 4 events of 30,000 characters."""
    node: Node = ("or", tuple(("re", "CommandLine", f"a{i}.*b", 0) for i in range(20000)))
    match = build(node)
    events = [{"CommandLine": "a" * 30000 + "!"}, {"CommandLine": "ab" * 15000}, {"CommandLine": "x a19999 y b"}]
    began = time.perf_counter()
    assert [match(e, Lower(e)) for e in events] == [False, False, True]
    assert time.perf_counter() - began < 2.0


def test_a_few_values_keep_their_tests() -> None:
    """Below the cost of two searches the generated code is as before (SigmaHQ's short lists)."""
    few = ("or", tuple(_string_leaf("Image", SigmaString(f"*\\x{i}.exe"), False) for i in range(20)))
    assert not _manys(build(few))
    assert [len(m.nodes) for m in _manys(build(_globs(6)))] == [6]


def test_a_keyword_glob_or_regex_on_a_lone_surrogate_answers() -> None:
    """A keyword (a value without a field) searched by RE2 raised UnicodeEncodeError on a value
    RE2 cannot encode, ending the run; like a field's, it is now tested by Python's engine."""
    damaged = {"F": "A\ud800B"}
    for node, expected in [(("glob", None, "a.*b", False, "a"), True), (("glob", None, "a.*b", True, "a"), False),
                           (("re", None, "A.B", 0), True), (("re", None, "a.b", 0), False)]:
        assert build(node)(damaged, Lower(damaged)) is expected, node


def test_twenty_thousand_keyword_globs_are_bounded_on_any_value() -> None:
    """The probe's 20,000 keywords `*a*a*a*a*a*a*a*a*a*a*N`: 0.2 s per event of three short
    values, 1.1 s on one of 30,000 `a`s one by one. (In programs of 2,000 values that one took
    110 s: RE2's DFA ran out of memory and its NFA ran instead; MAX_INSTS keeps programs small.)"""
    match = build(("or", tuple(_string_leaf(None, SigmaString(f"*a*a*a*a*a*a*a*a*a*a*{i}"), False)
                               for i in range(20000))))
    short = {"CommandLine": "cmd /c flood 12", "Image": "C:\\Windows\\System32\\cmd.exe", "User": "alice"}
    began = time.perf_counter()
    assert not any(match(short, Lower(short)) for _ in range(40))
    assert time.perf_counter() - began < 3.0
    crafted = {"CommandLine": "a" * 30000 + "!"}
    began = time.perf_counter()
    assert match(crafted, Lower(crafted)) is False
    assert time.perf_counter() - began < 1.0
    hit = {"User": "xAaAaAaAaAaA19999"}
    assert match(hit, Lower(hit)) is True


def test_a_modifiers_expansions_are_combined_too(tmp_path: Path) -> None:
    """`|base64offset|contains` (and `|windash`) make an OR of leaves per value: 2,000 values
    were 2,000 tests of three; their leaves join the field's other values."""
    values = ", ".join(f"w{i}" for i in range(2000))
    (tmp_path / "r.yml").write_text(
        "title: t\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        f"  s:\n    CommandLine|base64offset|contains: [{values}]\n  condition: s\n", encoding="utf-8")
    [(_, spec)], error = parse_file(tmp_path / "r.yml")
    assert error is None and spec.plan is not None
    match, one_by_one = build(spec.plan), build(spec.plan, many=False)
    assert [len(m.nodes) for m in _manys(match)] == [6000]
    for text in ["powershell -enc " + base64.b64encode(f"..w{i}..".encode()).decode() for i in range(0, 4000, 7)]:
        values_ = {"CommandLine": text}
        assert match(values_, Lower(values_)) == one_by_one(values_, Lower(values_))
