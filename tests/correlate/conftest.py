"""Fixtures of the correlation tests: `churn_db`, a synthetic log with process, handle and logon
churn (`bench.churn`: pids and handle values reused) as a store, built once per test module;
`churn`, a smaller one on three computers, for the tests of the child reading the scan's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.churn import build_churn_store
from tests.correlate.reader_churn import EVENTS


@pytest.fixture(scope="module")
def churn_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 churn events in a store of their own."""
    db = tmp_path_factory.mktemp("churn") / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    return db


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`EVENTS` churn events on three computers, their pids, handle values and logon ids reused
    within and across them."""
    path = tmp_path_factory.mktemp("reader") / "churn.sqlite"
    build_churn_store(path, EVENTS, seed=11, computers=3)
    return path
