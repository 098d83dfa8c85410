"""A Sigma rule's detection -> one fast Python function over an event's fields.

(About 510 lines: the plan, its adaptation to a source and the code generated from it share the
plan's tuple shapes, which split modules would each have to restate.)

pySigma parses the rule and its condition (`rule.detection.parsed_condition`: an AND/OR/NOT tree
whose leaves are field = value expressions with every modifier applied: wildcards, base64,
windash expansions, regexes, CIDR, comparisons...). `plan` turns that tree into plain tuples
(picklable, so a parsed rule set can be cached), `for_source` adapts a plan to a source whose
fields are not all there (Security 4688 as process_creation), and `build` generates one Python
function per rule, `match(r, l) -> bool`, where `r` maps field names to values and `l` gives
the lower-cased value of a field (`Lower`): Sigma compares case-insensitively, and each value
is lower-cased at most once per event whatever the number of rules reading it.

Generated code rather than nested closures: a closure per AND/OR node costs a Python call per
node and event; one expression per rule runs in a single frame, and lists of values on one field
(most SigmaHQ selections) become one `endswith(tuple)` / `in frozenset` test, or RE2 searches
when they are many (`core.findings.sigma.many`: an IOC list of thousands of globs).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any

from core.findings.linear_regex import rx

from .many import Many, kind_of, raw_input, worth
from .number_tests import cmp_test as _cmp
from .number_tests import lost, number_text, rule_number
from .number_tests import num_test as _num
from .value_tests import glob_test as _glob
from .value_tests import search_test as _search

Node = tuple[Any, ...]
Match = Callable[[dict[str, str], "Lower"], bool]

#: Deepest nesting of brackets in a rule's generated code: CPython refuses 200, and its parser runs
#: out of stack (a MemoryError) near 199 of `(a or (b and ...))`. SigmaHQ's rules nest under ten.
MAX_BRACKETS = 100

TRUE: Node = ("const", True)
FALSE: Node = ("const", False)


class Unsupported(Exception):
    """A rule uses something this engine does not evaluate (the message says what)."""


class Lower(dict[str, str | None]):
    """Lower-cased field values of one event, computed on first use (None: no such field)."""

    __slots__ = ("r",)

    def __init__(self, r: dict[str, str]) -> None:
        super().__init__()
        self.r = r

    def __missing__(self, key: str) -> str | None:
        value = self.r.get(key)
        low = None if value is None else value.lower()
        self[key] = low
        return low


# -- pySigma tree -> plan ------------------------------------------------------------------------


def plan(rule: Any) -> Node:
    """The rule's detection as a plan (several conditions: any of them)."""
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    def walk(item: Any, depth: int) -> Node:
        if depth > 200:
            raise Unsupported("condition nested too deeply")
        if isinstance(item, ConditionAND):
            return ("and", tuple(walk(a, depth + 1) for a in item.args))
        if isinstance(item, ConditionOR):
            return ("or", tuple(walk(a, depth + 1) for a in item.args))
        if isinstance(item, ConditionNOT):
            return ("not", walk(item.args[0], depth + 1))
        if isinstance(item, ConditionFieldEqualsValueExpression):
            return _leaf(str(item.field), item.value)
        if isinstance(item, ConditionValueExpression):
            return _leaf(None, item.value)
        if item is None:
            return FALSE
        raise Unsupported(f"condition element {type(item).__name__}")

    conditions = [walk(c.parsed, 0) for c in rule.detection.parsed_condition]
    return conditions[0] if len(conditions) == 1 else ("or", tuple(conditions))


