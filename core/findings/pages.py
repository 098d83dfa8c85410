"""The findings of a store read a page at a time, as the event table reads its events.

At 10 million events the built-in rules flag some 200,000 events: as `Finding` objects (a message
and evidence strings each) that is ~350 MB, held for the whole session only to draw the screen
of them the user looks at. Once kept with the store (`core.findings.stored`), the findings stay
there: `StoredFindingList` is the `FindingsData.findings` of a kept result, a sequence that
reads its rows from the store when asked (counts per rule from SQL aggregates, a rule's page in
the Findings view's order, one event's findings for the detail pane, the most severe finding of
each event for the table's markers) and holds none of them.

`pages_of` gives the same questions' answers for findings held in memory (a store still loading,
in memory, or refusing the write: `ListPages`), so that callers do not care which it is.

The rows are encoded here (`encode_row`/`decode_row`: `marshal` of plain tuples, their declared
sizes checked before they are loaded (`core.model.rows.marshal_bounded`) and their values checked
one by one after); the SQL is `core.store.findings_tables`'.
"""

from __future__ import annotations

import marshal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, overload

from core.findings.engine import Finding, FindingsData
from core.model.event import iso_from_filetime
from core.model.rows import marshal_bounded
from core.store import findings_tables
from core.store.store import Store

#: Rows read at once when the whole list is walked (the CLI, an equality check).
CHUNK = 4096
_FIELDS = 10


def view_key(finding: Finding) -> tuple[bool, str, int]:
    """The Findings view's order of a rule's findings: time order as the view prints it (no
    time last), then the event's store id."""
    when = finding.time
    text = (iso_from_filetime(when) or "no time") if when is not None else "no time"
    return when is None, text, finding.store_id


def encode_row(f: Finding) -> bytes:
    """One finding as kept in the store (ValueError: a value marshal cannot hold)."""
    return marshal.dumps((f.rule, f.severity, f.store_id, f.record_id, f.event_id, f.computer, f.time, f.message,
                          f.evidence, f.related_store_id))


def finding_of(row: Any) -> Finding | None:
    """The Finding of one decoded row, or None when any of its values has the wrong type."""
    if type(row) is not tuple or len(row) != _FIELDS:
        return None
    rule, severity, store_id, record_id, event_id, computer, time, message, evidence, related = row
    if not (type(rule) is str and type(severity) is str and type(store_id) is int and type(event_id) is int
            and type(computer) is str and type(message) is str and type(evidence) is tuple
            and (record_id is None or type(record_id) is int) and (time is None or type(time) is int)
            and (related is None or type(related) is int)):
        return None
    for pair in evidence:
        if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not str:
            return None
    return Finding(rule, severity, store_id, record_id, event_id, computer, time, message, evidence, related)


def decode_row(value: Any) -> Finding | None:
    """The Finding `encode_row` wrote, or None for anything else."""
    if not isinstance(value, bytes):
        return None
    if not marshal_bounded(value):  # (checked first: a count marshal would allocate whole, bit-flipped)
        return None
    try:
        return finding_of(marshal.loads(value))
    except (EOFError, ValueError, TypeError, MemoryError, OverflowError):  # cut or garbled
        return None


def _decoded(value: Any) -> Finding:
    finding = decode_row(value)
    if finding is None:
        raise ValueError("a finding kept with the store is unreadable")
    return finding


class FindingsPages(Protocol):
    """What the app asks of a store's findings (see the module docstring)."""

    def rule_counts(self) -> list[tuple[str, int, str]]:
        """(rule, how many findings, the severity of its first in engine order) per rule that fired."""
        ...

    def rule_page(self, rule: str, after: int, limit: int) -> list[tuple[int, Finding]]:
        """(place, finding) of up to `limit` findings of `rule` after place `after` (0: from the
        first; places count from 1), in the Findings view's order (`view_key`)."""
        ...

    def of_event(self, store_id: int) -> list[Finding]:
        """The findings of one event, in engine order."""
        ...

    def highest(self, rank: Callable[[str], int]) -> dict[int, str]:
        """Each flagged event's most severe finding's severity (lowest `rank`, then rule id)."""
        ...


