"""The Sigma side of the CLI: `findings --sigma DIR` (text, JSON, CSV, Markdown, with the rule's
author), the hint without rules, `rules check`, `rules list` and `rules update` from a local
zip and from a server on 127.0.0.1."""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import re
import socket
import socketserver
import threading
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cli.main import main
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    (rules / "broken.yml").write_text("title: x\ndetection:\n  condition: [\n", encoding="utf-8")
    log = write_events(tmp_path / "log.xml", [
        event_xml(4624, 1, "2024-01-01T00:00:00Z", {"TargetUserName": "bob"}),
        event_xml(1102, 2, "2024-01-01T00:01:00Z", {"SubjectUserName": "mallory\x1b[31m"}),
    ])
    return rules, log


def test_findings_sigma_json_csv_md(env: tuple[Path, Path]) -> None:
    rules, log = env
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--json")
    assert code == 0
    sigma = [r for r in json.loads(out) if r.get("engine") == "sigma"]
    assert [(r["title"], r["level"], r["author"], r["record_id"], r["tactics"], r["techniques"]) for r in sigma] == [
        ("Security Log Cleared", "high", "Jane Doe", 2, ["Defense Evasion"], ["T1070.001"])]
    assert sigma[0]["rule_file"].endswith("cleared.yml")
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["title"], r["author"], r["status"]) for r in rows] == [("Security Log Cleared", "Jane Doe", "stable")]
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--md")
    assert "| Security Log Cleared |" in out and "Jane Doe" in out
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules))
    assert "Security Log Cleared" in out and "by Jane Doe" in out and "not loaded:" in out


def test_findings_without_sigma_rules_hints(env: tuple[Path, Path]) -> None:
    _, log = env
    code, _, err = _cli("findings", str(log), "--no-cache")
    assert code == 0 and "rules update" in err
    code, _, err = _cli("findings", str(log), "--no-cache", "--sigma", "/nonexistent/sigma")
    assert code == 2 and "no such Sigma rules folder" in err


def test_rules_check_and_list(env: tuple[Path, Path]) -> None:
    rules, _ = env
    code, out, _ = _cli("rules", "check", str(rules))
    assert code == 1
    assert "1 rule(s) can run, 1 file(s) did not parse" in out and "broken.yml" in out
    code, out, _ = _cli("rules", "list", "--sigma", str(rules))
    assert code == 0 and "Security Log Cleared" in out and "Jane Doe" in out


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "sigma_core.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("rules/windows/builtin/security/cleared.yml", RULE)
        zf.writestr("LICENSE.DRL-1.1.md", "Detection Rule License")
    return path


def test_rules_update_from_zip_and_local_server(env: tuple[Path, Path], tmp_path: Path) -> None:
    _, log = env
    archive = _zip(tmp_path)
    code, out, _ = _cli("rules", "update", "--from", str(archive))
    assert code == 0 and "installed 1 rule file(s)" in out
    installed = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"  # set by tests/conftest.py
    assert (installed / "rules/windows/builtin/security/cleared.yml").is_file()
    # The findings now use the installed rules without --sigma.
    code, out, _ = _cli("findings", str(log), "--no-cache", "--json")
    assert [r["title"] for r in json.loads(out) if r.get("engine") == "sigma"] == ["Security Log Cleared"]

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(
            self, request: socket.socket, client_address: tuple[str, int], server: socketserver.BaseServer
        ) -> None:
            super().__init__(request, client_address, server, directory=str(tmp_path))

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/sigma_core.zip"
        code, out, _ = _cli("rules", "update", "--from", url, "--dir", str(tmp_path / "other"))
        assert code == 0 and (tmp_path / "other/rules/windows/builtin/security/cleared.yml").is_file()
        code, _, err = _cli("rules", "update", "--from", url + ".missing", "--dir", str(tmp_path / "x"))
        assert code == 1 and "cannot download" in err
    finally:
        server.shutdown()


