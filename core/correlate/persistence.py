"""Services and scheduled tasks: from their install to the processes they later start.

A service installed (4697 in Security, 7045 in System: the same install seen twice, joined by
computer, service name and time) runs as a child of services.exe; a scheduled task created or
updated (4698/4702) runs as a child of the Schedule service's svchost.exe (taskeng.exe or
taskhostw.exe on older systems). A later process creation of that parent running the service's
or task's program links back to the install. The program is the quoted start of ImagePath /
ServiceFileName, or of the task's <Command> (%COMSPEC% and %SystemRoot% expanded); unquoted,
a path with spaces is read as CreateProcess reads it, from its shortest start on: the first
words up to one ending in an executable's extension (`C:\\Program Files\\Acme Tools\\upd.exe -svc`
runs upd.exe), not past an argument (`/c`, `-x`: `%COMSPEC% /c C:\\x\\y.exe` and `cmd /c y.exe` run
cmd.exe); else, and for a bare name looked up on the path, the first word. An install whose
program is svchost.exe (a shared service host) links nothing: its processes are not told apart
by image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.correlate.attach import Attachment, attach
from core.correlate.processes import INFERRED, TICKS_PER_SECOND, Process, basename
from core.model.event import EventKeys

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel

#: How far apart the 4697 and the 7045 of one install may be logged (seen: 7 ms).
TWIN_WINDOW = 5 * TICKS_PER_SECOND
#: Processes linked back to one install at most (a service restarted all day long).
MAX_RUNS = 1_000

SERVICE_PARENTS = frozenset({"services.exe"})
TASK_PARENTS = frozenset({"svchost.exe", "taskeng.exe", "taskhostw.exe"})
_SHARED_HOSTS = frozenset({"svchost.exe", "dllhost.exe", "rundll32.exe"})
_ENV = {"%comspec%": "C:\\Windows\\System32\\cmd.exe", "%systemroot%": "C:\\Windows", "%windir%": "C:\\Windows"}
_COMMAND = re.compile(r"<Command>\s*([^<]{1,1024}?)\s*</Command>", re.IGNORECASE)
#: How an unquoted program path with spaces may end: an executable's extension (`_unquoted`).
_PROGRAM_END = re.compile(r"\.(?:exe|com|scr|pif|bat|cmd|ps1|vbs|js|wsf|msc|cpl|dll|sys)$", re.IGNORECASE)
#: Words of an unquoted command line read for its program at most.
_WORDS = 64


@dataclass(frozen=True, slots=True)
class Run:
    """A process started by an installed service or task."""

    install: Attachment
    process: Process
    confidence: str
    reason: str


def program_of(install: Attachment) -> str | None:
    """The file name of the program an install runs (`cmd.exe`), None when unknown."""
    if install.kind == "service":
        text = install.detail("ImagePath") or install.detail("ServiceFileName")
    else:
        content = install.detail("TaskContent") or install.detail("TaskContentNew")
        m = _COMMAND.search(content or "")
        text = m.group(1) if m else None
    if not text:
        return None
    text = text.strip()
    first = text[1:].split('"', 1)[0] if text.startswith('"') else text
    for var, value in _ENV.items():
        if first.casefold().startswith(var):
            first = value + first[len(var):]
    if not text.startswith('"'):
        first = _unquoted(first)
    name = basename(first)
    if name and "." not in name:
        name += ".exe"
    return name.casefold() or None


def _unquoted(text: str) -> str:
    """The program of an unquoted command line (see the module doc): its first words up to the
    first ending in an executable's extension, if no argument comes before; else its first word."""
    words = text.split(maxsplit=_WORDS)[:_WORDS]
    if not words:
        return ""
    if "\\" not in words[0] and "/" not in words[0]:
        return words[0]  # a bare name, looked up on the path
    for n, word in enumerate(words):
        if n and word[0] in "/-\"":
            break
        if _PROGRAM_END.search(word):
            return " ".join(words[: n + 1])
    return words[0]


