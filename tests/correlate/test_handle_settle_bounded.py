"""A copy's object is settled in time linear in the chain of copies behind it (`HandleTracker._objects`).

The probe's hostile log: N pairs of a 4656 and a 4690 on one pid and handle value, all at one
time, each 4690's target its own source key. Each 4690 takes as its source the copy the next
4690 makes (logged just after it), so the copies form one chain N long, and settling each copy
walked the whole chain behind it: N=20,000 ran past 60 s (67 s of CPU), all in `_settle_held`.
Now each instance is walked once, and the answers are those the walk gave (recorded from the
code before the change at N=2,000; a chain ending in an open that names the object gives every
copy that object).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from core.correlate.handles import NOTHING, HandleFields, HandleTracker, _filled
from tests.cliutil import run_cli

T = "2024-01-01T00:00:00Z"
AUDIT_OFF = "Handle Manipulation auditing seems off: no 4658 at all for h1 in this log"
INFERRED_AFTER = ("its 4690 (record {}) is logged 0.0000000 s after this 4690 (out of order): the nearest open of "
                  "that value by that process")
TARGET_INFERRED = ("created by this 4690; {}; its object is its source handle's, which is inferred")


def hostile(n: int, path: Path, *, last_open: bool = False) -> Path:
    """The probe's `mkambig.py N FILE h` (4656 records n+1.., 4690 records 3n+1..), and with
    `last_open` a last 4656 naming the object (record 4n+1) and its 4658 (4n+2)."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        rows.append({"EventID": 4656, "Computer": "h1", "EventRecordID": n + i + 1, "TimeCreated": T,
                     "ProcessId": "0x100", "HandleId": "0x10", "ObjectName": "o", "SubjectLogonId": "0x3e7"})
        rows.append({"EventID": 4690, "Computer": "h1", "EventRecordID": 3 * n + i + 1, "TimeCreated": T,
                     "SourceProcessId": "0x100", "SourceHandleId": "0x10", "TargetProcessId": "0x100",
                     "TargetHandleId": "0x10"})
    if last_open:
        rows.append({"EventID": 4656, "Computer": "h1", "EventRecordID": 4 * n + 1, "TimeCreated": T,
                     "ProcessId": "0x100", "HandleId": "0x10", "ObjectType": "File", "ObjectName": "last",
                     "AccessList": "%%4416", "SubjectLogonId": "0x3e7"})
        rows.append({"EventID": 4658, "Computer": "h1", "EventRecordID": 4 * n + 2,
                     "TimeCreated": "2024-01-01T00:00:01Z", "ProcessId": "0x100", "HandleId": "0x10",
                     "SubjectLogonId": "0x3e7"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def handles_of(path: Path, query: str) -> dict[int, tuple[Any, Any]]:
    status, out, err = run_cli("correlate", "--no-cache", "--where", query, "--json", str(path))
    assert status == 0, err

    def said(h: dict[str, Any] | None) -> Any:
        if h is None:
            return None
        return (h["open_record_id"], h["object_type"], h["object_name"], h["confidence"], h["reason"],
                h["close_reason"])

    return {d["event"]["record_id"]: (said(d["source_handle"]), said(d["target_handle"])) for d in json.loads(out)}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def test_a_chain_of_20000_copies_settles_in_bounded_time(tmp_path: Path) -> None:
    path = hostile(20_000, tmp_path / "h20000.jsonl")
    began = time.process_time()
    got = handles_of(path, "record:60001 OR record:70000 OR record:80000")
    spent = time.process_time() - began
    assert spent < 20, f"{spent:.1f} s of CPU (67 s before: quadratic in the chain)"
    assert got[60001] == ((None, None, None, "inferred", INFERRED_AFTER.format(60002), AUDIT_OFF),
                          (None, None, None, "inferred", TARGET_INFERRED.format(AUDIT_OFF), AUDIT_OFF))
    assert got[70000][0] is not None and got[70000][0][4] == INFERRED_AFTER.format(70001)
    assert got[80000] == (
        (None, None, None, "missing", "no 4656 for handle 0x10 of process 0x100 near this 4690: opened before the "
         "log begins, or its object is not audited", None),
        (None, None, None, "exact", f"created by this 4690; {AUDIT_OFF}", AUDIT_OFF))


def test_a_long_chain_ending_in_a_named_open_gives_every_copy_its_object(tmp_path: Path) -> None:
    path = hostile(20_000, tmp_path / "v20000.jsonl", last_open=True)
    began = time.process_time()
    got = handles_of(path, "record:60001 OR record:70000 OR record:80000")
    assert time.process_time() - began < 20
    for record in (60001, 70000):
        source, target = got[record]
        assert source[1:3] == target[1:3] == ("File", "last")
        assert source[3] == target[3] == "inferred"
    source, target = got[80000]
    assert source[:4] == (80001, "File", "last", "inferred")
    assert source[5] == "closed by 4658 record 80002"
    assert target[1:4] == ("File", "last", "inferred")


def test_the_answers_at_2000_are_those_of_the_walk(tmp_path: Path) -> None:
    """Recorded from the code before `_objects` (the walk per copy), every 4656 and 4690."""
    got = handles_of(hostile(2_000, tmp_path / "h2000.jsonl"), "4690 OR 4656")
    assert len(got) == 4_000
    for record in (2001, 2002, 3000, 4000):  # each 4656 opens its own instance
        assert got[record] == ((record, None, "o", "exact", "opened by this 4656", AUDIT_OFF), None)
    for record in (6001, 6002, 7000, 7999):
        assert got[record] == ((None, None, None, "inferred", INFERRED_AFTER.format(record + 1), AUDIT_OFF),
                               (None, None, None, "inferred", TARGET_INFERRED.format(AUDIT_OFF), AUDIT_OFF))
    assert got[8000] == (
        (None, None, None, "missing", "no 4656 for handle 0x10 of process 0x100 near this 4690: opened before the "
         "log begins, or its object is not audited", None),
        (None, None, None, "exact", f"created by this 4690; {AUDIT_OFF}", AUDIT_OFF))
    named = handles_of(hostile(2_000, tmp_path / "v2000.jsonl", last_open=True), "4690")
    assert {v[0][1:3] for v in named.values()} == {v[1][1:3] for v in named.values()} == {("File", "last")}
    assert named[7000] == (
        (None, "File", "last", "inferred", INFERRED_AFTER.format(7001), "no 4658 for it: the value 0x10 was reused "
         "by 4690 record 7002"),
        (None, "File", "last", "inferred", TARGET_INFERRED.format("no 4658 for it: the value 0x10 was reused by "
                                                                   "4690 record 7001"),
         "no 4658 for it: the value 0x10 was reused by 4690 record 7001"))


def _walked(waiting: dict[int, tuple[int, HandleFields]], index: int) -> HandleFields:
    """The walk `_objects` replaces (`_settle_cycles`' before it): its own word, then each
    source's, up to one seen twice or one not waiting."""
    source, fields = waiting[index]
    seen = {index}
    while source in waiting and source not in seen:
        seen.add(source)
        source, more = waiting[source]
        fields = _filled(fields, more)
    return fields


@pytest.mark.parametrize("seed", range(20))
def test_objects_answer_as_the_walk_on_chains_and_loops(seed: int) -> None:
    """Random sources among waiting copies (chains, loops, chains into loops, sources not waiting):
    `_objects` says for each what walking its chain says."""
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    words: list[str | None] = [None, None, None, "a", "b"]
    waiting: dict[int, tuple[int, HandleFields]] = {}
    for i in range(n):
        own: HandleFields = (rng.choice(words), rng.choice(words), rng.choice(words))
        waiting[i] = (rng.randrange(n + 5), own)  # (n and beyond: a source not waiting)
    tracker = HandleTracker.__new__(HandleTracker)
    tracker.handles = {}
    tracker._waiting = waiting  # noqa: SLF001 - the state `_objects` reads
    got = tracker._objects(rng.sample(range(n), n))  # noqa: SLF001
    assert {i: got[i] for i in range(n)} == {i: _walked(waiting, i) for i in range(n)}
    assert NOTHING == (None, None, None)