def _string_leaf(field: str | None, value: Any, cased: bool) -> Node:
    from sigma.types import Placeholder, SpecialChars

    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        raise Unsupported("placeholders (the expand modifier) need site values")
    fold = (lambda s: s) if cased else str.lower
    lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    trail = len(parts) > 1 and parts[-1] == SpecialChars.WILDCARD_MULTI
    core = parts[int(lead) : len(parts) - int(trail)] if parts else []
    if all(isinstance(p, str) for p in core):
        text = fold("".join(core))
        kind = {(False, False): "eq", (True, False): "end", (False, True): "start", (True, True): "in"}[(lead, trail)]
        if kind != "eq" and text == "":
            return ("present", field)
        return ("str", field, kind, text, cased)
    pattern = "".join(
        re.escape(fold(p)) if isinstance(p, str) else (".*" if p == SpecialChars.WILDCARD_MULTI else ".")
        for p in parts
    )
    longest = max((p for p in parts if isinstance(p, str)), key=len, default="")
    return ("glob", field, pattern, cased, longest.lower())


def _leaf(field: str | None, value: Any) -> Node:
    from sigma.types import (
        CompareOperators,
        SigmaBool,
        SigmaCasedString,
        SigmaCIDRExpression,
        SigmaCompareExpression,
        SigmaExists,
        SigmaExpansion,
        SigmaFieldReference,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaRegularExpressionFlag,
        SigmaString,
        SigmaTimestampPart,
    )

    if isinstance(value, SigmaExpansion):
        return ("or", tuple(_leaf(field, v) for v in value.values))
    if isinstance(value, SigmaString):
        return _string_leaf(field, value, isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaBool):
        return ("str", field, "eq", "true" if value.boolean else "false", False)
    number = value.number if isinstance(value, SigmaCompareExpression) else value
    if isinstance(number, SigmaTimestampPart):
        # (which timestamp formats, which time zone, which week numbering: pySigma leaves that to
        # each backend; a plain number test instead fired `A|hour: 5` on A = "5")
        raise Unsupported(f"timestamp parts (the {number.timestamp_part.name.lower()} modifier) are not evaluated")
    if isinstance(number, SigmaNumber) and lost(number.number):
        raise Unsupported(f"a number past 2**53, which pySigma keeps only as the float {number.number!r}")
    if field is None:
        if isinstance(value, SigmaNumber):
            return ("str", None, "in", number_text(value.number), False)
        raise Unsupported(f"keyword of type {type(value).__name__}")
    if isinstance(value, SigmaNumber):
        return ("num", field, value.number)
    if isinstance(value, SigmaNull):
        return ("null", field)
    if isinstance(value, SigmaExists):
        return ("exists", field, bool(value.exists))
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= {
                SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
                SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
                SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
            }[flag]
        text = str(value.regexp)
        try:
            re.compile(text, flags)
        except re.error as exc:
            raise Unsupported(f"regular expression {text!r}: {exc}") from exc
        return ("re", field, text, flags)
    if isinstance(value, SigmaCIDRExpression):
        return ("cidr", field, str(value.network))
    if isinstance(value, SigmaCompareExpression):
        ops = {CompareOperators.LT: "<", CompareOperators.LTE: "<=", CompareOperators.GT: ">",
               CompareOperators.GTE: ">=", CompareOperators.NEQ: "!="}
        return ("cmp", field, ops[value.op], value.number.number)
    if isinstance(value, SigmaFieldReference):
        return ("ref", field, str(value.field), bool(value.starts_with), bool(value.ends_with))
    raise Unsupported(f"value of type {type(value).__name__}")


# -- plans on sources with missing fields -------------------------------------------------------


def fields_of(node: Node) -> set[str | None]:
    """Every field a plan reads (None: a keyword, which reads them all)."""
    out: set[str | None] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] in ("and", "or"):
            stack.extend(n[1])
        elif n[0] == "not":
            stack.append(n[1])
        elif n[0] != "const":
            out.add(n[1])
            if n[0] == "ref":
                out.add(n[2])
    return out


def _simplify(op: str, items: Iterable[Node]) -> Node:
    absorbing, neutral = (FALSE, TRUE) if op == "and" else (TRUE, FALSE)
    kept: list[Node] = []
    for item in items:
        if item == absorbing:
            return absorbing
        if item != neutral:
            kept.append(item)
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else (op, tuple(kept))


