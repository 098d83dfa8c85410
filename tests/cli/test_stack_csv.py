"""`stack --format csv`: pure data on stdout, exact where `export` is exact. It cut at `--limit`
without a word (text, Markdown and JSON say how many values are left out), and gave every value
starting with `=`, `+`, `-` or `@` an apostrophe: `-` read `'-`, and `=1+1` and `'=1+1` came out
as two rows both reading `'=1+1`. Now the cut is said on stderr, and only the System columns
`export` guards (file, computer, channel, provider) get the apostrophe."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T = "2024-03-14T08:{:02d}:{:02d}Z"
ODD_VALUES = ["-", "=1+1", "'=1+1", "+x", "@SUM(A1)", "\tz", "a,b", 'say "hi"']


def _rows(out: str) -> list[list[str]]:
    return list(csv.reader(out.splitlines(keepends=True)))


def test_event_data_values_stay_distinct_and_exact(tmp_path: Path) -> None:
    events = [event_xml(4688, i, T.format(0, i), {"V": v}, computer="=HYPERLINK(\"x\")")
              for i, v in enumerate(ODD_VALUES, 1)]
    log = write_events(tmp_path / "odd.xml", events)
    status, out, err = run_cli("stack", str(log), "--by", "V", "--format", "csv", "--no-cache")
    assert status == 0 and err == ""
    rows = _rows(out)
    assert rows[0] == ["count", "share", "V"]
    assert sorted(r[2] for r in rows[1:]) == sorted(ODD_VALUES)  # one row each, as written
    # A column `export` guards keeps its apostrophe, as `export --format csv` writes it.
    status, out, err = run_cli("stack", str(log), "--by", "host", "--format", "csv", "--no-cache")
    assert status == 0 and _rows(out)[1:] == [["8", "1.000000", "'=HYPERLINK(\"x\")"]]
    status, out, _ = run_cli("export", str(log), "--format", "csv", "--output", "-", "--no-cache")
    assert {r["computer"] for r in csv.DictReader(out.splitlines(keepends=True))} == {"'=HYPERLINK(\"x\")"}


def test_values_left_out_by_the_limit_are_said_on_stderr(tmp_path: Path) -> None:
    events = [event_xml(1, i + 1, T.format(i // 60, i % 60), {"V": f"value{i:03d}"}) for i in range(150)]
    log = write_events(tmp_path / "many.xml", events)
    status, out, err = run_cli("stack", str(log), "--by", "V", "--format", "csv", "--no-cache")
    rows = _rows(out)
    assert status == 0 and len(rows) == 101 and all(len(r) == 3 for r in rows)  # (stdout: the data only)
    [line] = err.splitlines()
    assert "100 of the 150 distinct values of V" in line and "50 more left out" in line
    status, out, err = run_cli("stack", str(log), "--by", "V", "--format", "csv", "--limit", "0", "--no-cache")
    assert status == 0 and len(_rows(out)) == 151 and err == ""


def test_the_line_on_stderr_escapes_a_field_name(tmp_path: Path) -> None:
    """The field is the user's `--by` text: on stderr it is one line whatever it holds."""
    events = [event_xml(1, i + 1, T.format(0, i), {"V\x1b]0;x\x07": str(i)}) for i in range(3)]
    log = write_events(tmp_path / "odd-name.xml", events)
    status, _, err = run_cli("stack", str(log), "--by", "V\x1b]0;x\x07", "--format", "csv", "--limit", "1",
                             "--no-cache")
    assert status == 0 and "\x1b" not in err and "V\\x1b]0;x\\x07" in err
