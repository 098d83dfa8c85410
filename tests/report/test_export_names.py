"""Exports of inputs whose file names are not UTF-8 (a POSIX name may be any bytes; Python decodes
the others as lone surrogates): CSV ended with a UnicodeEncodeError traceback and wrote nothing,
where JSON lines and Markdown worked. Every format now writes every row, the name as JSON lines
has it (`\\udcfe`)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")

ODD = os.fsdecode(b"Security-\xfe\xff.xml")


def _logs(tmp_path: Path) -> Path:
    """A folder with a log of a good name and one whose name is not UTF-8."""
    folder = tmp_path / "logs"
    folder.mkdir()
    write_events(folder / "good.xml", [event_xml(4688, 1, "2024-03-14T08:00:00Z", {"CommandLine": "a"})])
    write_events(folder / ODD, [event_xml(4688, 2, "2024-03-14T08:01:00Z", {"CommandLine": "b"}),
                                event_xml(4689, 3, "2024-03-14T08:02:00Z")])
    return folder


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_every_format_writes_a_name_that_is_not_utf8(tmp_path: Path, cache: list[str]) -> None:
    folder = _logs(tmp_path)
    escaped = str(folder / "Security-\\udcfe\\udcff.xml")  # the characters `\`, `u`, `d`, ...
    written: dict[str, str] = {}
    for fmt in ("csv", "jsonl", "md"):
        out = tmp_path / f"view.{fmt}"
        status, _, err = run_cli("export", str(folder), "--format", fmt, "--output", str(out), *cache)
        assert status == 0 and "Traceback" not in err and "wrote 3 rows" in err, err
        written[fmt] = out.read_text(encoding="utf-8")  # (valid UTF-8: it reads back strictly)
    rows = list(csv.DictReader(written["csv"].splitlines()))
    assert sorted((r["record_id"], r["file"]) for r in rows) == [
        ("1", str(folder / "good.xml")), ("2", escaped), ("3", escaped)]
    # JSON lines holds the exact name (JSON's `\udcfe` escape): CSV writes the same escape as text.
    docs = [json.loads(line) for line in written["jsonl"].splitlines()]
    names = {d["record_id"]: d["file"] for d in docs}
    assert names[2] == str(folder / ODD) and "\\udcfe\\udcff" in written["jsonl"]
    assert names[2].encode("utf-8", "backslashreplace").decode() == escaped
    assert written["md"].count("\n| ") == 3


def test_query_csv_to_a_pipe_writes_the_same_escape(tmp_path: Path) -> None:
    """`query --format csv` shares the row writer: the name comes out as the export writes it."""
    folder = _logs(tmp_path)
    status, out, err = run_cli("query", str(folder), "--format", "csv", "--no-cache")
    assert status == 0 and "Traceback" not in err
    assert {r["file"] for r in csv.DictReader(out.splitlines())} == {
        str(folder / "good.xml"), str(folder / "Security-\\udcfe\\udcff.xml")}


# -- repeated EventData names next to a field named like a repeat ---------------------------------


def _data(*pairs: tuple[str, str]) -> dict[str, str]:
    from core.model.event import Event
    from core.report.export import event_document
    from core.store.store import StoredEvent

    ev = Event(source=0, record_number=1, record_id=1, filetime=None, event_id=1, data=pairs)
    return dict(event_document({0: "x.xml"}, StoredEvent(1, ev))["data"])


def test_a_repeat_never_takes_the_name_of_a_field_the_event_holds() -> None:
    """Fields `S`, `S`, `S[1]` exported the second `S` as `S[1]` and the field named `S[1]` as
    `S[1][1]`, where `stack --by 'S[1]'` and queries read the field named `S[1]`."""
    assert _data(("S", "first S"), ("S", "second S"), ("S[1]", "the field named S[1]")) == {
        "S": "first S", "S[2]": "second S", "S[1]": "the field named S[1]"}
    assert _data(("S[1]", "named"), ("S", "a"), ("S", "b"), ("S", "c"), ("S[3]", "named 3")) == {
        "S[1]": "named", "S": "a", "S[2]": "b", "S[4]": "c", "S[3]": "named 3"}
    # Without such a field the numbering is the loaders' for unnamed `Data`: `Data`, `Data[1]`, ...
    assert list(_data(("S", "a"), ("S", "b"), ("S", "c"))) == ["S", "S[1]", "S[2]"]
    assert _data(("S[1]", "x"), ("S[1]", "y"), ("S[1][1]", "z")) == {"S[1]": "x", "S[1][2]": "y", "S[1][1]": "z"}


def test_the_export_names_every_field_as_stack_reads_it(tmp_path: Path) -> None:
    data = {"S": "first S", "S[1]": "the field named S[1]"}
    xml = event_xml(4688, 1, "2024-03-14T08:00:00Z", data)
    xml = xml.replace('<Data Name="S[1]">', '<Data Name="S">second S</Data><Data Name="S[1]">')
    log = write_events(tmp_path / "repeat.xml", [xml])
    status, out, err = run_cli("query", str(log), "--no-cache")
    assert status == 0, err
    exported = json.loads(out)["data"]
    assert exported == {"S": "first S", "S[2]": "second S", "S[1]": "the field named S[1]"}
    status, out, err = run_cli("stack", str(log), "--by", "S[1]", "--format", "json", "--no-cache")
    assert status == 0 and [v["value"] for v in json.loads(out)["values"]] == [exported["S[1]"]]


def test_the_fleet_query_keeps_every_value_of_a_repeated_name(tmp_path: Path) -> None:
    """`fleet query` wrote the data as a dict of its pairs: a repeated name kept its last value
    only. It writes the object `query` writes (`core.model.data_names`)."""
    xml = event_xml(4688, 1, "2024-03-14T08:00:00Z", {"S": "first S", "S[1]": "the field named S[1]"})
    xml = xml.replace('<Data Name="S[1]">', '<Data Name="S">second S</Data><Data Name="S[1]">')
    log = write_events(tmp_path / "repeat.xml", [xml])
    ds = tmp_path / "ds"
    assert run_cli("convert", str(log), "--to", str(ds), "--quiet")[0] == 0
    status, out, err = run_cli("fleet", str(ds), "query", "--engine", "local")
    assert status == 0, err
    assert json.loads(out)["data"] == {"S": "first S", "S[2]": "second S", "S[1]": "the field named S[1]"}