def definite(node: Node, has: Callable[[str | None], bool], positive: bool = True) -> Node:
    """The plan that is true exactly when `node` is certainly true (`positive`; certainly false
    otherwise) whatever the values of the fields the source lacks (`has(field)` False). A leaf
    on a missing field is unknown: neither certainly true nor certainly false (Kleene logic).
    So a missing field inside an OR only loses that branch, while one inside an AND, or under a
    NOT (a filter), makes the whole certainly-true plan FALSE: the rule is then not run at all
    rather than run without the condition (a false positive) or run and never fire (a false
    negative presented as coverage)."""
    kind = node[0]
    if kind == "const":
        return node if positive else ("const", not node[1])
    if kind == "not":
        return definite(node[1], has, not positive)
    if kind in ("and", "or"):
        op = kind if positive else ("or" if kind == "and" else "and")
        return _simplify(op, (definite(c, has, positive) for c in node[1]))
    if not has(node[1]) or (kind == "ref" and not has(node[2])):
        return FALSE
    return node if positive else ("not", node)


def event_ids(node: Node) -> set[int] | None:
    """EventIDs the plan can only match (from `EventID: N` tests it requires), None = any."""
    kind = node[0]
    if kind == "num" and node[1] == "EventID" and isinstance(node[2], int):
        return {node[2]}
    if kind == "str" and node[1] == "EventID" and node[2] == "eq" and node[3].isdigit():
        return {int(node[3])}
    if kind == "or":
        out: set[int] = set()
        for c in node[1]:
            ids = event_ids(c)
            if ids is None:
                return None
            out |= ids
        return out
    if kind == "and":
        found: set[int] | None = None
        for c in node[1]:
            ids = event_ids(c)
            if ids is not None:
                found = ids if found is None else found & ids
        return found
    if node == FALSE:
        return set()
    return None


# -- plan -> Python ------------------------------------------------------------------------------


def _cany(value: str | None, needles: tuple[str, ...]) -> bool:
    if value is None:
        return False
    return any(n in value for n in needles)


def _call(value: str | None, needles: tuple[str, ...]) -> bool:
    return value is not None and all(n in value for n in needles)


#: IPv6's block of IPv4-mapped addresses (`::ffff:10.1.2.3`, as Windows logs 4624's IpAddress).
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _cidr(value: str | None, network: Any) -> bool:
    """Whether the address `value` is in `network`; an IPv4-mapped IPv6 address is its IPv4
    address, and an IPv4 address is in a network of mapped addresses (`::ffff:10.0.0.0/104`)."""
    if not value:
        return False
    try:
        addr: Any = ipaddress.ip_address(value.strip().strip("[]").split("%")[0])
    except ValueError:
        return False
    if addr.version != network.version:
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr.version == 4 and network.subnet_of(MAPPED):
            addr = ipaddress.IPv6Address(int(MAPPED.network_address) | int(addr))
    return bool(addr in network)


def _ref(a: str | None, b: str | None, starts: bool, ends: bool) -> bool:
    if a is None or b is None:
        return False
    if starts and ends:  # (`|fieldref|contains`: pySigma sets both)
        return b in a
    if starts:
        return a.startswith(b)
    if ends:
        return a.endswith(b)
    return a == b


def _kwin(r: dict[str, str], words: tuple[str, ...], cased: bool) -> bool:
    """Whether a value of the event contains one of the words (lower-cased unless `cased`; none
    holds a NUL): the values searched as one NUL-separated text, a C search per word, where a
    test per word and value cost 600 Python calls an event (20 words, 30 values)."""
    values = [v if cased else v.lower() for v in r.values() if isinstance(v, str)]
    if not values:
        return False
    text = "\x00".join(values)
    return any(w in text for w in words)


def _kw(r: dict[str, str], test: Callable[[str], bool]) -> bool:
    return any(test(v) for v in r.values() if isinstance(v, str))


HELPERS: dict[str, Any] = {
    "_cany": _cany, "_call": _call, "_glob": _glob, "_search": _search, "_num": _num, "_cmp": _cmp,
    "_cidr": _cidr, "_ref": _ref, "_kw": _kw, "_kwin": _kwin,
}


