"""The built-in findings of a store, kept with it: a reopen reads them back instead of running the rules.

Running the rules over a million events costs some 13 s of CPU (in a child process, `core.findings.child`)
on every open of a store, for the same answer each time. Once computed over a store whose inputs
are all read, the `FindingsData` is kept in the store (`core.store.findings_tables`) under a
key naming everything the answer depends on:

* FINDINGS_VERSION: the engine's own code (the checks, the titles of `SPECS`, the evidence kept);
* the rules' texts, built-in and the user's (`RuleSet.digest`, recorded in the data as
  `FindingsData.rules_digest`: a child that read another file than its parent keeps its own);
* the store's content (`findings_tables.content_key`: None while it may still change).

What is kept is a small blob (the rules' titles, severities and sources, and how many findings)
and one row per finding, with its rule's place in the Findings view (`core.findings.pages`): the
app reads them a page at a time and never holds them all (~350 MB at 10M events). A big store's
findings child (`core.findings.child`) keeps them itself and answers only that it did.

A kept result that cannot be read back exactly (another format, a cut or garbled blob or row, a
value of the wrong type, a row missing) is ignored: the rules run again and replace it. When it
is found, every row is checked once (streamed, none held). The encoding is `marshal` of plain
tuples, as the store's event data: fast to read and unable to build anything but plain values.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from core.findings.engine import Finding, FindingsData, store_findings
from core.findings.pages import StoredFindingList, decode_row, encode_row, view_key
from core.findings.rules import RuleSet
from core.store import findings_tables
from core.store.store import Store

#: Bump whenever the same rules over the same events can give other findings (a check, a
#: message, the evidence kept, a rule's title or default): results kept by older code are then
#: never read.
FINDINGS_VERSION = 3  # 2: an account name quoted exactly (was Python's repr); 3: copies fire once
#: The layout of the encoded blob and rows (`_encode`); bump when it changes.
_FORMAT = "evtx-findings-2"


def _key(store: Store, digest: str) -> str | None:
    if not digest:
        return None
    content = findings_tables.content_key(store)
    if content is None:
        return None
    return hashlib.sha256(f"{FINDINGS_VERSION}\0{_FORMAT}\0{digest}\0{content}".encode()).hexdigest()


def stored_findings(store: Store, rules: RuleSet, before_load: Callable[[], None] | None = None) -> FindingsData | None:
    """The findings of `rules` over `store` as kept with it (their rows read when asked:
    `StoredFindingList`), or None (never kept, kept for other rules or another content, or
    unreadable: the caller runs the rules). `before_load()` runs once a kept result is found,
    before its rows are checked, and after every DECODE_CHUNK of them (20,000 findings: 0.1 s of
    the interpreter), as for a child's answer (`core.findings.child.findings_in_child`)."""
    key = _key(store, rules.digest)
    if key is None:
        return None
    found = findings_tables.load(store, key)
    if found is None:
        return None
    result, blob = found
    if before_load is not None:
        before_load()
    meta = _decode_meta(blob)
    if meta is None or meta[0] != rules.digest:
        return None
    digest, count, titles, severities, sources = meta
    try:
        if not _rows_check(store, result, count, before_load):
            return None
    except sqlite3.Error:
        return None
    return FindingsData(StoredFindingList(store.path, result, count), titles, severities, sources, digest)


def keep_findings(store: Store, data: FindingsData, busy_ms: int | None = None) -> bool:
    """Keep `data`, computed over `store`, with it for its next open (through a connection of
    its own: `store` may be read-only). False when it is not kept: a store in memory or still
    loading, rules of unknown origin, a database that refuses the write (locked past `busy_ms`)."""
    key = _key(store, data.rules_digest) if store.shareable else None
    if key is None or not store.path.is_file():
        return False
    if isinstance(data.findings, StoredFindingList) and data.findings.path == store.path:
        return True  # read from there
    try:
        meta, rows = _encode(data)
        with Store(store.path) as writer:
            return findings_tables.save(writer, key, meta, rows, busy_ms)
    except ValueError:  # a value marshal cannot hold: not kept (it would not read back the same)
        return False
    except (sqlite3.Error, OSError):  # a cache directory gone read-only, a damaged file
        return False


