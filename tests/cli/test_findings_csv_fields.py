"""`findings --csv`: the `fields` column held the matched fields as `k=v; k=v`, so a value
`=evil; X=y` read as two fields. It is one JSON object now, the exact values, as `export` writes
its `data` column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cliutil import run_cli
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events

COMMAND = "=evil; X=y \"q\" \\ \x1b]0;t\x07"
USER = "-bob; CommandLine=nothing"
SELECTION = """    selection:
        CommandLine|contains: evil
        SubjectUserName|startswith: '-bob'
"""


def test_the_fields_cell_is_a_json_object_of_the_exact_values(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = RULE.replace("    selection:\n        EventID: 1102\n", SELECTION)
    (rules / "fields.yml").write_text(rule, encoding="utf-8")
    ev = event_xml(4688, 7, "2024-01-01T00:01:00Z", {"SubjectUserName": "USERMARK", "CommandLine": "CMDMARK"})
    # (control characters as XML character references, as a log may hold them)
    refs = "".join(f"&#{ord(c)};" if ord(c) < 32 else c for c in COMMAND)
    ev = ev.replace("USERMARK", USER).replace("CMDMARK", refs)
    log = write_events(tmp_path / "log.xml", [ev])
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--csv")
    assert status == 0
    [row] = [r for r in csv.DictReader(io.StringIO(out, newline="")) if r["engine"] == "sigma"]  # (built-in too)
    assert json.loads(row["fields"]) == {"CommandLine": COMMAND, "SubjectUserName": USER}
    assert "\x1b" not in row["fields"]  # (a JSON escape: the same value to a JSON reader)


def _rule_dir(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "fields.yml").write_text(RULE.replace("    selection:\n        EventID: 1102\n", SELECTION),
                                      encoding="utf-8")
    return rules


def test_a_long_matched_value_is_cut_with_what_is_left_said(tmp_path: Path) -> None:
    """Evidence is capped at 400 characters: the cut was a plain `...`, which a value ending in
    dots has too. It says how much is left now; a value of 400 characters ending in dots is whole."""
    long_cmd = "evil " + "x" * 492 + "..."  # 500 characters
    whole = "evil " + "y" * 392 + "..."  # 400: not cut
    log = write_events(tmp_path / "log.xml", [
        event_xml(4688, i, f"2024-01-01T00:0{i}:00Z", {"SubjectUserName": "-bob", "CommandLine": cmd})
        for i, cmd in enumerate([long_cmd, whole], 1)])
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--sigma", str(_rule_dir(tmp_path)), "--json")
    assert status == 0
    shown = {r["record_id"]: r["fields"]["CommandLine"] for r in json.loads(out) if r.get("engine") == "sigma"}
    assert shown == {1: long_cmd[:400] + "… (100 more characters)", 2: whole}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_account_name_is_exact_in_json_and_escaped_on_a_terminal(tmp_path: Path) -> None:
    """The naming-convention finding quoted the name with Python's `repr`: JSON held the text
    `\\x1b]0;U\\x07alice`, not the name. The exact name now; a terminal still gets it escaped."""
    from contextlib import redirect_stdout

    from cli.main import main
    from tests.findings.rule_events import USER_RUNDLL

    name = "\x1b]0;U\x07alice"
    ev = event_xml(4688, 1, "2024-01-01T00:01:00Z", {**USER_RUNDLL, "SubjectUserName": "NAMEMARK"})
    log = write_events(tmp_path / "log.xml", [ev.replace("NAMEMARK", "&#x1b;]0;U&#x7;alice")])
    status, out, _ = run_cli("findings", str(log), "--no-cache", "--json")
    assert status == 0
    [message] = [f["message"] for f in json.loads(out) if f.get("rule") == "account-naming-convention"]
    assert f"Account name '{name}' (Creator Subject) breaks" in message
    terminal = _Terminal()
    with redirect_stdout(terminal):
        assert main(["findings", str(log), "--no-cache"]) == 0
    assert "\x1b" not in terminal.getvalue() and "\x07" not in terminal.getvalue()
    assert "\\x1b]0;U\\x07alice" in terminal.getvalue()
