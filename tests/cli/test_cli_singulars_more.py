"""`prepare` and `stack` said "1 parse issues", "1 file(s)", "1 more values", "1 distinct values
over 1 events": counts of one read as typos. They now say them as `cli.common.counted` does."""

from __future__ import annotations

import io
from typing import Any

from cli.cmd_prepare import _text
from cli.cmd_stack import write_stack
from core.query.stack import Stack, StackRow


def _summary(n: int) -> dict[str, Any]:
    return {"store": "/cache/x.db", "files": n, "events": n, "parse_issues": n, "findings": n, "sigma_matches": n,
            "correlation_stored": True, "processes": n, "handles": n, "sessions": n, "seconds": {"all": 1.0}}


def test_prepare_says_one_of_each_in_the_singular() -> None:
    text = _text(_summary(1))
    assert "prepared 1 event from 1 file (1 parse issue) in /cache/x.db" in text
    assert "findings: 1; 1 Sigma match\n" in text
    assert "correlation: 1 process, 1 handle, 1 session; every view" in text
    text = _text(_summary(2))
    assert "prepared 2 events from 2 files (2 parse issues) in /cache/x.db" in text
    assert "findings: 2; 2 Sigma matches\n" in text
    assert "correlation: 2 processes, 2 handles, 2 sessions; every view" in text


def test_stack_tail_says_one_of_each_in_the_singular() -> None:
    one = Stack(field="V", total=1, rows=(), distinct=1, more=1, missing=1)
    out = io.StringIO()
    write_stack(one, "text", out)
    assert out.getvalue().endswith("1 more value; 1 event without V; 1 distinct value over 1 event\n")
    two = Stack(field="V", total=2, rows=(StackRow("a", 2, 1.0),), distinct=2, more=2, missing=2)
    out = io.StringIO()
    write_stack(two, "md", out)
    assert out.getvalue().endswith("\n2 more values; 2 events without V; 2 distinct values over 2 events\n")
