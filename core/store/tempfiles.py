"""Temp files and directories that say who owns them, and the sweep of those left by the dead.

Exports and case saves write a temp file beside their target and rename it into place; a build
without the cache writes a temp database. A `kill -9` in the middle left these behind for good
(hidden exports up to 55 MB each, whole databases in the temp dir). Their names now carry our
marker and the owner's pid (`.{name}.evtx-explorer-{pid}-{random}{suffix}`, or
`evtx-explorer-{pid}-{random}` for directories), and `sweep` removes those whose owner is no
longer running: at the next export or save into the same directory, the next case open, and the
next load (the temp dir). A live owner's files are never touched; a pid reused since is taken
as alive (the file then waits for a later sweep).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

MARK = "evtx-explorer"
#: (A `.part` may be a database: `tui.side_writer`'s, with its write-ahead log and index beside it.)
_FILE = re.compile(rf"^\..+\.{MARK}-(\d+)-[A-Za-z0-9_]+\.(?:tmp|part)(?:-wal|-shm|-journal)?$")
_DIR = re.compile(rf"^{MARK}-(\d+)-[A-Za-z0-9_]+$")
#: Entries a sweep looks at in one directory (a huge directory costs a bounded time).
SWEEP_LIMIT = 100_000


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True


#: Bytes of the target's name a temp file's name holds: a target named near the file system's
#: limit (255 bytes) made its temp file's name too long, and the export failed.
NAME_KEPT = 100


def _kept(name: str) -> str:
    """`name` cut to NAME_KEPT bytes of UTF-8 (on a character boundary; surrogates kept)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= NAME_KEPT:
        return name
    return raw[:NAME_KEPT].decode("utf-8", "ignore")


def temp_file(directory: Path, name: str, suffix: str) -> tuple[int, Path]:
    """A new temp file in `directory` for the target `name` (`suffix`: ".tmp" or ".part"),
    open for writing: (fd, path)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{_kept(name)}.{MARK}-{os.getpid()}-", suffix=suffix, dir=directory)
    return fd, Path(tmp)


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    """A private temp directory in the system temp dir (removed when the object is cleaned up)."""
    return tempfile.TemporaryDirectory(prefix=f"{MARK}-{os.getpid()}-")


def sweep(directory: Path, name: str | None = None) -> list[Path]:
    """Remove the temp files (and, in the system temp dir, directories) of dead owners in
    `directory`, only those for the target `name` when given; return what was removed."""
    removed: list[Path] = []
    try:
        entries = os.scandir(directory)
    except OSError:
        return removed
    with entries:
        for seen, entry in enumerate(entries):
            if seen >= SWEEP_LIMIT:
                break
            m = _FILE.match(entry.name)
            if m is not None and (name is None or entry.name.startswith(f".{_kept(name)}.{MARK}-")):
                if not _alive(int(m.group(1))):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
                continue
            d = _DIR.match(entry.name)
            if d is not None and name is None and entry.is_dir(follow_symlinks=False) and not _alive(int(d.group(1))):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
    return removed


def sweep_temp_dirs() -> list[Path]:
    """Remove the private build directories of dead owners from the system temp dir."""
    return sweep(Path(tempfile.gettempdir()))
