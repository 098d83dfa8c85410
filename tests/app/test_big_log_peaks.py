"""`bench/big_log.py` names the process and the phase of the app's run that reach the peak
memory (issue 18: the 1 GB log's 770 MB peak had to be placed before it could be cut)."""

from __future__ import annotations

import os

from bench.big_log import _tree_rss, peaks

#: The app's milestones, seconds from its start (as the app child prints them).
_RUN = {"first_rows_s": 0.5, "loaded_s": 25.0, "findings_s": 26.0, "all_views_ready_s": 43.0,
        "correlation_stored_s": 53.0}


def test_the_peak_is_placed_by_process_command_and_phase() -> None:
    epoch = 1000.0
    result = {"epoch": epoch, **_RUN}
    per_process = {10: (770_000_000, epoch + 50.0), 11: (120_000_000, epoch + 20.0)}
    names = {10: "python -c <app> big.evtx", 11: "python -P -m core.store.ingest_child x"}
    samples = [(epoch + 0.2, 35_000_000), (epoch + 20.0, 38_000_000), (epoch + 25.5, 59_000_000),
               (epoch + 40.0, 733_000_000), (epoch + 50.0, 770_000_000)]
    out = peaks(result, per_process, names, samples)
    assert out["peak_anon_by_process"] == [
        {"pid": 10, "mb": 770.0, "at_s": 50.0, "phase": "storing the correlation",
         "command": "python -c <app> big.evtx"},
        {"pid": 11, "mb": 120.0, "at_s": 20.0, "phase": "ingest and indexing",
         "command": "python -P -m core.store.ingest_child x"},
    ]
    assert out["app_peak_anon_by_phase_mb"] == {
        "until first rows": 35.0, "ingest and indexing": 38.0, "findings": 59.0,
        "correlation views": 733.0, "storing the correlation": 770.0}
    assert "epoch" not in result


def test_the_poll_records_each_process_peak_and_its_time() -> None:
    per_process: dict[int, tuple[int, float]] = {}
    _tree_rss(os.getpid(), per_process)
    anon, at = per_process[os.getpid()]
    assert anon > 0 and at > 0
