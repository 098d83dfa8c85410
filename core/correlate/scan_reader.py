"""The scan's events read and decoded by a child process while the scan runs (the second core).

Reading a million model events from SQLite and decoding their EventData is a fifth of the
model's build, and a thread would not help (decoding holds the GIL). A child
(`python -m core.correlate.scan_reader DB EVENTIDS...`) reads them in time order, decodes and
reduces them and reads what the scan needs of handle events (`core.correlate.scan.stream`,
`prepare`), and writes them as `marshal`led frames of
`ScanEvent`s on its stdout; the scan takes them in that order (one C call per frame here,
instead of a row, a decode and a reduction per event).

The child has its own connection, so it is used only for a finished store (`complete`: nothing
is being written) in a file, and only for builds big enough to pay for its start (a tenth of a
second); it must read as many events as the build's own snapshot counted. Anything else (a
failed start, a short read, another count) raises `ChildFailed`: the build then reads in
process, as it does for small stores.
"""

from __future__ import annotations

import contextlib
import marshal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from core.correlate.scan import Scan, ScanEvent, stream
from core.store.child_process import ROOT, ChildFailed, die_with_parent, module_command
from core.store.store import Store

#: What `scan_stored` passes each batch read through (the build's progress).
Counted = Callable[[Iterator[list[Any]]], Iterator[list[Any]]]

#: Builds of fewer model events than this read in process: the child's start would not pay.
CHILD_EVENTS = 200_000
#: Events per frame the child writes (about 100 KB).
FRAME_EVENTS = 500
#: How far ahead of the scan the child may write (the pipe's size; Linux allows up to 1 MiB).
PIPE_BYTES = 1 << 20
#: Each frame's size, before it (0: the last frame was written).
_HEADER = struct.Struct("<Q")
#: The largest frame read (a frame of FRAME_EVENTS events is well under a megabyte).
MAX_FRAME = 1 << 30


def finished(store: Store) -> bool:
    """Whether another connection reads what `store`'s does: a file no longer written to."""
    return store.shareable and store.get_meta("complete") == "1"


def usable(store: Store, events: int) -> bool:
    """Whether a build of `events` model events from `store` reads them in a child."""
    return events >= CHILD_EVENTS and finished(store)


def child_frames(store: Store, event_ids: Iterable[int], expected: int) -> Iterator[list[ScanEvent]]:
    """The model events of `event_ids` in time order, a frame at a time, read by a child from
    `store`'s file; `ChildFailed` unless it reads exactly `expected` of them (the caller's count,
    in its own snapshot). The child is killed if the caller stops early."""
    cmd, env = module_command(__name__, str(Path(store.path).resolve()), *map(str, event_ids))
    try:
        # Run from the project's folder: `-m` looks there first, so the child is this same code
        # (its frames are this code's) whatever the current folder holds.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=ROOT)
    except OSError as exc:
        raise ChildFailed(f"the reading process could not start: {exc}") from exc
    assert proc.stdout is not None
    _widen(proc.stdout.fileno())
    read = 0
    with proc:  # closes its pipes whatever happens
        try:
            while True:
                header = proc.stdout.read(_HEADER.size)
                if len(header) != _HEADER.size:
                    break
                (size,) = _HEADER.unpack(header)
                if size == 0 or size > MAX_FRAME:
                    break
                frame = proc.stdout.read(size)
                if len(frame) != size:
                    break
                events = marshal.loads(frame)
                read += len(events)
                if read > expected:
                    break
                yield events
            done = header == _HEADER.pack(0) and proc.wait() == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not done or read != expected:
            err = proc.stderr.read() if proc.stderr is not None else b""
            tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
            raise ChildFailed(f"the reading process read {read} of {expected} events (status {proc.returncode}) {tail}")


def scan_stored(store: Store, event_ids: Iterable[int], total: int, counted: Counted) -> Scan:
    """The scan of `store`'s `total` events of `event_ids` in time order (every one has a time),
    each batch read passed through `counted` (progress): read by a child while the scan runs
    when that pays, else (or if the child fails) here."""
    ids = list(event_ids)
    if usable(store, total):
        scan = Scan()
        try:
            scan.run(chain.from_iterable(counted(child_frames(store, ids, total))))
            return scan
        except ChildFailed:
            pass  # read here: the partial scan is dropped
    scan = Scan()
    scan.run(stream(counted(store.iter_key_rows(ids)), store.pairs_of))
    return scan


def _widen(fd: int) -> None:
    """Let the child write PIPE_BYTES ahead (Linux; elsewhere the pipe stays as it is): with
    the usual 64 KiB, both processes waited on each other at every frame, and on a busy
    machine each wait cost a turn of the scheduler (the child's build was no faster)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, setsize, PIPE_BYTES)


def _write_frames(store: Store, event_ids: list[int], out: object) -> None:
    write = out.write  # type: ignore[attr-defined]
    computers: dict[str, str] = {}
    frame: list[ScanEvent] = []
    for sid, record_id, eid, filetime, ts, logged, values, prepared in stream(store.iter_key_rows(event_ids),
                                                                              store.pairs_of):
        # One computer string per frame (marshal writes an object met twice once).
        frame.append((sid, record_id, eid, filetime, ts, computers.setdefault(logged, logged), values, prepared))
        if len(frame) >= FRAME_EVENTS:
            data = marshal.dumps(frame)
            write(_HEADER.pack(len(data)) + data)
            frame = []
    if frame:
        data = marshal.dumps(frame)
        write(_HEADER.pack(len(data)) + data)
    write(_HEADER.pack(0))


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    path, event_ids = args[0], [int(a) for a in args[1:]]
    with Store(path, readonly=True) as store, store.snapshot():
        _write_frames(store, event_ids, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
