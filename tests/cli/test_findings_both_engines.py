"""`findings --csv` / `--md` wrote the Sigma matches only: without `--sigma` a header line and
nothing, though the text showed the built-in findings (a 4688 running mimikatz: high). Both
engines' findings now, each saying its engine; `--json` items name their input `file` (as
`query` and `export` do) and the built-in ones their `engine`. And the text cut a Sigma rule's
author to 60 characters in a file or pipe too: only a terminal's line is cut now."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from cli.main import main
from tests.cliutil import run_cli
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events

MIMIKATZ = {"CommandLine": "mk.exe sekurlsa::logonpasswords",
            "NewProcessName": "C:\\Users\\a\\AppData\\Local\\Temp\\mimikatz.exe"}
#: An author list longer than the text's 60-character column, as SigmaHQ's often are.
AUTHOR = "Florian Roth (Nextron Systems), Daniel Bohannon (idea), Roberto Rodriguez (Fix)"


def _log(tmp_path: Path) -> Path:
    """A 4688 running mimikatz (built-in: restricted substring, high; record 1) and a log clear
    (Sigma's `RULE`; record 2)."""
    return write_events(tmp_path / "log.xml", [
        event_xml(4688, 1, "2024-03-01T10:00:00Z", MIMIKATZ, computer="WS01"),
        event_xml(1102, 2, "2024-03-01T10:01:00Z", {}, computer="WS01"),
    ])


def _rules(tmp_path: Path, author: str = "Jane Doe") -> Path:
    rules = tmp_path / "sigma"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE.replace("author: Jane Doe", f"author: {author}"), encoding="utf-8")
    return rules


def test_csv_without_sigma_holds_the_built_in_findings(tmp_path: Path) -> None:
    log = _log(tmp_path)
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    [row] = [r for r in rows if r["rule_id"] == "restricted-substring"]
    assert (row["engine"], row["level"], row["record_id"], row["event_id"], row["computer"]) == (
        "built-in", "high", "1", "4688", "WS01")
    assert row["title"] == "Restricted substring in a process image or command line"
    assert row["time"] == "2024-03-01T10:00:00.0000000Z" and row["file"] == str(log)
    assert "mimikatz" in row["message"] and "sekurlsa::" in json.loads(row["fields"])["CommandLine"]
    assert {r["engine"] for r in rows} == {"built-in"}


def test_csv_with_sigma_holds_both_engines_sigma_columns_first(tmp_path: Path) -> None:
    log = _log(tmp_path)
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(_rules(tmp_path)), "--csv")
    assert status == 0
    header = out.splitlines()[0].split(",")
    assert header[:15] == ["engine", "time", "level", "title", "rule_id", "status", "author", "tactics",
                           "techniques", "rule_file", "computer", "record_id", "event_id", "source", "fields"]
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    engines = {(r["engine"], r["record_id"]) for r in rows}
    assert ("built-in", "1") in engines and ("sigma", "2") in engines
    [sigma] = [r for r in rows if r["engine"] == "sigma"]
    assert (sigma["title"], sigma["author"], sigma["file"]) == ("Security Log Cleared", "Jane Doe", str(log))


def test_markdown_without_sigma_holds_the_built_in_findings(tmp_path: Path) -> None:
    status, out, _ = run_cli("findings", str(_log(tmp_path)), "--no-cache", "--md")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("| engine | time | level | title |")
    assert any(line.startswith("| built-in | 2024-03-01T10:00:00.0000000Z | high | Restricted substring")
               for line in lines[2:])


def test_json_items_name_their_file_and_engine(tmp_path: Path) -> None:
    log = _log(tmp_path)
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(_rules(tmp_path)), "--json")
    assert status == 0
    items = json.loads(out)
    assert {(i["engine"], i["file"]) for i in items} == {("built-in", str(log)), ("sigma", str(log))}
    [builtin] = [i for i in items if i.get("rule") == "restricted-substring"]
    # the keys scripts read before are all still there, in their order
    assert list(builtin)[:7] == ["rule", "severity", "record_id", "event_id", "computer", "time", "message"]


def test_json_file_tells_two_inputs_apart(tmp_path: Path) -> None:
    first = _log(tmp_path)
    second = write_events(tmp_path / "other.xml", [event_xml(4688, 9, "2024-03-01T11:00:00Z", MIMIKATZ)])
    status, out, _ = run_cli("findings", str(first), str(second), "--no-cache", "--json")
    assert status == 0
    by_record = {i["record_id"]: i["file"] for i in json.loads(out) if i["rule"] == "restricted-substring"}
    assert by_record == {1: str(first), 9: str(second)}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_author_is_whole_in_a_file_and_cut_on_a_terminal(tmp_path: Path) -> None:
    log, rules = _log(tmp_path), _rules(tmp_path, AUTHOR)
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(rules))
    assert status == 0
    [line] = [line for line in out.splitlines() if "Security Log Cleared" in line]
    assert line.endswith(f"by {AUTHOR}")
    terminal = _Terminal()
    with redirect_stdout(terminal):
        assert main(["findings", str(log), "--no-cache", "--sigma", str(rules)]) == 0
    [line] = [line for line in terminal.getvalue().splitlines() if "Security Log Cleared" in line]
    assert line.endswith(f"by {AUTHOR[:59]}…")