def service_twins(installs: list[Attachment]) -> dict[int, tuple[Attachment, str]]:
    """Each 4697 <-> 7045 of the same install (same computer and service name, logged within
    TWIN_WINDOW), by the store id of either, with the reason."""
    out: dict[int, tuple[Attachment, str]] = {}
    by_name: dict[tuple[str, str], list[Attachment]] = {}
    for a in installs:
        name = a.detail("ServiceName")
        if a.kind == "service" and name:
            by_name.setdefault((a.computer.casefold(), name.casefold()), []).append(a)
    for items in by_name.values():
        for a in items:
            if a.ref.store_id in out:
                continue
            others = [b for b in items if b.ref.event_id != a.ref.event_id and b.ref.store_id not in out
                      and abs(b.ref.ts - a.ref.ts) <= TWIN_WINDOW]
            if others:
                b = min(others, key=lambda o: abs(o.ref.ts - a.ref.ts))
                gap = abs(b.ref.ts - a.ref.ts) / (TICKS_PER_SECOND / 1000)
                reason = f"same computer and service name {a.detail('ServiceName')}, logged {gap:.0f} ms apart"
                out[a.ref.store_id] = (b, reason)
                out[b.ref.store_id] = (a, reason)
    return out


def runs(installs: list[Attachment], processes: Sequence[Process]) -> list[Run]:
    """The processes each service/task install later started (see the module doc)."""
    out: list[Run] = []
    wanted: dict[tuple[str, str], list[Attachment]] = {}
    for a in installs:
        if a.kind not in ("service", "task") or a.ref.event_id == 4699:
            continue
        program = program_of(a)
        if program and program not in _SHARED_HOSTS:
            wanted.setdefault((a.computer.casefold(), program), []).append(a)
    if not wanted:
        return out
    counts: dict[int, int] = {}
    for p in processes:
        if p.created is None or p.parent is None:
            continue
        found = wanted.get((p.computer.casefold(), p.name.casefold()))
        if not found:
            continue
        parent = processes[p.parent].name.casefold()
        for a in found:
            parents = SERVICE_PARENTS if a.kind == "service" else TASK_PARENTS
            if parent not in parents or p.created.ts < a.ref.ts or counts.get(a.ref.store_id, 0) >= MAX_RUNS:
                continue
            counts[a.ref.store_id] = counts.get(a.ref.store_id, 0) + 1
            what = "service" if a.kind == "service" else "task"
            name = a.detail("ServiceName") or a.detail("TaskName") or "?"
            reason = (f"{processes[p.parent].name} started {p.name} after the {what} {name} that runs it was "
                      f"installed ({a.ref.event_id} record {a.ref.record_id})")
            out.append(Run(a, p, INFERRED, reason))
    return out


def hang(model: CorrelationModel, keys: Iterable[EventKeys]) -> None:
    """Fill the model's attachments (`attach`) by process and session, the service twins and
    the processes services and tasks started (`core.correlate.persistence`)."""
    model.attachments = attach(model, keys)
    firsts = [a for sid, a in model.attachments.items() if a.ref.store_id == sid]  # copies aside
    firsts.sort(key=lambda a: (a.ref.ts, a.ref.record_id or 0, a.ref.store_id))  # (read by EventID)
    for a in firsts:
        if a.process is not None and a.process.process is not None:
            model.by_process.setdefault(a.process.process.index, []).append(a)
        if a.session is not None and a.session.session is not None:
            model.by_session.setdefault(a.session.session.index, []).append(a)
    installs = [a for a in firsts if a.kind in ("service", "task")]
    model.twins = service_twins(installs)
    model.runs = runs(installs, model.processes)
    for run in model.runs:
        model.runs_of_process.setdefault(run.process.index, []).append(run)
        model.runs_of_install.setdefault(run.install.ref.store_id, []).append(run)
