"""Parse issues cost bounded memory whatever their count; the count stays exact.

Every issue was kept (in `SourceInfo.parse_issues`, in the store) and a run of them with no
event between was held until the input's end: a 9 MB file of three million `{}` lines took
949 MB, a 122 KB zip of forty million 3.3 GB and counting.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from cli.main import main
from core.model.event import Event, ParseIssue
from core.store import ingest
from core.store.ingest import BATCH, MAX_LISTED_ISSUES, load_paths
from core.store.store import Store

BROKEN = 3 * BATCH + 123


def _write(path: Path, array: bool = False) -> Path:
    good = '{"EventID": 4688, "Computer": "h1"}'
    if array:
        path.write_text("[" + "{}," * BROKEN + good + "]")
    else:
        path.write_text("{}\n" * BROKEN + good + "\n")
    return path


def test_issues_listed_are_capped_and_counted_exactly(tmp_path: Path) -> None:
    for path in (_write(tmp_path / "empty.jsonl"), _write(tmp_path / "empty.json", array=True)):
        with Store(tmp_path / f"{path.name}.sqlite") as store:
            [info] = load_paths([str(path)], store)
            assert info.records == 1 and info.error is None
            assert store.sources()[0].parse_issues == BROKEN  # exact
            assert len(info.parse_issues) == MAX_LISTED_ISSUES + 1  # the first ones, and one line for the rest
            assert store.issue_count() == BROKEN  # what the status line says: exact too
            listed = store.issues()
            assert [i.offset for i in listed[:MAX_LISTED_ISSUES]] == list(range(1, MAX_LISTED_ISSUES + 1))
            more = BROKEN - MAX_LISTED_ISSUES
            assert listed[-1].reason == (f"{more:,} more parse issues not listed: only the first "
                                         f"{MAX_LISTED_ISSUES:,} are ({BROKEN:,} in all)")  # fmt: skip
            assert info.parse_issues[-1] == listed[-1]


def test_stats_says_the_count_and_lists_the_first(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.jsonl")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["stats", "--no-cache", "--issues", str(path)])
    assert status == 0
    lines = out.getvalue().splitlines()
    assert f"  format jsonl, 1 record, {BROKEN:,} parse issues" in lines
    issues = [line for line in lines if line.startswith("issue: ")]
    assert len(issues) == MAX_LISTED_ISSUES + 1 and "more parse issues not listed" in issues[-1]


def test_a_run_of_issues_is_handed_on_in_batches() -> None:
    """With no event among them, issues were held until the input's end."""
    handed: list[int] = []

    def items() -> Iterator[Event | ParseIssue]:
        for n in range(1, 4 * BATCH + 1):
            handed.append(n)
            yield ParseIssue(0, "x", f"record {n}: broken", None, n)

    held = []
    for batch in ingest._encode_stream(items(), 0):
        held.append((len(batch.issues), len(handed)))
    assert all(size <= BATCH for size, _ in held)
    assert held[0][1] <= BATCH  # the first batch left before the rest was read
    assert sum(size for size, _ in held) == 4 * BATCH
