"""A Sigma rule nested ~199 deep (YAML lists of lists) killed `findings --sigma`, `prepare`,
`rules check` and the app with CPython's `SyntaxError: too many nested parentheses` from the
generated code: the plan's depth check allowed 200 levels, each opening a bracket and its leaves
more. Now the generated code's bracket depth is bounded (MAX_BRACKETS, with a margin under
CPython's parser) and any failure to compile one rule costs that rule only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.findings.sigma import engine
from core.findings.sigma.compiler import MAX_BRACKETS, Lower, Match, Node, Unsupported, bracket_depth, build
from core.findings.sigma.engine import compile_rules, run_compiled
from core.findings.sigma.ruleset import load_rules
from core.model.event import Event
from core.store.sigma_reads import candidates
from core.store.store import Store
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

HEAD = """title: {title}
id: {id}
status: test
level: high
author: probe
logsource:
    product: windows
    category: process_creation
"""
GOOD = HEAD.format(title="good whoami", id="66666666-6666-6666-6666-666666666667") + """detection:
    s:
        CommandLine|contains: cleared
    condition: s
"""
LEAF: Node = ("str", "CommandLine", "eq", "x", False)  # `(l[k0] == k1)`: two brackets


def _nested_rule(levels: int) -> str:
    """The probe's rule: a list of a list of ... maps, `levels` deep."""
    body = "{CommandLine|contains: x}"
    for i in range(levels):
        body = "[" + body + ", {Image|endswith: y" + str(i) + "}]"
    head = HEAD.format(title=f"nested lists {levels}", id="66666666-6666-6666-6666-666666666666")
    return head + "detection:\n    sel0: " + body + "\n    condition: sel0\n"


def _nots(count: int) -> Node:
    node = LEAF
    for _ in range(count):
        node = ("not", node)
    return node


def _source(node: Node) -> str:
    """The generated expression's text (the function is built from it)."""
    from core.findings.sigma.compiler import _Gen

    return _Gen().expr(node)


def test_a_condition_at_the_bracket_limit_compiles_and_one_past_it_is_unsupported() -> None:
    at_limit = _nots(MAX_BRACKETS - 2)
    assert bracket_depth(_source(at_limit)) == MAX_BRACKETS
    match = build(at_limit)
    even = (MAX_BRACKETS - 2) % 2 == 0
    assert match({"CommandLine": "X"}, Lower({"CommandLine": "X"})) is even
    past = _nots(MAX_BRACKETS - 1)
    assert bracket_depth(_source(past)) == MAX_BRACKETS + 1
    with pytest.raises(Unsupported, match="nested too deeply"):
        build(past)
    # The costliest nesting for CPython's parser, `(a or (b and (...)))` with calls for leaves
    # (out of stack near 199 brackets: a MemoryError), compiles and answers at the limit.
    node: Node = ("glob", "CommandLine", "a.b", False, "a")  # `_glob(k0, l[k1])`: two brackets
    depth = 2
    while depth < MAX_BRACKETS:
        node = ("or" if depth % 2 else "and", (("re", "Image", "zz", 0), node))
        depth += 1
    assert bracket_depth(_source(node)) == MAX_BRACKETS
    values = {"CommandLine": "AXB", "Image": "zz"}
    assert build(node)(values, Lower(values)) is True
    with pytest.raises(Unsupported, match="nested too deeply"):
        build(("not", node))


def _one_event_store(command: str) -> Store:
    store = Store(":memory:")
    data = {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": command,
            "ParentProcessName": "C:\\Windows\\explorer.exe", "SubjectUserName": "alice"}
    store.add_events([Event(0, 1, 1, 130917146923773525, 4688, channel="Security",
                            provider="Microsoft-Windows-Security-Auditing", computer="WS01",
                            data=tuple(data.items()))])
    return store


def test_a_rule_nested_199_deep_costs_only_itself(tmp_path: Path) -> None:
    """The probe's rule: listed as unsupported; a good rule and one nested 40 deep still run."""
    (tmp_path / "nested.yml").write_text(_nested_rule(199), encoding="utf-8")
    (tmp_path / "nested40.yml").write_text(_nested_rule(40).replace("6666-666666666666", "6666-666666666640"),
                                           encoding="utf-8")
    (tmp_path / "good.yml").write_text(GOOD, encoding="utf-8")
    compiled = compile_rules(load_rules([tmp_path], cache=False))
    assert sorted(r.title for r in compiled.rules) == ["good whoami", "nested lists 40"]
    reasons = {reason for per_source in compiled.skipped.values() for reason in per_source}
    assert reasons == {"unsupported: condition nested too deeply"}
    result = run_compiled(candidates(_one_event_store("echo cleared & a x b"), *compiled.query()), compiled)
    assert sorted(result.rules[m.rule].title for m in result.matches) == ["good whoami", "nested lists 40"]


@pytest.mark.parametrize("error", [
    SyntaxError("too many nested parentheses"), RecursionError("maximum recursion depth exceeded"),
    MemoryError(), ValueError("source code string cannot contain null bytes"), re.error("bad"),
])
def test_a_rule_that_does_not_compile_costs_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    (tmp_path / "nested.yml").write_text(_nested_rule(3), encoding="utf-8")
    (tmp_path / "good.yml").write_text(GOOD, encoding="utf-8")
    def failing(node: Node) -> Match:
        if "image" in repr(node).lower():  # (only the nested rule tests Image)
            raise error
        return build(node)

    monkeypatch.setattr(engine, "build", failing)
    compiled = compile_rules(load_rules([tmp_path], cache=False))
    assert [r.title for r in compiled.rules] == ["good whoami"]
    reasons = [reason for per_source in compiled.skipped.values() for reason in per_source]
    assert reasons and all(r.startswith(f"unsupported: its condition does not compile ({type(error).__name__}")
                           for r in reasons)


def test_the_cli_lists_the_deep_rule_and_runs_the_others(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "nested.yml").write_text(_nested_rule(199), encoding="utf-8")
    (rules / "good.yml").write_text(GOOD, encoding="utf-8")
    log = write_events(tmp_path / "log.xml", [event_xml(4688, 1, "2024-01-01T00:00:00Z", {
        "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "echo cleared"})])
    code, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(rules))
    assert code == 0 and "good whoami" in out and "unsupported: condition nested too deeply" in out
    code, out, _ = run_cli("rules", "check", str(rules))
    assert code == 0 and "1 rule(s) can run" in out and "unsupported: condition nested too deeply" in out
