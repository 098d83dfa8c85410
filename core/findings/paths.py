"""Windows paths compared the way Windows resolves them: case-insensitive, drive letters and
`\\Device\\HarddiskVolumeN` forms alike, for the folder rules (standard, restricted, expected)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# -- paths ------------------------------------------------------------------------------------

_DRIVE_RE = re.compile(r"([a-z]):(\\.*)?\Z", re.DOTALL)
_DEVICE_RE = re.compile(r"\\device\\harddiskvolume\d+(\\.*)\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class NormPath:
    """A path lower-cased with `\\`: `full` keeps the drive, `rest` is the path after it."""

    full: str
    rest: str


@functools.lru_cache(maxsize=8192)  # images repeat across events; rules ask for each one's
def norm_path(value: str) -> NormPath | None:
    """Normalise an image path (`\\??\\C:\\x`, `\\Device\\HarddiskVolume2\\x`, `\\SystemRoot\\x`,
    quotes, `/`); None when it is not a path (kernel pseudo-processes like `System`)."""
    s = value.strip().strip('"').replace("/", "\\")
    for prefix in ("\\??\\", "\\\\?\\", "\\\\.\\"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    low = s.lower()
    if "\\" not in low:
        return None
    for root in ("\\systemroot\\", "%systemroot%\\", "%windir%\\"):
        if low.startswith(root):
            rest = "\\windows\\" + low[len(root) :]
            return NormPath(rest, rest)
    m = _DRIVE_RE.match(low)
    if m:
        return NormPath(low, m.group(2) or "\\")
    m = _DEVICE_RE.match(low)
    if m:
        return NormPath(low, m.group(1))
    return NormPath(low, low)


@functools.lru_cache(maxsize=1024)  # the rules' own folders, met for every event
def _folder(pattern: str) -> NormPath | None:
    p = norm_path(pattern if "\\" in pattern or "/" in pattern else "\\" + pattern)
    if p is None:
        return None
    full = p.full if p.full.endswith("\\") else p.full + "\\"
    rest = p.rest if p.rest.endswith("\\") else p.rest + "\\"
    return NormPath(full, rest)


@functools.lru_cache(maxsize=1024)
def _has_drive(pattern: str) -> bool:
    return bool(_HAS_DRIVE_RE.match(pattern))


_HAS_DRIVE_RE = re.compile(r"\s*[a-zA-Z]:")


def in_folder(path: NormPath, folder: str) -> bool:
    """`path` lies under `folder` (a drive-less folder matches on any drive)."""
    f = _folder(folder)
    if f is None:
        return False
    return path.full.startswith(f.full) if _has_drive(folder) else path.rest.startswith(f.rest)


def contains_folder(path: NormPath, folder: str) -> bool:
    """`folder` (e.g. `\\Temp\\`) appears anywhere in the path's directories."""
    f = _folder(folder)
    if f is None:
        return False
    directory = path.full.rsplit("\\", 1)[0] + "\\"
    return (f.full if _has_drive(folder) else f.rest) in directory


def same_path(path: NormPath, expected: str) -> bool:
    e = norm_path(expected)
    if e is None:
        return False
    return path.full == e.full if _has_drive(expected) else path.rest == e.rest
