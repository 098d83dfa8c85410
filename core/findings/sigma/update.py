"""Installing a SigmaHQ release into the user's sigma folder (`evtx-explorer rules update`).

Only when asked, from a zip the user names (a path or an http(s) URL): SigmaHQ publishes its
rule packages as zip files (sigma_core.zip, sigma_all_rules.zip...) on its GitHub releases. The
zip is checked before anything is replaced: members are bounded in number and size, none may
escape the folder (absolute paths, `..`), and only rule files (.yml/.yaml) and licence/readme
text are kept. The new rules go to a temporary folder beside the old one, which is swapped in
at the end, so that a failed update leaves the previous rules in place.
"""

from __future__ import annotations

import io
import shutil
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from core.model.small_files import read_small

#: The latest SigmaHQ core rule package (Windows, Linux... stable/test rules).
DEFAULT_URL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"
MAX_ZIP_BYTES = 200_000_000
MAX_MEMBERS = 50_000
MAX_MEMBER_BYTES = 2_000_000
KEEP_SUFFIXES = (".yml", ".yaml", ".md", ".txt")


class UpdateError(Exception):
    """The zip could not be fetched or is not an acceptable rule package (message says why)."""


def fetch(source: str, timeout: float = 60.0) -> bytes:
    """The zip's bytes from a path or an http(s) URL (at most MAX_ZIP_BYTES)."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=timeout) as resp:  # noqa: S310 - scheme checked
                data: bytes = resp.read(MAX_ZIP_BYTES + 1)
        except OSError as exc:
            raise UpdateError(f"cannot download {source}: {exc}") from exc
    else:
        try:  # (bounded, a pipe never waited on: a named one hung, /dev/zero filled memory)
            data = read_small(source, MAX_ZIP_BYTES, pipes=True)
        except OSError as exc:
            raise UpdateError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > MAX_ZIP_BYTES:
        raise UpdateError(f"{source}: larger than {MAX_ZIP_BYTES:,} bytes")
    return data


def install(data: bytes, target: Path) -> int:
    """Unpack the rule files of the zip `data` into `target` (replacing it); returns how many
    rule files it holds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UpdateError(f"not a zip file: {exc}") from exc
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise UpdateError(f"more than {MAX_MEMBERS:,} files in the zip")
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    rules = 0
    try:
        for info in members:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or not name.name.lower().endswith(KEEP_SUFFIXES):
                continue
            if name.is_absolute() or ".." in name.parts or ":" in info.filename:
                raise UpdateError(f"unsafe path in the zip: {info.filename!r}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise UpdateError(f"{info.filename}: larger than {MAX_MEMBER_BYTES:,} bytes")
            out = staging.joinpath(*name.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(info)[:MAX_MEMBER_BYTES])
            rules += name.suffix.lower() in (".yml", ".yaml")
        if not rules:
            raise UpdateError("no rule files (.yml) in the zip")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return rules
