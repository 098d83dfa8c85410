"""Worker and child processes die with the process that started them.

A `kill -9` of the CLI during a cache build used to leave its decoder workers running forever:
a pool worker waits on a pipe whose write end it inherited itself, so it never sees the parent
go, and it kept the cache's build lock (inherited through fork) held, so every later run parsed
again without the cache. `die_with_parent` is called first thing in every such process:

* on Linux the kernel kills us when the parent goes (`prctl(PR_SET_PDEATHSIG, SIGKILL)`); it
  fires when the parent *thread* that started us exits, so the processes we start are started
  from threads that outlive them (the main thread, or a worker thread that waits for them);
* elsewhere a daemon thread polls the parent pid (it changes to the reaper's when the parent dies).

The check after `prctl` closes the race of a parent that died before the call. Killing is safe:
a process we start writes the store only in SQLite transactions, and an unfinished cache is
never marked complete.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

#: <linux/prctl.h>
PR_SET_PDEATHSIG = 1
#: How often the portable fallback looks at the parent pid.
POLL_SECONDS = 0.5
#: Exit status of a process whose parent was gone.
ORPHANED = 70


def _alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie (killed, not yet reaped) does not: a child that read its
    new parent after its owner's death took the dead owner for alive, and outlived it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): as kill said


def _set_pdeathsig() -> bool:
    """Ask Linux to SIGKILL us when our parent exits; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    # The interpreter's own symbols first (libc is linked in): `find_library` runs `ldconfig -p`,
    # a process of its own at every child's start.
    for libc_name in (lambda: None, lambda: ctypes.util.find_library("c") or "libc.so.6"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(libc_name(), use_errno=True)
            return bool(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)
    return False


def _watch(parent: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(ORPHANED)


def die_with_parent(owner: int | None = None) -> None:
    """Make this process end when its parent does. `owner`: the pid of the process that asked
    for us (a pool's creator; the parent itself for a fork, but a fork server's parent when
    the pool forks from one): if it is gone already, exit now."""
    parent = os.getppid()
    armed = _set_pdeathsig()
    if os.getppid() != parent or (owner is not None and owner != parent and not _alive(owner)):
        os._exit(ORPHANED)
    if not armed:
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
