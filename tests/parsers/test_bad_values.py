"""One bad value costs that value, never the record, never the input.

* An integer outside the signed 64-bit range (EVTX UInt64, JSON number) made sqlite3 raise
  OverflowError on insert: the input was marked unreadable and every batch after the first
  dropped. It is now stored exactly and found by the queries that compare numbers.
* A lone UTF-16 surrogate (JSON `\\ud800`, XML `&#xD800;`) made sqlite3 raise
  UnicodeEncodeError (in a value: the file was lost; in a key: the CLI died with a traceback).
  It becomes U+FFFD and a parse issue names the record and the field.
* A control character in a System attribute (`Security/@UserID`) was stored as a private-use
  stand-in. The store keeps the real character; only display escapes it.
"""

from __future__ import annotations

import io
import json
import marshal
import os
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cli.main import main
from core.model.event import Event, SourceInfo
from core.model.rows import encode_tuples, event_fields, new_postings, postings_text
from core.query.compile import compile_query
from core.query.view import View, fetch_beside, locate
from core.store import evtx_ingest
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from parsers.registry import raw_text
from tests.logs import NS
from tests.shared import sample

BIG = 2**64 + 5  # 18446744073709551621
NEG = -(2**63) - 1
N = 1200  # several batches (the first is 200 events)


def _query(store: Store, text: str) -> list[Event]:
    c = compile_query(text)
    return [se.event for se in store.select(c)]


def _load(*paths: Path) -> tuple[Store, list[SourceInfo]]:
    store = Store(":memory:")
    infos = load_paths([str(p) for p in paths], store)
    return store, infos


def _run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def _json_record(rid: object, *, pid: object = 4, data: str = '{"CommandLine": "a"}', version: object = 1) -> str:
    return (
        f'{{"Event": {{"System": {{"EventID": 4688, "EventRecordID": {rid}, "Version": {version}, '
        f'"Channel": "Security", "Computer": "WS01", '
        f'"Execution": {{"#attributes": {{"ProcessID": {pid}, "ThreadID": 8}}}}}}, "EventData": {data}}}}}'
    )


def _xml_event(
    rid: object, *, pid: object = 4, value: str = "ok", uid: str = "S-1-5-18", computer: str = "WS01"
) -> str:
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='P'/><EventID>4624</EventID>"
        f"<EventRecordID>{rid}</EventRecordID><Execution ProcessID='{pid}' ThreadID='1'/>"
        f"<Channel>Security</Channel><Computer>{computer}</Computer><Security UserID='{uid}'/></System>"
        f"<EventData><Data Name='A'>{value}</Data></EventData></Event>"
    )


# --------------------------------------------------------------------------- huge integers


def test_huge_json_integers_are_stored_exactly_and_the_file_loads(tmp_path: Path) -> None:
    lines = [_json_record(i) for i in range(1, N + 1)]
    lines[599] = _json_record(BIG, pid=NEG, version=2**70)
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    store, infos = _load(path)
    assert infos[0].error is None and infos[0].records == N
    [event] = _query(store, f"record:{BIG}")
    assert (event.record_id, event.pid, event.version) == (BIG, NEG, 2**70)
    assert [e.record_id for e in _query(store, f"processid:{NEG}")] == [BIG]  # (the header pid: `processid`)
    assert [e.record_id for e in _query(store, f"record:{BIG:#x}")] == [BIG]
    assert _query(store, "record:600") == []  # no wrap-around, no lossy float
    # The app pages around such an event (its record id is the anchor's), a mark finds it again.
    [se] = store.select(compile_query(f"record:{BIG}"))
    view = View(compile_query(""), by_time=True)
    assert [e.id for e in fetch_beside(store, view, se, after=False, page=2)] == [N - 1, N]
    assert locate(store, view, se.id) is not None
    assert len(_query(store, "4688")) == N
    assert sum(1 for _ in store.iter_events()) == N


def test_huge_xml_integers_are_stored_exactly(tmp_path: Path) -> None:
    events = [_xml_event(i) for i in range(1, N + 1)]
    events[10] = _xml_event(BIG, pid=99999999999999999999)
    path = tmp_path / "big.xml"
    path.write_text("<Events>" + "".join(events) + "</Events>")
    store, infos = _load(path)
    assert infos[0].error is None and infos[0].records == N
    [event] = _query(store, f"record:{BIG}")
    assert event.pid == 99999999999999999999


