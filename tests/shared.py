"""Locating `../shared` (samples, seeds) for tests.

Tests that need it skip when it is absent, except under `CI=true`, where a missing `../shared`
is an error: CI must exercise the real logs.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "samples"


def require_shared() -> Path:
    """Return the shared samples dir, or skip (fail under CI=true) when it is missing."""
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"../shared/samples is required under CI=true but missing ({SAMPLES})")
        pytest.skip("../shared/samples not present")
    return SAMPLES


def sample(relpath: str) -> Path:
    """Path of one sample under ../shared/samples (skips/fails as `require_shared`)."""
    path = require_shared() / relpath
    assert path.exists(), f"sample missing: {relpath}"
    return path


def manifest() -> list[dict[str, str]]:
    """Rows of MANIFEST.tsv (path, sha256, bytes, ..., records_reference, event_ids)."""
    with (require_shared() / "MANIFEST.tsv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def manifest_paths() -> list[str]:
    """Manifest paths for parametrisation at collection time ([] when ../shared is absent)."""
    path = SAMPLES / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [row["path"] for row in csv.DictReader(fh, delimiter="\t")]
