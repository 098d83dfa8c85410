"""The built-in findings of a store, kept with it: a reopen reads them back instead of running the rules.

Running the rules over a million events costs some 13 s of CPU (in a child process, `core.findings.child`)
on every open of a store, for the same answer each time. Once computed over a store whose inputs
are all read, the `FindingsData` is kept in the store (`core.store.findings_tables`) under a
key naming everything the answer depends on:

* FINDINGS_VERSION: the engine's own code (the checks, the titles of `SPECS`, the evidence kept);
* the rules' texts, built-in and the user's (`RuleSet.digest`, recorded in the data as
  `FindingsData.rules_digest`: a child that read another file than its parent keeps its own);
* the store's content (`findings_tables.content_key`: None while it may still change).

A kept result that cannot be read back exactly (another format, a cut or garbled blob, a value
of the wrong type) is ignored: the rules run again and replace it. The encoding is `marshal` of
plain tuples, as the store's event data: fast to read (tens of milliseconds for tens of
thousands of findings) and unable to build anything but plain values.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable
from typing import Any

from core.findings.engine import Finding, FindingsData, store_findings
from core.findings.rules import RuleSet
from core.store import findings_tables
from core.store.store import Store

#: Bump whenever the same rules over the same events can give other findings (a check, a
#: message, the evidence kept, a rule's title or default): results kept by older code are then
#: never read.
FINDINGS_VERSION = 1
#: The layout of the encoded blob (`_encode`); bump when it changes.
_FORMAT = "evtx-findings-1"
_FIELDS = 10


def _key(store: Store, digest: str) -> str | None:
    if not digest:
        return None
    content = findings_tables.content_key(store)
    if content is None:
        return None
    return hashlib.sha256(f"{FINDINGS_VERSION}\0{_FORMAT}\0{digest}\0{content}".encode()).hexdigest()


def stored_findings(store: Store, rules: RuleSet, before_load: Callable[[], None] | None = None) -> FindingsData | None:
    """The findings of `rules` over `store` as kept with it, or None (never kept, kept for
    other rules or another content, or unreadable: the caller runs the rules). `before_load()`
    runs once a kept result is found, before it is decoded (20,000 findings: 0.08 s of the
    interpreter), as for a child's answer (`core.findings.child.findings_in_child`)."""
    key = _key(store, rules.digest)
    if key is None:
        return None
    blob = findings_tables.load(store, key)
    if blob is None:
        return None
    if before_load is not None:
        before_load()
    data = _decode(blob, before_load)
    if data is None or data.rules_digest != rules.digest:
        return None
    return data


def keep_findings(store: Store, data: FindingsData) -> bool:
    """Keep `data`, computed over `store`, with it for its next open (through a connection of
    its own: `store` may be read-only). False when it is not kept: a store in memory or still
    loading, rules of unknown origin, a database that refuses the write."""
    key = _key(store, data.rules_digest) if store.shareable else None
    blob = None if key is None else _encode(data)
    if key is None or blob is None or not store.path.is_file():
        return False
    try:
        with Store(store.path) as writer:
            return findings_tables.save(writer, key, blob)
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


def _encode(data: FindingsData) -> bytes | None:
    rows = [(f.rule, f.severity, f.store_id, f.record_id, f.event_id, f.computer, f.time, f.message,
             f.evidence, f.related_store_id) for f in data.findings]
    try:
        return marshal.dumps((_FORMAT, data.rules_digest, rows, data.titles, data.severities, data.sources))
    except ValueError:  # a value marshal cannot hold: not kept (it would not read back the same)
        return None


def _str_map(value: Any) -> dict[str, str] | None:
    if type(value) is not dict or not all(type(k) is str and type(v) is str for k, v in value.items()):
        return None
    return value


def _finding(row: Any) -> Finding | None:
    """The Finding of one encoded row, or None when any of its values has the wrong type."""
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


#: Findings decoded between two calls of `_decode`'s `pause`: at 10M events a store keeps some
#: 200,000, a second of the interpreter in one go, which a view opened meanwhile shared.
DECODE_CHUNK = 4096


def _decode(blob: bytes, pause: Callable[[], None] | None = None) -> FindingsData | None:
    """The data `_encode` wrote, or None for anything else (checked value by value); `pause()`
    runs after every DECODE_CHUNK findings (it waits while the UI opens a view)."""
    try:
        value = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):  # cut or garbled
        return None
    if type(value) is not tuple or len(value) != 6 or value[0] != _FORMAT:
        return None
    _, digest, rows, titles, severities, sources = value
    titles, severities = _str_map(titles), _str_map(severities)
    if (type(digest) is not str or type(rows) is not list or titles is None or severities is None
            or type(sources) is not tuple or not all(type(s) is str for s in sources)):
        return None
    findings = []
    for n, row in enumerate(rows, 1):  # bounded by the blob's size
        finding = _finding(row)
        if finding is None:
            return None
        findings.append(finding)
        if pause is not None and n % DECODE_CHUNK == 0:
            pause()
    return FindingsData(findings, titles, severities, sources, digest)
