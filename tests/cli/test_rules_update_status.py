"""A failed `rules update` download returned status 1, which the exit-status table (`--help`,
the README) defined only as "an input could not be read, or a directory only in part": nothing
said a download could be it. The zip (`--from URL|ZIP`) is the command's one input, so 1 is the
status that fits (no status of its own: a failed download is an input that could not be read);
the table says so now, beside `rules check`'s status 1 for a rule file that does not parse."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from cli.exit_codes import EPILOG, Exit
from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A local port nothing listens on (bound, then closed: the connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _status_one(table: str) -> str:
    """The table's text for status 1, up to the next status."""
    found = re.search(r"(?ms)^\s*\|?\s*`?1`?\s*\|?\s+(.*?)(?=^\s*\|?\s*`?2`?\s*\|?\s)", table)
    assert found, table
    return found.group(1)


def test_a_failed_download_is_status_1_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/sigma.zip"
    status, out, err = run_cli("rules", "update", "--from", url, "--dir", str(tmp_path / "sigma"))
    assert status == 1 and Exit.INPUT_UNREADABLE.value == 1
    assert err.startswith(f"evtx-explorer rules update: cannot download {url}") and len(err.splitlines()) == 1
    assert out == "" and not (tmp_path / "sigma").exists()


def test_the_help_table_says_status_1_is_also_a_failed_rules_download() -> None:
    status, out, _ = run_cli("--help")
    assert status == 0
    assert EPILOG in out
    one = _status_one(EPILOG)
    assert "rules update" in one and "downloaded" in one and "rules check" in one


def test_the_readme_table_says_it_too() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    one = _status_one(readme[readme.index("| status | meaning |"):])
    assert "`rules update`" in one and "downloaded" in one and "`rules check`" in one
