"""The size of the churn store the tests of the child reading the scan's rows share
(`test_scan_reader`, `test_fact_frames`): the `churn` fixture of this folder's conftest builds a
store of `EVENTS` events (`bench.churn`, three computers), and those tests check how many of its
rows the child read against it."""

from __future__ import annotations

EVENTS = 6_000
