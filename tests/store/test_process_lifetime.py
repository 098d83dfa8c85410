"""Processes we start die with us, their locks with them, and their pipes are closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.store.cache import CacheEntry
from tests.shared import sample

ROOT = Path(__file__).resolve().parents[2]
SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> set[int]:
    tree = _children()
    found: set[int] = set()
    todo = [pid]
    while todo and len(found) < 1000:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


#: What the app does with a big log: the ingest child, started before the screen is up.
_APP_LIKE = """
import sys, time
from core.store.cache import CacheEntry
CacheEntry([sys.argv[1]]).start_child(jobs=2)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("killed", ["cli", "app"])
def test_kill_9_during_a_cache_build_leaves_no_process_and_no_lock(tmp_path: Path, killed: str) -> None:
    """Before: the decoder workers of a killed CLI ran forever, holding the build lock, and
    every later run parsed again without the cache. The app's ingest child (and its workers)
    went on too."""
    big = tmp_path / "big.evtx"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_big_log.py"), str(sample(SECURITY)), str(big),
                    "--mb", "40"], check=True, capture_output=True)
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "cli.main", "stats", "--jobs", "2", str(big)]
    first = cmd if killed == "cli" else [sys.executable, "-c", _APP_LIKE, str(big)]
    cli = subprocess.Popen(first, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    want = 2 if killed == "cli" else 3  # the workers (and the ingest child)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while len(seen) < want and time.monotonic() < deadline and cli.poll() is None:
            seen |= _descendants(cli.pid)
            time.sleep(0.02)
        assert len(seen) >= want, "the build never started its workers"
        time.sleep(0.2)  # well into the build
        seen |= _descendants(cli.pid)
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        deadline = time.monotonic() + 5
        while any(_running(p) for p in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in seen if _running(p)], "worker processes outlived the killed CLI"
    finally:
        for pid in seen:  # the processes this test caused, if the fix failed
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    entry = CacheEntry([str(big)])
    assert not entry.ready()
    entry.close()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    entry = CacheEntry([str(big)])
    try:
        assert entry.ready(), "the next run did not build the cache"
    finally:
        entry.close()


_CHILDREN = """
import gc, threading, warnings
from core.store.cache import CacheEntry
from core.findings.child import findings_in_child
from core.store.child_process import ChildFailed
import sys
path = sys.argv[1]
entry = CacheEntry([path])
store = entry.build(child=True, jobs=1)
store.close()
data = findings_in_child(entry.db_path)
stop = threading.Event(); stop.set()
try:
    findings_in_child(entry.db_path, stop)
except ChildFailed:
    pass
other = CacheEntry([path], use_cache=False)
other.start_child(jobs=1)
other.abandon()
gc.collect()
print("ok", type(data).__name__)
"""


def test_child_processes_leave_no_open_pipe(tmp_path: Path) -> None:
    """The ingest child (followed, and abandoned) and the findings child (answered, and
    stopped) with ResourceWarning as an error: before, their pipes were never closed."""
    code = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _CHILDREN,
                           str(sample(SECURITY))], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert code.returncode == 0, code.stderr
    # The child keeps the findings with the store (None) or, when it cannot write, sends them.
    assert code.stdout.strip() in ("ok NoneType", "ok FindingsData")
    assert "ResourceWarning" not in code.stderr and "Exception ignored" not in code.stderr, code.stderr


_HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
pid = sys.argv[2] if sys.argv[2] != "self" else str(os.getpid())
os.write(fd, (pid + "\\n").encode())  # a dead builder (we are its orphan), or ourselves
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("builder", ["dead", "alive"])
def test_a_stale_build_lock_is_taken_over(tmp_path: Path, builder: str) -> None:
    """A lock held by leftovers of a dead builder (as orphaned workers of an older version
    held it): the next build takes it over and builds the cache instead of parsing privately
    every time. A live builder's lock is respected (a private build)."""
    log = str(sample(SECURITY))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    entry = CacheEntry([log])
    lock = str(entry.db_path) + ".lock"
    pid = dead.stdout.strip() if builder == "dead" else "self"
    orphan = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, lock, pid], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    with orphan:
        assert orphan.stdout is not None and orphan.stdin is not None
        assert orphan.stdout.readline().strip() == "held"
        store = entry.build(jobs=1)
        assert store.count() == 2261
        store.close()
        assert entry.use_cache == (builder == "dead"), "the stale lock was not taken over"
        entry.close()
        again = CacheEntry([log])
        assert again.ready() == (builder == "dead")
        again.close()
        orphan.stdin.close()
        orphan.stdout.close()
        orphan.wait()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_keep_the_build_lock(tmp_path: Path) -> None:
    """Decoder workers are forked during a build: the lock fd they inherit is closed in them,
    so the lock is let go when the builder lets go (or dies), whatever the workers do."""
    entry = CacheEntry([str(sample(SECURITY))])
    assert entry.acquire()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker that outlives its parent's hold on the lock
        os.write(ready_w, b"1")  # running (the fork hooks have run)
        time.sleep(5)
        os._exit(0)
    os.read(ready_r, 1)
    os.close(ready_r)
    os.close(ready_w)
    try:
        entry.close()
        other = CacheEntry([str(sample(SECURITY))])
        try:
            assert other.acquire(), "the forked child still holds the build lock"
        finally:
            other.close()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent's death signal is Linux's")
def test_a_child_asks_for_its_death_signal_without_starting_a_process() -> None:
    """Every child we start arms it first (`parsers.lifeline`): looking libc up by name ran
    `ldconfig -p`, a process of its own, at each start; the interpreter's own symbols have prctl."""
    code = (
        "import ctypes.util, sys\n"
        "def no_lookup(name): raise SystemExit(2)  # runs ldconfig\n"
        "ctypes.util.find_library = no_lookup\n"
        "from parsers import lifeline\n"
        "sys.exit(0 if lifeline._set_pdeathsig() else 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0


#: A process that forks a writer child (`fork_child`, as `tui.side_writer` does) which outlives
#: it unless told to end with it, then prints the child's pid and waits.
_FORKS = """
import sys, time
from core.store.child_process import fork_child
pid = fork_child(lambda: bool(time.sleep(60)))
print(pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_prepare_ends_its_forked_writer() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _FORKS], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child)
    finally:
        parent.kill()


#: A process that forks a child which waits until this process is a zombie (killed, not reaped),
#: then asks to die with it, as a child slow to start does; it writes what became of it.
_LATE_CHILD = """
import os, sys, time
from parsers import lifeline
owner, out = os.getpid(), sys.argv[1]
if os.fork() == 0:
    while open(f"/proc/{owner}/stat", "rb").read().rsplit(b")", 1)[1].split()[0] != b"Z":
        time.sleep(0.01)
    try:
        lifeline.die_with_parent(owner)
    finally:  # (not reached when it ends: os._exit)
        open(out, "w").write("outlived its owner")
    os._exit(0)
print("forked", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_that_arms_its_death_signal_after_its_owner_died_ends(tmp_path: Path) -> None:
    """The owner killed before its child armed the signal, and not reaped yet (a zombie): the
    child took it for alive, armed the signal for its new parent, and ran on (a flaky
    `test_kill_9_of_prepare_ends_its_forked_writer`)."""
    out = tmp_path / "out"
    owner = subprocess.Popen([sys.executable, "-c", _LATE_CHILD, str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "forked"
        owner.send_signal(signal.SIGKILL)
        time.sleep(1.5)  # a zombie meanwhile (not reaped): the child saw it and decided
        assert not out.exists()
    finally:
        owner.kill()
        owner.wait(10)
