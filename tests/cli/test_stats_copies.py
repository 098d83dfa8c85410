"""`stats --copies`: how many of an input's records an earlier input holds too (a log loaded with
its shadow copy, two overlapping collections of one host), as the correlation decides a copy
(`core.model.same_records`): same time, record id, EventID, computer (case aside) and data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.apputil import DEMO
from tests.cliutil import run_cli

_EVENT = re.compile(r"<Event .*?</Event>", re.S)


def _log(path: Path, events: list[str]) -> str:
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<Events>\n' + "\n".join(events) + "\n</Events>\n",
                    encoding="utf-8")
    return str(path)


def test_an_overlapping_copy_counts_only_the_records_it_shares(tmp_path: Path) -> None:
    events = _EVENT.findall(DEMO.read_text(encoding="utf-8"))
    assert len(events) == 71
    first = _log(tmp_path / "a.xml", events[:50])
    # The copy: records 30.. (21 shared), one of them changed in its data (not a copy), one with
    # its computer upper-cased (a copy), then 21 records of its own; and one record twice in it.
    shared = events[30:50]
    shared[0] = shared[0].replace("</EventData>", "<Data Name='Extra'>x</Data></EventData>", 1)
    assert "</EventData>" in events[30]
    shared[1] = shared[1].replace("<Computer>WS01.contoso.local</Computer>", "<Computer>WS01.CONTOSO.LOCAL</Computer>")
    assert "WS01.CONTOSO.LOCAL" in shared[1]
    second = _log(tmp_path / "b.xml", shared + events[50:] + [events[60]])
    status, out, err = run_cli("stats", "--copies", "--json", "--no-cache", first, second)
    assert status == 0, err
    copies = [f["copies"] for f in json.loads(out)["files"]]
    assert copies == [{"records": 0, "of": {}}, {"records": 20, "of": {first: 19, second: 1}}]
    status, out, _ = run_cli("stats", "--copies", "--no-cache", first, second)
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("copies")]
    assert lines == ["copies none", f"copies 20 records already loaded (19 in {first}; 1 earlier in this input)"]
    # Not asked: not counted, not said.
    status, out, _ = run_cli("stats", "--json", "--no-cache", first, second)
    assert all("copies" not in f for f in json.loads(out)["files"])


def test_a_dump_with_times_cut_to_the_microsecond_or_millisecond_counts_as_copies(tmp_path: Path) -> None:
    """A log's XML dump writes fewer digits of each time (python-evtx: microseconds; others:
    milliseconds): its records are copies as the correlation takes them, not new records."""
    from tests.correlate.events import p4688, s4624
    from tests.logs import write_events

    log = [s4624(1, 0.1234567, "0x7777"), p4688(2, 0.5000003, "0x1dac", r"C:\x\a.exe", "0x280"),
           p4688(3, 1.0000008, "0x1dad", r"C:\x\b.exe", "0x280"), s4624(4, 2.7654321, "0x8888")]
    first = str(write_events(tmp_path / "log.xml", log))
    micro = [re.sub(r'(SystemTime="[^"]*\.\d{6})\d', r"\1", doc) for doc in log]
    milli = [re.sub(r'(SystemTime="[^"]*\.\d{3})\d{4}', r"\1", doc) for doc in log]
    assert micro != log and milli != log
    dumps = [str(write_events(tmp_path / "micro.xml", micro)), str(write_events(tmp_path / "milli.xml", milli))]
    status, out, err = run_cli("stats", "--copies", "--json", "--no-cache", first, *dumps)
    assert status == 0, err
    copies = [f["copies"] for f in json.loads(out)["files"]]
    assert copies == [{"records": 0, "of": {}}, {"records": 4, "of": {first: 4}}, {"records": 4, "of": {first: 4}}]
    other = [doc.replace(">0x1dac<", ">0x1dae<") for doc in micro[1:2]]  # (other data: not a copy)
    assert other[0] != micro[1]
    status, out, err = run_cli("stats", "--copies", "--json", "--no-cache", first,
                               str(write_events(tmp_path / "other.xml", other)))
    assert [f["copies"]["records"] for f in json.loads(out)["files"]] == [0, 0]