def _best(found: dict[int, tuple[int, str, str]], store_id: int, rank: int, rule: str, severity: str) -> None:
    held = found.get(store_id)
    if held is None or (rank, rule) < held[:2]:
        found[store_id] = (rank, rule, severity)


class ListPages:
    """`FindingsPages` of findings held in memory (a store not kept: small, loading, or in memory)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._findings = findings
        self._by_rule: dict[str, list[Finding]] | None = None
        self._by_event: dict[int, list[Finding]] | None = None

    def _rules(self) -> dict[str, list[Finding]]:
        if self._by_rule is None:
            groups: dict[str, list[Finding]] = defaultdict(list)
            for finding in self._findings:
                groups[finding.rule].append(finding)
            firsts = {rule: items[0] for rule, items in groups.items()}
            for items in groups.values():
                items.sort(key=view_key)
            self._firsts = firsts
            self._by_rule = dict(groups)
        return self._by_rule

    def rule_counts(self) -> list[tuple[str, int, str]]:
        rules = self._rules()
        return [(rule, len(items), self._firsts[rule].severity) for rule, items in rules.items()]

    def rule_page(self, rule: str, after: int, limit: int) -> list[tuple[int, Finding]]:
        items = self._rules().get(rule, [])
        start = max(0, after)
        return [(start + n + 1, f) for n, f in enumerate(items[start:start + max(0, limit)])]

    def of_event(self, store_id: int) -> list[Finding]:
        if self._by_event is None:
            by_event: dict[int, list[Finding]] = defaultdict(list)
            for finding in self._findings:
                by_event[finding.store_id].append(finding)
            self._by_event = dict(by_event)
        return list(self._by_event.get(store_id, ()))

    def highest(self, rank: Callable[[str], int]) -> dict[int, str]:
        found: dict[int, tuple[int, str, str]] = {}
        for f in self._findings:
            _best(found, f.store_id, rank(f.severity), f.rule, f.severity)
        return {sid: held[2] for sid, held in found.items()}


class StoredFindingList(Sequence[Finding]):
    """The findings of a result kept with the store at `path` (id `result`, `count` rows, all
    checked when it was found: `core.findings.stored.stored_findings`), read when asked, never
    held; and their `FindingsPages`. Each thread reads through a read-only connection of its own
    (sqlite connections are per thread). Reads raise StoreError (the store gone or damaged
    since) or ValueError (a row changed since it was checked)."""

    def __init__(self, path: Path, result: int, count: int) -> None:
        self.path = Path(path)
        self.result = result
        self.size = count
        self._local = threading.local()

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path, readonly=True)
            self._local.store = store
        return store

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(index)
        return _decoded(findings_tables.value_at(self._store(), self.result, index))

    def __iter__(self) -> Iterator[Finding]:
        for row in findings_tables.iter_rows(self._store(), self.result, CHUNK):
            yield _decoded(row[5])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredFindingList({str(self.path)!r}, result={self.result}, size={self.size})"

    # -- FindingsPages ----------------------------------------------------------------------

    def rule_counts(self) -> list[tuple[str, int, str]]:
        return findings_tables.rule_counts(self._store(), self.result)

    def rule_page(self, rule: str, after: int, limit: int) -> list[tuple[int, Finding]]:
        rows = findings_tables.rule_page(self._store(), self.result, rule, after, limit)
        return [(int(pos), _decoded(value)) for pos, value in rows]

    def of_event(self, store_id: int) -> list[Finding]:
        return [_decoded(v) for v in findings_tables.event_values(self._store(), self.result, store_id)]

    def highest(self, rank: Callable[[str], int]) -> dict[int, str]:
        found: dict[int, tuple[int, str, str]] = {}
        words: dict[str, tuple[str, int]] = {}  # one string per severity, not one per event
        for store_id, severity, rule in findings_tables.event_severities(self._store(), self.result):
            known = words.get(severity)
            if known is None:
                known = words[severity] = (severity, rank(severity))
            _best(found, store_id, known[1], rule, known[0])
        return {sid: held[2] for sid, held in found.items()}


def pages_of(data: FindingsData) -> FindingsPages:
    """The `FindingsPages` of `data`: its kept rows, or the findings it holds."""
    findings = data.findings
    return findings if isinstance(findings, StoredFindingList) else ListPages(findings)
