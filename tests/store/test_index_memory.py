"""Writing the correlation tables of a big log does not hold the links' index sort in memory:
the app's memory at the first open of a churn store stays bounded (issue 18). Built in memory,
the sort of 2.4 million links took 110 MB at a million events, kept by the process afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Writes LINKS generated links into a fresh store in a child process (a fresh heap), then
#: prints how far its peak RSS rose during `write_instances`.
_WRITE = """
import json, sys
from core.store import correlation_links, correlation_tables
from core.store.correlation_tables import CorrelationTables
from core.store.store import Store

def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

LINKS = int(sys.argv[2])
store = Store(sys.argv[1])
store.set_meta("complete", "1")
links = ((7 * i % LINKS + 1, "source process", "process", i % 5000, "exact", f"reason {i % 300}")
         for i in range(LINKS))
before = peak_kb()
assert correlation_tables.write_instances(store, CorrelationTables(iter(()), iter(()), iter(())))
assert correlation_links.write_links(store, links)
after = peak_kb()
count = store.conn.execute("SELECT count(*) FROM corr_link").fetchone()[0]
print(json.dumps({"rise_mb": (after - before) / 1024, "links": count}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_links_index_is_sorted_on_disk(tmp_path: Path) -> None:
    links = 1_200_000
    done = subprocess.run([sys.executable, "-c", _WRITE, str(tmp_path / "s.sqlite"), str(links)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["links"] == links
    # 16 MiB of page cache, a chunk of rows and SQLite's own: 36 MB whatever the links; the sort
    # in memory rose with them (74 MB here, 110 MB at 2 million).
    assert out["rise_mb"] < 50, out


#: Stores ROWS generated events without indexes in a child process, then prints how far its peak
#: RSS rose while `build_indexes` built the events' four indexes.
_EVENTS = """
import json, marshal, sys
from core.store.store import Store

def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

ROWS = int(sys.argv[2])
data = marshal.dumps((("TargetUserName", "alice"),))
store = Store(sys.argv[1])
for start in range(0, ROWS, 100_000):
    store.add_rows([(i, 0, i, (i * 7919) % ROWS, 130_000_000_000_000_000 + (i * 104_729) % ROWS * 10_000_000,
                     4624 + i % 40, 0, 0, 0, 0, "0x0", "Security", "Microsoft-Windows-Security-Auditing",
                     f"HOST{i % 97}.example.com", 4, 8, None, i, data)
                    for i in range(start, min(ROWS, start + 100_000))], {})
before = peak_kb()
store.build_indexes()
after = peak_kb()
plan = " ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN SELECT id FROM events ORDER BY ts, record_id"))
print(json.dumps({"rise_mb": (after - before) / 1024, "events": store.count(), "plan": plan}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_events_indexes_are_sorted_on_disk(tmp_path: Path) -> None:
    """A large log's event indexes are built after its load: their sorts spill to files, so the
    ingest's memory does not rise with the log (in memory: 75 MB here for 1,600,000 events, in
    one buffer per sorted record)."""
    rows = 1_600_000
    done = subprocess.run([sys.executable, "-c", _EVENTS, str(tmp_path / "s.sqlite"), str(rows)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["events"] == rows and "events_time" in out["plan"]
    assert out["rise_mb"] < 60, out  # 26-46 MB measured: a page cache and a sort buffer per thread
