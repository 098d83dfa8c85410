"""A Sigma rule's `|re` pattern that RE2 rejects never reaches the terminal raw: pySigma's own
check of it logged the pattern, escape sequences and all, to file descriptor 2 (below the CLI's
and the app's escaping), which changed the window title and cleared an analyst's screen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.apputil import ROOT

RULE = """title: a pattern RE2 rejects
id: 22222222-2222-2222-2222-222222222225
logsource:
  product: windows
  category: process_creation
level: high
status: test
detection:
  sel:
    CommandLine|re: "\\e]0;TITLE\\a\\e[2J\\e[31mRED("
  condition: sel
"""


def test_a_rejected_pattern_is_said_escaped_and_never_raw(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad_re.yml").write_text(RULE, encoding="utf-8")
    env = {"EVTX_EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cli.main", "rules", "check", str(rules)], capture_output=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    err = done.stderr + done.stdout
    assert b"\x1b" not in err and b"\x07" not in err, err
    assert b"did not parse" in done.stdout and b"bad_re.yml" in done.stdout
    assert b"re2.cc" not in err  # RE2's own log line