def findings_of(store: Store, rules: RuleSet) -> FindingsData:
    """The findings of `rules` over `store`: as kept with it, else computed here and kept."""
    kept = stored_findings(store, rules)
    if kept is not None:
        return kept
    data = store_findings(store, rules)
    keep_findings(store, data)
    return data


def _encode(data: FindingsData) -> tuple[bytes, Iterator[findings_tables.Row]]:
    """The blob and the rows (made as they are written) of `data`: each finding with its place in
    its rule's list as the Findings view shows it (`view_key`). ValueError: not encodable."""
    findings = data.findings
    order: dict[str, list[int]] = {}
    for n, f in enumerate(findings):
        order.setdefault(f.rule, []).append(n)
    pos = [0] * len(findings)
    for seqs in order.values():
        seqs.sort(key=lambda n: view_key(findings[n]))
        for place, n in enumerate(seqs, 1):
            pos[n] = place
    meta = marshal.dumps((_FORMAT, data.rules_digest, len(findings), data.titles, data.severities, data.sources))

    def rows() -> Iterator[findings_tables.Row]:
        for n, f in enumerate(findings):
            yield n, f.rule, pos[n], f.severity, f.store_id, encode_row(f)

    return meta, rows()


def _str_map(value: Any) -> dict[str, str] | None:
    if type(value) is not dict or not all(type(k) is str and type(v) is str for k, v in value.items()):
        return None
    return value


def _decode_meta(blob: bytes) -> tuple[str, int, dict[str, str], dict[str, str], tuple[str, ...]] | None:
    """(rules digest, count, titles, severities, sources) of the blob `_encode` wrote, or None."""
    try:
        value = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):  # cut or garbled
        return None
    if type(value) is not tuple or len(value) != 6 or value[0] != _FORMAT:
        return None
    _, digest, count, titles, severities, sources = value
    titles, severities = _str_map(titles), _str_map(severities)
    if (type(digest) is not str or type(count) is not int or count < 0 or titles is None or severities is None
            or type(sources) is not tuple or not all(type(s) is str for s in sources)):
        return None
    return digest, count, titles, severities, sources


#: Rows checked between two calls of `_rows_check`'s `pause`: at 10M events a store keeps some
#: 200,000, a second of the interpreter in one go, which a view opened meanwhile shared.
DECODE_CHUNK = 4096


def _rows_check(store: Store, result: int, count: int, pause: Callable[[], None] | None) -> bool:
    """Whether the `count` rows of `result` read back as `_encode` wrote them: each decodes (value
    by value), its columns agree with it, seqs run 0..count-1 and each rule's places 1..n. Streamed:
    none is kept. `pause()` runs after every DECODE_CHUNK rows (it waits while the UI opens a view)."""
    places: dict[str, list[int]] = {}  # rule -> [count, sum of places, largest]
    seen = 0
    for seq, rule, pos, severity, store_id, value in findings_tables.iter_rows(store, result, DECODE_CHUNK):
        finding: Finding | None = decode_row(value)
        if (finding is None or seq != seen or finding.rule != rule or finding.severity != severity
                or finding.store_id != store_id or type(pos) is not int or pos < 1):
            return False
        held = places.setdefault(rule, [0, 0, 0])
        held[0] += 1
        held[1] += pos
        held[2] = max(held[2], pos)
        seen += 1
        if seen > count:
            return False
        if pause is not None and seen % DECODE_CHUNK == 0:
            pause()
    return seen == count and all(n == top and total == n * (n + 1) // 2 for n, total, top in places.values())
