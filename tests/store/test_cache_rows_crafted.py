"""A cache row whose EventData blob was bit-flipped or crafted: its declared sizes are checked
before `marshal` can allocate from them (a 5-byte `(` + 0x7ffffff0 once took 16.8 GB and 39 s),
its shape (a tuple of (str, str) pairs) is checked after, and every such row ends the command in
the one "cached copy ... is damaged" line (status 1, no traceback), never a silent wrong value;
the next run parses the logs again."""

from __future__ import annotations

import marshal
import sqlite3
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from core.findings import pages
from core.findings.engine import Finding
from core.model.rows import data_pairs, decode_row, marshal_bounded
from core.store import cache_damage
from core.store.cache import cache_dir
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

_NEST: Any = ("a", "b")
for _ in range(1990):
    _NEST = (_NEST,)

#: A declared count far past the bytes left (16 M items: 128 MB if marshal allocated it, as it
#: did; the probe's 0x7ffffff0 took 16.8 GB, too much to run without the fix).
HUGE = struct.pack("<i", 0x01000000)
#: name -> a crafted `events.data` value
CRAFTED: dict[str, object] = {
    "huge tuple": b"(" + HUGE,
    "huge tuple in a pair": b")\x01(" + HUGE,
    "huge list": b")\x01[" + HUGE,
    "huge string": b"(" + struct.pack("<i", 1) + b"(" + struct.pack("<i", 2) + b"u"
                   + struct.pack("<i", 0x7FFFFFF0) + b"ab",
    "three in a pair": marshal.dumps((("a", "b", "c"),)),
    "int and None values": marshal.dumps((("CommandLine", 12345), ("NewProcessName", None))),
    "nested value": marshal.dumps((("X", _NEST),)),
    "code value": marshal.dumps((("X", (lambda: 1).__code__),)),
    "a bare string": marshal.dumps("ab"),
    "a string for a pair": marshal.dumps(("ab",)),
    "garbage": b"\xff\xfe\x00garbage",
    "text, not bytes": "(('a', 'b'),)",
    "a number": 7,
}


def _row(data: object) -> tuple[object, ...]:
    return (0, 1, 1, 133_500_000_000_000_000, 4688, 0, 0, 0, 0, "0x0", "Security", "P", "HOST", 4, 8, None, 1, data)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_crafted_blob_is_damage_never_a_value(name: str) -> None:
    with pytest.raises(ValueError) as raised:
        decode_row(_row(CRAFTED[name]))
    assert cache_damage.is_damage(raised.value)


def test_a_huge_declared_count_allocates_nothing() -> None:
    """16 M items declared in 5 bytes: marshal alone allocates 128 MB for them, then fails."""
    for blob in (b"(" + HUGE, b")\x01(" + HUGE, b")\x01[" + HUGE):
        tracemalloc.start()
        try:
            with pytest.raises(ValueError):
                data_pairs(blob)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000


@pytest.mark.parametrize("pairs", [
    (("NewProcessName", "C:\\Program Files (x86)\\a [1].exe"), ("CommandLine", "è Ш 中 " * 40)),
    tuple((f"Field{i % 7}", "x" * (i % 300)) for i in range(300)),  # a 4-byte count, long strings
    (("Data", "same"),) * 5,  # one pair written once, referenced after
    (("", ""),),
])
def test_what_the_encoder_writes_reads_back(pairs: tuple[tuple[str, str], ...]) -> None:
    blob = marshal.dumps(pairs, 4)
    assert marshal_bounded(blob)
    assert decode_row(_row(blob)).data == pairs


def test_a_finding_row_with_a_huge_count_is_unreadable_and_allocates_nothing() -> None:
    good = Finding("r1", "high", 5, 7, 4688, "HOST", 1, "msg", (("Image", "a (x86)"),), None)
    assert pages.decode_row(pages.encode_row(good)) == good
    tracemalloc.start()
    try:
        assert pages.decode_row(b")\x0a(" + HUGE) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


# -- through the CLI ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_damage, "_opened", [])  # each run a new process, as the CLI is


@pytest.mark.parametrize("name", ["huge tuple", "three in a pair", "int and None values", "nested value",
                                  "code value", "huge string"])
def test_a_crafted_row_is_one_line_then_parsed_again(tmp_path: Path, name: str) -> None:
    events = [event_xml(4688, n, f"2024-01-01T00:{n:02d}:00Z", {"NewProcessName": f"C:\\p{n}.exe"})
              for n in range(1, 11)]
    log = write_events(tmp_path / "log.xml", events)
    assert run_cli("query", str(log), "--format", "jsonl")[0] == 0
    (db,) = [p for p in cache_dir().glob("*.sqlite") if not p.is_symlink()]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET data = ? WHERE id IN (SELECT id FROM events ORDER BY ts LIMIT 3)",
                     (CRAFTED[name],))
    code, out, err = run_cli("query", str(log), "--format", "jsonl", "--limit", "2")
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "the cached copy of the logs is damaged" in err and "run the command again" in err
    assert "12345" not in out
    cache_damage._opened.clear()
    code, out, err = run_cli("query", str(log), "--format", "jsonl")
    assert code == 0, err
    assert len(out.splitlines()) == 10 and "C:\\\\p1.exe" in out


@pytest.mark.parametrize("name", ["huge tuple", "huge tuple in a pair", "huge string"])
def test_the_correlation_builds_reading_child_ends_on_a_crafted_row_and_the_build_says_damaged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The build's reading child decodes rows without the checks (`child_pairs`: they cost it a
    sixth of its time); a row it cannot read ends it, and the build then reads in process, checked.
    (A row of other types than text ends it too: `tests/correlate/test_child_values.py`.)"""
    from core.correlate import scan_reader
    from core.store.child_process import ChildFailed

    monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)  # (the child for any build)
    failed: list[str] = []
    real = scan_reader.child_rows

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            yield from real(*args, **kwargs)
        except ChildFailed as exc:
            failed.append(str(exc))
            raise

    monkeypatch.setattr(scan_reader, "child_rows", watched)
    events = [event_xml(4688, n, f"2024-01-01T00:{n:02d}:00Z", {"NewProcessName": f"C:\\p{n}.exe"})
              for n in range(1, 11)]
    log = write_events(tmp_path / "log.xml", events)
    assert run_cli("stats", str(log))[0] == 0
    (db,) = [p for p in cache_dir().glob("*.sqlite") if not p.is_symlink()]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET data = ? WHERE id IN (SELECT id FROM events ORDER BY ts LIMIT 3)",
                     (CRAFTED[name],))
    code, _, err = run_cli("correlate", str(log), "--record", "5", "--json")
    assert code == 1, err
    assert "Traceback" not in err and "the cached copy of the logs is damaged" in err
    assert failed, "the child read the crafted rows without failing"
