"""Recent filter queries, kept between runs (up/down in the filter bar recalls them).

Stored as a small JSON list under the user's data directory (`EVTX_EXPLORER_DATA_DIR`
overrides, for tests). The file is written atomically (temp file + `os.replace`) so a crash
mid-write leaves the previous list, and it is read defensively: a damaged or huge file just
means an empty history, never a crash at start-up.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import platformdirs

from core.model.small_files import read_small

APP_NAME = "evtx-explorer"
MAX_ENTRIES = 100
MAX_QUERY_CHARS = 10_000
MAX_FILE_BYTES = 2 * 1024 * 1024


def data_dir() -> Path:
    override = os.environ.get("EVTX_EXPLORER_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


class History:
    """Most recent first, without duplicates, at most `MAX_ENTRIES`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else data_dir() / "history.json"
        self.entries: list[str] = self._read()

    def _read(self) -> list[str]:
        try:  # (a regular file only: a named pipe there would hang the app's start)
            raw = json.loads(read_small(self.path, MAX_FILE_BYTES).decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return []
        if not isinstance(raw, list):
            return []
        return [q for q in raw if isinstance(q, str) and q.strip() and len(q) <= MAX_QUERY_CHARS][:MAX_ENTRIES]

    def add(self, query: str) -> None:
        """Remember `query` as the most recent one and save (errors saving are ignored: the
        history is a convenience, and a read-only home must not break filtering)."""
        query = query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            return
        self.entries = [query, *(q for q in self.entries if q != query)][:MAX_ENTRIES]
        try:
            self.save()
        except OSError:
            pass

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".history-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.entries, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