class _Gen:
    """Python source for one plan, constants in a namespace (never spliced in the code); `many`:
    many OR'ed values of a field become one `Many` test (`core.findings.sigma.many`)."""

    def __init__(self, many: bool = True) -> None:
        self.consts: dict[str, Any] = {}
        self.many = many

    def const(self, value: Any) -> str:
        name = f"k{len(self.consts)}"
        self.consts[name] = value
        return name

    def val(self, field: str | None, cased: bool) -> str:
        return f"r.get({self.const(field)})" if cased else f"l[{self.const(field)}]"

    def expr(self, node: Node, depth: int = 0) -> str:
        if depth > MAX_BRACKETS:  # (each level opens a bracket: `build` counts them exactly)
            raise Unsupported("condition nested too deeply")
        kind = node[0]
        if kind == "const":
            return "True" if node[1] else "False"
        if kind == "not":
            return f"(not {self.expr(node[1], depth + 1)})"
        if kind == "and":
            return "(" + " and ".join(self._merged(node[1], "and", depth)) + ")"
        if kind == "or":
            return "(" + " or ".join(self._merged(node[1], "or", depth)) + ")"
        return self.leaf(node)

    def _merged(self, items: tuple[Node, ...], op: str, depth: int) -> list[str]:
        """Sub-expressions, string tests of one field and kind joined into one test."""
        groups: dict[tuple[Any, ...], list[str]] = {}
        out: list[str | tuple[Any, ...]] = []
        if op == "or" and self.many:
            items = self._joined(items, out)
        for item in items:
            key: tuple[Any, ...] | None = None
            if item[0] == "str" and item[1] is not None and (op == "or" or item[2] == "in"):
                key = (item[1], item[2], item[4])
            elif item[0] == "str" and op == "or" and item[2] in ("eq", "in") and "\x00" not in item[3]:
                key = (None, "kw", item[4])  # (plain keywords, contained in a value: `_kwin`)
            if key is not None:
                if key not in groups:
                    groups[key] = []
                    out.append(key)
                groups[key].append(item[3])
            else:
                out.append(self.expr(item, depth + 1))
        result: list[str] = []
        for entry in out:
            if isinstance(entry, str):
                result.append(entry)
                continue
            field, kind, cased = entry
            texts = tuple(dict.fromkeys(groups[entry]))
            if kind == "kw":
                result.append(f"_kwin(r, {self.const(texts)}, {cased!r})")
                continue
            v = self.val(field, cased)
            if kind == "eq":
                result.append(f"({v} in {self.const(frozenset(texts))})" if len(texts) > 1 else
                              f"({v} == {self.const(texts[0])})")
            elif kind in ("start", "end"):
                method = "startswith" if kind == "start" else "endswith"
                result.append(f"({v} or '\\x00').{method}({self.const(texts)})")
            elif op == "or":
                result.append(f"_cany({v}, {self.const(texts)})")
            else:
                result.append(f"_call({v}, {self.const(texts)})")
        return result

    def _joined(self, items: tuple[Node, ...], out: list[str | tuple[Any, ...]]) -> tuple[Node, ...]:
        """Many OR'ed value tests of a field (or keywords) read alike, those of an OR of leaves
        too (a modifier's expansions: base64offset, windash), as one `Many` test, in `out`."""
        items = tuple(c for i in items for c in (i[1] if i[0] == "or" and all(map(kind_of, i[1])) else (i,)))
        groups: dict[tuple[str | None, bool], list[int]] = {}
        for i, item in enumerate(items):
            if kind_of(item) is not None:
                groups.setdefault((item[1], raw_input(item)), []).append(i)
        joined: set[int] = set()
        for (field, raw), places in groups.items():
            if len(places) > 1 and worth([items[i] for i in places]):
                m = Many([items[i] for i in places])
                kw = m if raw else m.lowered
                out.append(f"_kw(r, {self.const(kw)})" if field is None else f"{self.const(m)}({self.val(field, raw)})")
                joined.update(places)
        return tuple(item for i, item in enumerate(items) if i not in joined) if joined else items

    def leaf(self, node: Node) -> str:
        kind, field = node[0], node[1]
        if field is None:
            return self.keyword(node)
        if kind == "str":
            return self._merged((node,), "or", 0)[0]
        if kind == "present":
            return f"(r.get({self.const(field)}) is not None)"
        if kind == "glob":
            return f"_glob({self.const(rx(node[2], re.DOTALL))}, {self.val(field, node[3])})"
        if kind == "re":
            return f"_search({self.const(rx(node[2], node[3]))}, r.get({self.const(field)}))"
        if kind == "num":
            number = node[2]
            return (f"_num(r.get({self.const(field)}), {self.const(number_text(number))}, "
                    f"{self.const(rule_number(number))}, {isinstance(number, float)!r})")
        if kind == "cmp":
            number = node[3]
            return (f"_cmp(r.get({self.const(field)}), {self.const(node[2])}, {self.const(rule_number(number))}, "
                    f"{isinstance(number, float)!r})")
        if kind == "null":
            return f"(r.get({self.const(field)}) in (None, ''))"
        if kind == "exists":
            return f"(({self.const(field)} in r) == {node[2]!r})"
        if kind == "cidr":
            return f"_cidr(r.get({self.const(field)}), {self.const(ipaddress.ip_network(node[2], strict=False))})"
        if kind == "ref":
            return f"_ref(l[{self.const(field)}], l[{self.const(node[2])}], {node[3]!r}, {node[4]!r})"
        raise Unsupported(f"test {kind}")

    def keyword(self, node: Node) -> str:
        """A value without a field: any field value matches it (a plain word: contained)."""
        return f"_kw(r, {self.const(keyword_test(node))})"


