"""The parallel EVTX loader's guarantees: the workers' events equal one process's, in file order;
encoded batches match the events; bounded in flight, in order, shut down when stopped; file
errors name the file; issues stay in place; a broken pool degrades to decoding in line; a
garbage substitution count costs only its record."""

from __future__ import annotations

import marshal
import threading
import time
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from core.model.event import Event, InputError, ParseIssue
from core.model.rows import EventRow, Postings, encode_tuples, event_fields, new_postings, store_id
from parsers import evtx
from parsers.evtx import reference as ref
from tests.parsers.evtx_samples import BIG, locators
from tests.shared import sample


def _readable(rows: list[EventRow]) -> list[tuple[object, ...]]:
    """Rows with their marshalled EventData loaded (marshal's bytes depend on reference counts)."""
    return [(*row[:-1], marshal.loads(row[-1]) if row[-1] else ()) for row in rows]


def encode_events(events: list[Event | ParseIssue]) -> tuple[list[tuple[object, ...]], Postings]:
    """What the store gets for these events: rows with ids from their record offsets, and the
    posting lists of their EventData values."""
    postings = new_postings()
    items = [(store_id(e.source, e.locator or 0), event_fields(e)) for e in events if isinstance(e, Event)]
    return _readable(encode_tuples(items, postings)), postings


def merged(batches: list[evtx.EncodedBatch]) -> tuple[list[tuple[object, ...]], Postings]:
    postings = new_postings()
    for batch in batches:
        for key, ids in batch.postings.items():
            postings[key].extend(ids)
    return _readable([row for batch in batches for row in batch.rows]), postings


def test_parallel_equals_sequential_in_file_order() -> None:
    path = str(sample(BIG))
    assert Path(path).stat().st_size > evtx.INLINE_BYTES, "needs a file big enough for workers"
    sequential = list(evtx.iter_events(path, 5, jobs=1))
    parallel = list(evtx.iter_events(path, 5, jobs=2))
    assert len(sequential) > 2000
    assert parallel == sequential
    found = locators(parallel)
    assert found == sorted(found) and len(set(found)) == len(found)
    batches = list(evtx.iter_encoded_batches(path, 5, jobs=2))
    assert merged(batches) == encode_events(sequential)
    ends = [b.end_offset for b in batches]
    assert ends == sorted(ends) and ends[-1] == Path(path).stat().st_size


def test_encoded_batches_inline_match_events() -> None:
    path = str(sample("evtx/parsers/williballenthin__tests__data__system.evtx"))
    events = list(evtx.iter_events(path, 1, jobs=1))
    rows, postings = merged(list(evtx.iter_encoded_batches(path, 1, jobs=1)))
    assert (rows, postings) == encode_events(events) and len(rows) > 1000


def test_run_ordered_bounds_in_flight_and_keeps_order() -> None:
    """The scheduler behind the worker pool: never more than `window` tasks submitted and not
    yet handed back, results in task order even when later tasks finish first."""
    in_flight: list[int] = []
    submitted: list[int] = []

    def work(n: int) -> int:
        time.sleep(0.002 * ((n * 7) % 5))  # finish out of order
        return n * n

    with ThreadPoolExecutor(max_workers=4) as pool:

        def submit(n: int) -> Future[int]:
            submitted.append(n)
            return pool.submit(work, n)

        out = []
        for taken, (task, fut) in enumerate(evtx.run_ordered(range(40), submit, 3, in_flight.append)):
            # lazy: the consumer holds the producer back
            assert len(submitted) <= taken + 3
            out.append((task, fut.result()))
    assert out == [(n, n * n) for n in range(40)]
    assert max(in_flight) == 3