def test_rules_update_refuses_unsafe_zip(env: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../escape.yml", RULE)
    code, _, err = _cli("rules", "update", "--from", str(bad), "--dir", str(tmp_path / "t"))
    assert code == 1 and "unsafe path" in err and not (tmp_path / "escape.yml").exists()


@pytest.mark.parametrize("kind", ["a named pipe", "an endless device"])
def test_rules_update_from_no_regular_file_is_refused_at_once(kind: str, tmp_path: Path) -> None:
    """`--from` a named pipe waited forever for a writer (now: read as empty at once, no zip);
    `/dev/zero` filled the memory."""
    source = tmp_path / "rules.zip"
    if kind == "a named pipe":
        os.mkfifo(source)
    else:
        source = Path("/dev/zero")
    code, _, err = _cli("rules", "update", "--from", str(source), "--dir", str(tmp_path / "t"))
    why = "not a zip file" if kind == "a named pipe" else f"cannot read {source}: not a regular file or a pipe"
    assert code == 1 and err.startswith(f"evtx-explorer rules update: {why}"), err
    assert not (tmp_path / "t").exists()


def test_open_sigma_reaches_the_app(env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import cli.cmd_open

    rules, log = env
    seen: list[list[Path]] = []

    class FakeApp:
        """Stands in for the app: records the rule folders it would find when it runs."""

        return_code = 0
        error_count = 0

        class workspace:  # noqa: N801 - what cli.cmd_open reads after the app quits
            sources: dict[int, object] = {}  # noqa: RUF012 - read only

        def run(self) -> None:
            from core.findings.sigma import rule_dirs

            seen.append(rule_dirs(None))

    monkeypatch.setenv("EVTX_EXPLORER_SIGMA", "")  # restored after the test (the CLI sets it)
    monkeypatch.setattr(cli.cmd_open, "make_app", lambda files, args: FakeApp())
    monkeypatch.setattr(cli.cmd_open, "has_terminal", lambda: True)  # (pytest holds stdout)
    assert _cli(str(log), "--sigma", str(rules))[0] == 0
    assert seen == [[rules.resolve()]]


def test_findings_sigma_relative_folder_kept_for_the_app(env: tuple[Path, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`findings --sigma rules` run in the rules' parent folder keeps its matches under the rule
    files' absolute paths, where the app opened with the same rules (`open --sigma` from another
    folder, which sets $EVTX_EXPLORER_SIGMA) looks them up: it found none before."""
    from core.findings.sigma import cached_sigma, rule_dirs
    from core.findings.sigma.ruleset import ENV_DIRS
    from core.store.cache import open_inputs

    rules, log = env
    monkeypatch.chdir(rules.parent)
    code, out, err = _cli("findings", str(log), "--sigma", "rules", "--json")
    assert code == 0, err
    assert [r["record_id"] for r in json.loads(out) if r.get("engine") == "sigma"] == [2]
    monkeypatch.chdir(rules)  # the app's folder: elsewhere
    monkeypatch.setenv(ENV_DIRS, str(rules))
    store = open_inputs([str(log)])
    try:
        kept = cached_sigma(store, rule_dirs(None))
    finally:
        store.close()
    assert kept is not None and [m.record_id for m in kept.matches] == [2]


def test_rules_update_into_a_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A file where the rules folder goes (or a read-only config dir): a traceback before."""
    archive = _zip(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file", encoding="utf-8")
    code, _, err = _cli("rules", "update", "--from", str(archive), "--dir", str(blocked / "sigma"))
    assert code == 5 and "cannot write" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_findings_csv_and_md_hold_hostile_log_text_as_text(tmp_path: Path) -> None:
    """A computer named as a formula with HTML in it: `findings --csv` and `--md` wrote it raw (only
    `|` was escaped), where `export` already neutralised it."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    computer = "=cmd|' /C calc'!A0<img src=x onerror=alert(1)>![i](http://evil/x.png)"
    log = write_events(tmp_path / "log.xml", [event_xml(1102, 2, "2024-01-01T00:01:00Z", {}, computer=computer)])
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--csv")
    assert code == 0
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["computer"] == "'" + computer
    code, out, _ = _cli("findings", str(log), "--no-cache", "--sigma", str(rules), "--md")
    assert code == 0 and re.search(r"(?<!\\)<img", out) is None  # every `<` escaped
    assert "\\<img src=x onerror=alert(1)\\>!\\[i\\](http://evil/x.png)" in out
