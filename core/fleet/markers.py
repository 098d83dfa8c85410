"""The dataset's done-markers, `DIR/inputs/<input key>.json`: one per converted input, written
last (`core.fleet.convert`), so that a re-run skips what is done and `fleet stack` knows which
EventData names some event holds twice.

A marker is read as untrusted data: a dataset may be copied, cut short or tampered with, and a
marker that does not read back as the shape `convert` writes (not JSON, nested 100,000 deep, a
list, a count that is no number) counts as no marker: its input is converted again rather than
the run ending in a traceback.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

#: A marker is a few hundred bytes (more with many repeated names): a bigger one is not ours,
#: and reading it whole could cost the run its memory.
MAX_MARKER_BYTES = 16 * 1024 * 1024


def marker_path(root: str | Path, key: str) -> Path:
    return Path(root, "inputs", f"{key}.json")


def _valid(marker: Any) -> bool:
    """Whether `marker` has the shape `write_marker` gives (the keys a skip and a stack read)."""
    if not isinstance(marker, dict):
        return False
    counts = (marker.get("records"), marker.get("issues"))
    if not all(type(n) is int and n >= 0 for n in counts):
        return False
    if not isinstance(marker.get("path"), str) or not isinstance(marker.get("error"), (str, type(None))):
        return False
    names = marker.get("repeated_names", [])  # absent: written before markers said so
    return isinstance(names, list) and all(isinstance(n, str) for n in names)


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker at `path`, or None when there is none or it is damaged (see the module doc).
    Only a regular file is opened: a FIFO put there would block the run."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_MARKER_BYTES:
            return None
        marker = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return None
    return marker if _valid(marker) else None


def write_marker(root: Path, key: str, marker: dict[str, Any]) -> None:
    """Write the marker atomically (a crash leaves the old one or none, never half of one).
    JSON escapes a name's undecodable bytes (`\\udcfe`), so the exact path is kept."""
    target = marker_path(root, key)
    tmp = target.with_name(f"{target.name}.tmp")
    tmp.write_text(json.dumps(marker), encoding="utf-8")
    os.replace(tmp, target)


#: An input's identity (`core.store.cache_identity`): its real path, then size, mtime and digest,
#: or why it has none; read from the right, as a path may hold `|`.
_IDENTITY = re.compile(r"(.+)\|(?:\d+\|-?\d+\|[0-9a-f]{64}|special\|\d+|error\|[-\w]+)", re.DOTALL)


def real_path(marker: dict[str, Any]) -> str | None:
    """The real path of the marker's input (`convert` replaces an input's earlier conversion by
    it: the same file changed): its `real`, or, in a marker written before it had one, read
    off its identity. None when neither says."""
    real = marker.get("real")
    if isinstance(real, str):
        return real
    identity = marker.get("identity")
    found = _IDENTITY.fullmatch(identity) if isinstance(identity, str) else None
    return found.group(1) if found else None


def inputs(root: str | Path) -> list[dict[str, Any]]:
    """The converted inputs' markers (path, identity, format, records, issues, error, and the
    EventData names some event holds twice: `core.fleet.api.stack` counts those by event). A
    damaged marker is an empty dict: nothing known of its input, so a reader takes its
    default for a marker lacking a key (`repeated_names`: some event may hold any name twice)."""
    return [read_marker(path) or {} for path in sorted(Path(root, "inputs").glob("*.json"))]