def test_stopping_early_shuts_the_pool_down() -> None:
    path = str(sample(BIG))
    before = threading.active_count()
    it = evtx.iter_events(path, 0, jobs=2)
    assert isinstance(it, Generator)
    first = [next(it) for _ in range(10)]
    it.close()
    found = locators(first)
    assert len(found) == 10 and found == sorted(found)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"\x30\x00\x00\x00LfLe" + b"\x00" * 100, "legacy"), (b"hello world" * 500, "not an EVTX")],
)
def test_file_level_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.evtx"
    path.write_bytes(content)
    for it in (evtx.iter_events(str(path)), evtx.iter_encoded_batches(str(path))):
        with pytest.raises(InputError) as err:
            next(iter(it))
        assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_shipping_keeps_issues_in_place() -> None:
    """Worker results travel as marshalled tuples with the parse issues beside them: the parent
    must put every issue back where it was."""
    events: list[Event | ParseIssue] = [
        Event(source=1, record_number=n, record_id=n, filetime=None, event_id=n, data=(("A", "x"),), locator=n)
        for n in range(5)
    ]
    issue = ParseIssue(1, "f.evtx", "bad", 0, 99)
    seqs: tuple[list[Event | ParseIssue], ...] = (
        [issue, *events],
        [*events[:2], issue, issue, *events[2:]],
        [*events, issue],
        [issue],
        events,
    )
    for seq in seqs:
        assert list(evtx._unship_events(evtx._ship_events(seq, 0))) == seq


def test_broken_pool_degrades_to_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that die (or cannot start) cost speed, never events."""
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def submit(self, *args: object) -> Future[object]:
            raise BrokenProcessPool("simulated")

        def shutdown(self, **kwargs: object) -> None:
            pass

    path = str(sample(BIG))
    expected = list(evtx.iter_events(path, 0, jobs=1))
    monkeypatch.setattr(evtx, "_pool", lambda jobs: Broken())
    assert list(evtx.iter_events(path, 0, jobs=2)) == expected
    assert merged(list(evtx.iter_encoded_batches(path, 0, jobs=2))) == encode_events(expected)


def test_garbage_substitution_count_costs_only_its_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A count of ~3 billion substitutions (seen in real files) is bounded by the chunk: the
    record becomes a parse issue at once, without handing python-evtx a walk to the end of the
    file, and the other records still load."""
    import struct

    from parsers.evtx.templates import parse_root

    data = bytearray(sample(BIG).read_bytes())
    chunk_ofs = ref.FILE_HEADER_SIZE
    rec = chunk_ofs + 0x200
    root = parse_root(bytes(data[chunk_ofs : chunk_ofs + ref.CHUNK_SIZE]), 0x200 + 24, ref.CHUNK_SIZE)
    count_at = chunk_ofs + root.offsets[0] - 4 * len(root.types) - 4
    assert struct.unpack_from("<I", data, count_at)[0] == len(root.types)
    struct.pack_into("<I", data, count_at, 3_000_000_000)
    path = tmp_path / "garbage.evtx"
    path.write_bytes(bytes(data))

    real = ref.decode_record
    asked: list[int] = []

    def guarded(buf: object, chunk: object, ofs: int, source: int) -> Event:
        asked.append(ofs)
        return real(buf, chunk, ofs, source)

    monkeypatch.setattr(ref, "decode_record", guarded)
    items = list(evtx.iter_events(str(path), 0, jobs=1))
    assert rec not in asked, "python-evtx was asked to walk a garbage count"
    bad = [i for i in items if isinstance(i, ParseIssue)]
    assert len(bad) == 1 and bad[0].offset == rec and "substitution count 3000000000" in bad[0].reason
    assert bad[0].chunk == 0 and bad[0].path == str(path)
    assert sum(isinstance(i, Event) for i in items) == len(items) - 1 > 2000


def test_jobs_asked_beyond_the_cores_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs 400` on a 2-core machine started 400 processes (~40 MB each) to share two cores:
    the pool is at most MAX_JOBS_PER_CORE per core; 0 or less is one worker."""
    monkeypatch.setattr(evtx, "default_jobs", lambda: 2)
    assert [evtx.worker_count(j) for j in (None, 400, 8, 3, 0, -5)] == [2, 8, 8, 3, 1, 1]
    sizes: list[int] = []
    real = evtx._pool

    def pool(jobs: int) -> object:
        sizes.append(jobs)
        return real(jobs)

    monkeypatch.setattr(evtx, "_pool", pool)
    monkeypatch.setattr(evtx, "INLINE_BYTES", 0)  # (a sample's few chunks go to the pool too)
    monkeypatch.setattr(evtx, "GROUP_CHUNKS", 1)
    events = list(evtx.iter_events(str(sample(BIG)), 0, jobs=400))
    assert events and sizes and max(sizes) <= 2 * evtx.MAX_JOBS_PER_CORE
