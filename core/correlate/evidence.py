"""The evidence every correlation link shares: the record it rests on (`Ref`), the confidence
words, and the time constants the trackers scope by.

Apart from the process tracker, which defines process instances on them, so that the modules of
instances (`core.correlate.process_instance`), handles and sessions import them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model.values import hex_id

EXACT = "exact"
INFERRED = "inferred"
AMBIGUOUS = "ambiguous"
MISSING = "missing"
#: Every confidence a link can carry, from strongest to weakest.
CONFIDENCES: tuple[str, ...] = (EXACT, INFERRED, AMBIGUOUS, MISSING)


def weakest(*confidences: str) -> str:
    """The weakest of `confidences` (in `CONFIDENCES`' order): what a link resting on them all is."""
    return max(confidences, key=CONFIDENCES.index)


TICKS_PER_SECOND = 10_000_000
#: A process's handles are closed by the kernel as it exits, and those 4658s are logged just
#: after its 4689 (same millisecond in the OTRF exports): they still belong to it.
EXIT_GRACE = 5 * TICKS_PER_SECOND
#: How far apart the Security 4688 and the Sysmon 1 of one process may be logged and still be
#: joined into one instance. Measured on the OTRF datasets in ../shared/samples (64 pairs of
#: the same computer, pid and image in five files): the 4688 is logged from 1.243 s before to
#: 1.049 s after its Sysmon 1, most within 30 ms. Two seconds covers them with a margin while
#: a reused pid is still told apart by its image and by Sysmon's GUID.
CHANNEL_SKEW = 2 * TICKS_PER_SECOND
SYSTEM_PID = 4


@dataclass(frozen=True, slots=True)
class Ref:
    """One evidence record, as the UI jumps to it and as the CLI prints it.

    `store_id` is the store row id; `event_id` the Windows EventID; `record_id` the
    EventRecordID (RecordNumber, or the 1-based position, where the input has none);
    `filetime` the time as logged (None: no time); `ts`/`order` its place on the model's time
    line (`ts` is carried over from the previous event of the same input when the event has
    no time).
    """

    store_id: int
    record_id: int | None
    event_id: int
    filetime: int | None
    ts: int
    order: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.ts, self.order)


def basename(image: str | None) -> str:
    """The file name of an image path (`C:\\Windows\\System32\\cmd.exe` -> `cmd.exe`)."""
    if not image:
        return ""
    return image.strip().replace("/", "\\").rsplit("\\", 1)[-1]


def pid_text(pid: int | None) -> str:
    return "?" if pid is None else hex_id(pid)