def keyword_test(node: Node) -> Callable[[str], bool]:
    """The test of one value by a keyword leaf (field None)."""
    kind = node[0]
    if kind == "str":
        text, cased = node[3], node[4]
        fold = (lambda s: s) if cased else str.lower
        if node[2] in ("eq", "in"):
            return lambda v: text in fold(v)
        return (lambda v: fold(v).startswith(text)) if node[2] == "start" else (lambda v: fold(v).endswith(text))
    if kind == "glob":
        pattern = rx(node[2], re.DOTALL if node[3] else re.DOTALL | re.IGNORECASE)
        return lambda v: _glob(pattern, v)  # (a lone surrogate: Python's engine)
    if kind == "re":
        regex = rx(node[2], node[3])
        return lambda v: _search(regex, v)
    raise Unsupported(f"keyword test {kind}")


def keyword_tests(node: Node) -> tuple[Callable[[str], bool], ...]:
    """The value tests of a plan's keywords outside a `not`: a match's evidence names the fields
    holding what the rule looked for (a keyword reads every field: `fields_of` cannot say which)."""
    out: list[Callable[[str], bool]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] in ("and", "or"):
            stack.extend(n[1])
        elif n[0] not in ("not", "const") and n[1] is None:
            try:
                out.append(keyword_test(n))
            except (Unsupported, re.error, ValueError):
                continue  # (the rule compiled it or was refused: its evidence is only the lesser)
    return tuple(out)


def bracket_depth(code: str) -> int:
    """How deep brackets nest in generated code (its only string literal, '\\x00', holds none)."""
    return max(accumulate(int(c in "([{") - int(c in ")]}") for c in code), default=0)


def build(node: Node, *, many: bool = True) -> Match:
    """The function evaluating `node` (see the module doc); `many=False` tests many values of a
    field one by one (what `Many` answers as, compared by the tests). A condition whose code
    would nest more than MAX_BRACKETS brackets is Unsupported (CPython refuses it)."""
    gen = _Gen(many)
    body = gen.expr(node)
    if bracket_depth(body) > MAX_BRACKETS:
        raise Unsupported("condition nested too deeply")
    namespace: dict[str, Any] = {**HELPERS, **gen.consts}
    exec(compile(f"def match(r, l):\n    return {body}\n", "<sigma>", "exec"), namespace)  # noqa: S102 - our own code, constants by name
    fn: Match = namespace["match"]
    return fn