def _evtx_rows_with_huge_values(batch: evtx.EncodedBatch) -> evtx.EncodedBatch:
    """A decoded EVTX batch whose first record carries a UInt64 EventRecordID and FILETIME
    above 2**63 (as a flipped bit makes them), in the decoder's own row layout."""
    rows = list(batch.rows)
    if not rows:
        return batch
    row = list(rows[0])
    row[3], row[4] = 2**64 - 1, 2**63 + 7
    rows[0] = tuple(row)
    return batch._replace(rows=rows)


def test_huge_evtx_values_keep_the_rest_of_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample("evtx/parsers/omerbenamram__samples__security.evtx")
    _, infos = _load(path)
    total = infos[0].records
    real = evtx.iter_encoded_batches

    def patched(path: str, source: int = 0, jobs: int | None = None) -> Iterator[evtx.EncodedBatch]:
        for batch in real(path, source, jobs):
            yield _evtx_rows_with_huge_values(batch)

    monkeypatch.setattr(evtx, "iter_encoded_batches", patched)
    monkeypatch.setattr(evtx, "uses_workers", lambda *a: False)
    store, infos = _load(path)
    assert infos[0].error is None and infos[0].records == total > 0
    found = _query(store, f"record:{2**64 - 1}")
    assert found and all(e.filetime == 2**63 + 7 for e in found)
    latest = store.time_range()[1]
    assert latest is not None and latest < 2**63


