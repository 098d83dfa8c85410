"""How far a Sigma run is: what the app's status line and a terminal's stderr show while it runs.

Two phases: reading the rule files ("Sigma: loading rules 1,200 of 3,008"), then evaluating the
compiled rules over the candidate events ("Sigma: 2,450 rules, 400,000 of 1,000,000 events
evaluated, 37 matches"). The engine reads each candidate event once and runs every rule that can
match it, so its progress is counted in events (a rule is only done when the last event is).
A run in a child process (`core.findings.sigma.child`) writes the latest one to a small file
that its parent polls (`write_file` / `read_file`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOADING = "loading"
EVALUATING = "evaluating"


@dataclass(frozen=True, slots=True)
class SigmaProgress:
    """`done` of `total` rule files read (loading) or candidate events evaluated (evaluating),
    with the rules run and the matches so far (evaluating)."""

    phase: str
    done: int
    total: int
    rules: int = 0
    matches: int = 0

    def text(self) -> str:
        if self.phase == LOADING:
            return f"Sigma: loading rules {self.done:,} of {self.total:,}"
        return (f"Sigma: {self.rules:,} rules, {self.done:,} of {self.total:,} events evaluated, "
                f"{self.matches:,} matches")


Progress = Callable[[SigmaProgress], None]


def write_file(path: Path, progress: SigmaProgress) -> None:
    """Replace the progress file (atomically: the parent never reads half a line)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(f"{progress.phase} {progress.done} {progress.total} {progress.rules} {progress.matches}\n")
        os.replace(tmp, path)
    except OSError:
        pass  # progress is a courtesy: never fail the run for it


def read_file(path: Path) -> SigmaProgress | None:
    """The progress a child last wrote, or None (none yet, or not ours)."""
    try:
        words = path.read_text()[:200].split()
    except OSError:
        return None
    if len(words) != 5 or words[0] not in (LOADING, EVALUATING) or not all(w.isdigit() for w in words[1:]):
        return None
    done, total, rules, matches = (int(w) for w in words[1:])
    return SigmaProgress(words[0], done, total, rules, matches)
