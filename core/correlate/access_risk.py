"""How risky a process access looks, in three parts that each depend on one thing: the target's
name (lsass), the rights asked for, the source process. The Process access list ranks every
access before it shows the first: each part is worked out once per target name, mask or source
and added up (`risk_of` for one access; `RiskParts` for the list, remembered), rather than the
whole per access (a fifth of the view's time at ten million events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.correlate.evidence import SYSTEM_PID
from core.correlate.process_instance import process_name
from core.correlate.process_table import ProcessTable
from core.correlate.processes import Process
from core.model.access import reads_process_memory, writes_process_memory

#: Images that routinely open other processes (anti-virus, the OS, monitoring): an access by one
#: of them ranks below the same access by anything else.
COMMON_ACCESSORS = frozenset({
    "system", "smss.exe", "csrss.exe", "wininit.exe", "winlogon.exe", "services.exe", "lsass.exe", "svchost.exe",
    "msmpeng.exe", "mrt.exe", "wmiprvse.exe", "taskmgr.exe", "vmtoolsd.exe", "sysmon.exe", "sysmon64.exe",
    "searchindexer.exe", "searchprotocolhost.exe", "msiexec.exe", "trustedinstaller.exe", "tiworker.exe",
    "sgrmbroker.exe", "securityhealthservice.exe", "nissrv.exe", "wermgr.exe", "werfault.exe", "conhost.exe",
    "dwm.exe", "taskhostw.exe", "explorer.exe", "vmms.exe", "splunkd.exe", "winlogbeat.exe",
})
_SYSTEM_USERS = ("nt authority\\system", "nt authority\\local service", "nt authority\\network service")

#: A part of a risk: its score and why.
Part = tuple[int, tuple[str, ...]]
_NONE: Part = (0, ())
_LSASS: Part = (100, ("target is lsass.exe (credentials)",))


def target_part(target_name: str) -> Part:
    """lsass (credentials) first."""
    return _LSASS if target_name.casefold() == "lsass.exe" else _NONE


def mask_part(access: int | None) -> Part:
    """Rights that read or write the target's memory."""
    score = 0
    why: list[str] = []
    if access is not None and reads_process_memory(access):
        score += 40
        why.append("can read its memory")
    if access is not None and writes_process_memory(access):
        score += 20
        why.append("can write its memory or start a thread in it")
    return score, tuple(why)


def source_part(source: Process | None) -> Part:
    """A source that is not a system process, an unusual source image."""
    if source is None:
        return source_fields_part(None, None, "?")
    return source_fields_part(source.image, source.user, source.name)


def source_fields_part(image: str | None, user: str | None, name: str) -> Part:
    """`source_part` of a source of `image`, `user` and `name` (`Process.name`): read from the
    process table's columns, no `Process` made."""
    score = 0
    why: list[str] = []
    folded_user = (user or "").casefold()
    outside = bool(image) and "\\windows\\" not in (image or "").replace("/", "\\").casefold()
    if outside or (folded_user and folded_user not in _SYSTEM_USERS and not folded_user.endswith("$")):
        score += 20
        why.append("source is not a system process" + (f" ({user})" if user else ""))
    if name.casefold() not in COMMON_ACCESSORS:
        score += 10
        why.append(f"unusual source image {name}")
    return score, tuple(why)


def risk_of(source: Process | None, target_name: str, access: int | None) -> tuple[int, tuple[str, ...]]:
    """A rank for an access (higher first) and why: lsass (credentials) first, then rights that
    read or write memory, a source that is not a system process, an unusual source image."""
    return added(target_part(target_name), mask_part(access), source_part(source))


def added(target: Part, mask: Part, source: Part) -> tuple[int, tuple[str, ...]]:
    """The risk of the three parts (their reasons in that order)."""
    return target[0] + mask[0] + source[0], target[1] + mask[1] + source[1]


class RiskParts:
    """`mask_part` and `source_part` remembered per mask and per source instance (a log asks for
    a few masks from a few thousand sources a hundred thousand times)."""

    def __init__(self, processes: Sequence[Process]) -> None:
        self._processes = processes
        self._masks: dict[int | None, Part] = {}
        self._sources: dict[int | None, Part] = {}
        self._by_key: dict[tuple[str | None, str | None, bool] | None, Part] = {}

    def mask(self, access: int | None) -> Part:
        part = self._masks.get(access)
        if part is None:
            part = self._masks[access] = mask_part(access)
        return part

    def read_sources(self, indexes: Iterable[int]) -> None:
        """Work out the part of each source of `indexes` at once from a `ProcessTable`'s columns
        (a `Process` made per source was most of the Process access view's first second at ten
        million events: 87,000 sources)."""
        table = self._processes
        if not isinstance(table, ProcessTable):
            return
        todo = [i for i in indexes if i not in self._sources]
        by_key = self._by_key
        for i, image, user, pid in zip(todo, table.values("image", todo), table.values("user", todo),
                                       table.values("pid", todo), strict=True):
            key = (image, user, not image and pid == SYSTEM_PID)
            part = by_key.get(key)
            if part is None:
                part = by_key[key] = source_fields_part(image, user, process_name(pid, image))
            self._sources[i] = part

    def source(self, index: int | None) -> Part:
        part = self._sources.get(index)
        if part is None:
            p = self._processes[index] if index is not None else None
            # What `source_part` reads of it: its image, user and name (the name by pid without an image).
            key = None if p is None else (p.image, p.user, not p.image and p.pid == SYSTEM_PID)
            part = self._by_key.get(key)
            if part is None:
                part = self._by_key[key] = source_part(p)
            self._sources[index] = part
        return part