def test_evtx_worker_insert_keeps_huge_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path of large EVTX logs: each worker inserts its rows through its own connection."""
    db = tmp_path / "s.sqlite"
    Store(db).close()
    event = Event(0, 1, 2**64 - 1, 2**63 + 7, 4624, pid=2**32 + 2**63, data=(("TargetUserName", "b\ud800b"),))
    postings = new_postings()
    rows = encode_tuples([(1024, event_fields(event))], postings)
    monkeypatch.setattr(evtx, "encode_range", lambda *a: evtx.EncodedBatch(rows, postings, [], 2048))
    stored = evtx_ingest.store_range_here(str(db), "x.evtx", 0, 0, 1)
    assert stored.events == 1 and len(stored.issues) == 1 and "TargetUserName" in stored.issues[0].reason
    with Store(db) as store:
        [se] = store.select()
        assert (se.event.record_id, se.event.filetime, se.event.pid) == (2**64 - 1, 2**63 + 7, 2**32 + 2**63)
        assert se.event.data == (("TargetUserName", "b\ufffdb"),)
        assert [k.record_id for k in store.iter_keys()] == [2**64 - 1]


# --------------------------------------------------------------------------- lone surrogates


def test_lone_surrogate_in_json_costs_only_that_value(tmp_path: Path) -> None:
    lines = [_json_record(i) for i in range(1, N + 1)]
    lines[299] = _json_record(300, data='{"CommandLine": "run \\ud800 now", "Ok": "fine"}')
    lines[599] = _json_record(600, data='{"K\\udc00ey": "v", "Ok": "fine"}')
    lines[899] = _json_record(900, data='{"Pair": "\\ud83d\\ude00"}')  # a valid pair stays
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(_json_record(1) + "\n")
    store, infos = _load(bad, other)
    assert infos[0].error is None and infos[0].records == N
    assert infos[1].error is None and infos[1].records == 1
    reasons = [i.reason for i in infos[0].parse_issues]
    assert len(reasons) == 2
    assert "record 300" in reasons[0] and "CommandLine" in reasons[0]
    assert "record 600" in reasons[1] and "K\ufffdey" in reasons[1]
    [e300] = _query(store, "record:300")
    assert e300.data == (("CommandLine", "run \ufffd now"), ("Ok", "fine"))
    assert [e.record_id for e in _query(store, "K\ufffdey:v")] == [600]
    [e900] = _query(store, "record:900")
    assert e900.data == (("Pair", "\U0001f600"),)
    assert len(store.issues()) == 2


def test_lone_surrogate_key_does_not_crash_the_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_json_record(1, data='{"K\\udc00ey": "v"}') + "\n")
    good = tmp_path / "good.jsonl"
    good.write_text(_json_record(2) + "\n")
    status, out, err = _run_cli("stats", "--json", "--no-cache", str(bad), str(good))
    assert "Traceback" not in err
    doc = json.loads(out)
    assert [(f["records"], f["parse_issues"], f["error"]) for f in doc["files"]] == [(1, 1, None), (1, 0, None)]
    assert status == 0


def test_invalid_xml_characters_cost_only_that_value(tmp_path: Path) -> None:
    events = [_xml_event(i) for i in range(1, 401)]
    events[99] = _xml_event(100, value="bad &#xD800; &#0; &#xFFFE; &#x110000; x")
    events[199] = _xml_event(200, computer="WS&#xDFFF;01")
    path = tmp_path / "bad.xml"
    path.write_text("<Events>" + "".join(events) + "</Events>")
    store, infos = _load(path)
    assert infos[0].error is None and infos[0].records == 400
    reasons = [i.reason for i in infos[0].parse_issues]
    assert len(reasons) == 2 and "event 100" in reasons[0] and "A" in reasons[0]
    assert "event 200" in reasons[1] and "computer" in reasons[1]
    [e100] = _query(store, "record:100")
    assert e100.data == (("A", "bad \ufffd \ufffd \ufffd \ufffd x"),)
    [e200] = _query(store, "record:200")
    assert e200.computer == "WS\ufffd01"


def test_store_insert_survives_any_str(tmp_path: Path) -> None:
    """Whatever a decoder hands the store (here lone surrogates in every text column and an
    EventData pair), the batch is stored, the value replaced and the record reported."""
    bad = "x\ud800y"
    events = [Event(0, i, i, None, 1) for i in range(1, 6)]
    events[2] = Event(0, 3, 3, None, 1, keywords=bad, channel=bad, provider=bad, computer=bad, user_sid=bad,
                      data=((bad, bad), ("Ok", "fine")))  # fmt: skip
    postings = new_postings()
    rows = encode_tuples([(i + 1, event_fields(e)) for i, e in enumerate(events)], postings)
    with Store(tmp_path / "s.sqlite") as store:
        repairs = store.add_rows(rows, postings_text(postings))
        store.flush_postings()
        assert len(repairs) == 1 and "record 3" in repairs[0].reason
        assert store.count() == 5
        e = store.get(3)
        assert e is not None
        fixed = "x\ufffdy"
        assert (e.event.computer, e.event.user_sid, e.event.keywords) == (fixed, fixed, fixed)
        assert e.event.data == ((fixed, fixed), ("Ok", "fine"))
        assert marshal.loads(store.conn.execute("SELECT data FROM events WHERE id = 3").fetchone()[0])[0] == (
            fixed,
            fixed,
        )


# --------------------------------------------------------------------------- exact control characters


def test_control_characters_in_system_attributes_are_stored_exactly(tmp_path: Path) -> None:
    sid = "S-1-5-18\x1b[31m\x07"
    path = tmp_path / "ctl.xml"
    path.write_text(
        "<Events>"
        + _xml_event(1, uid="S-1-5-18&#x1b;[31m&#7;", value="a&#x1b;]0;title&#7;")
        + _xml_event(2)
        + "</Events>"
    )
    store, infos = _load(path)
    assert infos[0].parse_issues == []
    [e1] = _query(store, "record:1")
    assert e1.user_sid == sid and e1.data == (("A", "a\x1b]0;title\x07"),)
    # The CLI writes exact data to a pipe: the user: alias finds the SID with its real characters.
    status, out, err = _run_cli("query", "--no-cache", "--format", "jsonl", "--where", f'user:"{sid}"', str(path))
    assert status == 0, err
    [doc] = [json.loads(line) for line in out.splitlines()]
    assert doc["record_id"] == 1 and doc["data"] == {"A": "a\x1b]0;title\x07"}


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_file_name_that_is_not_utf8_loads(tmp_path: Path) -> None:
    """A POSIX file name with bytes that are not UTF-8 (Python gives it surrogate escapes)
    made registering the input raise UnicodeEncodeError: the CLI died with a traceback."""
    name = os.fsdecode(b"Security-\xff\xfe.jsonl")
    path = tmp_path / name
    path.write_text(_json_record(1) + "\n")
    store, infos = _load(path)
    assert infos[0].error is None and infos[0].records == 1
    [source] = store.sources()
    assert source.path == str(path) and raw_text(source.path, source.format, 1).startswith("{")
    for cache in ([], ["--no-cache"]):
        status, out, err = _run_cli("stats", "--json", *cache, str(path))
        assert status == 0 and "Traceback" not in err
        assert json.loads(out)["total_records"] == 1
