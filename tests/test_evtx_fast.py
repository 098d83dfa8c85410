"""The fast EVTX path against the python-evtx oracle, and the parallel loader's guarantees.

The oracle runs at a few hundred records a second, so every sample is one test (pytest-xdist
spreads them with `-n 2`) and the big ones are marked slow.
"""

from __future__ import annotations

import mmap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from core.model import Event, InputError, ParseIssue
from core.rows import encode_event
from parsers import evtx, evtx_fast
from parsers import evtx_reference as ref
from tests.shared import SAMPLES, manifest_paths, sample

EVTX_SAMPLES = [p for p in manifest_paths() if p.lower().endswith(".evtx")]
#: Files above this size take seconds through the oracle: marked slow.
SLOW_BYTES = 300_000
BIG = "evtx/parsers/omerbenamram__samples__security.evtx"
RDP = "evtx/parsers/omerbenamram__samples__2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx"


def _param(rel: str) -> object:
    path = SAMPLES / rel
    slow = path.is_file() and path.stat().st_size > SLOW_BYTES
    return pytest.param(rel, id=Path(rel).name[:80], marks=[pytest.mark.slow] if slow else [])


def _by_offset(items: Iterator[Event | ParseIssue]) -> dict[int, Event | ParseIssue]:
    out: dict[int, Event | ParseIssue] = {}
    for item in items:
        key = item.offset if isinstance(item, ParseIssue) else item.locator
        assert key is not None
        assert key not in out or isinstance(out[key], ParseIssue), f"record at {key} yielded twice"
        out[key] = item
    return out


def _fast_only(path: str) -> Iterator[Event | ParseIssue]:
    """The fast decoder alone (no python-evtx fallback), over every chunk slot."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in ref.chunk_offsets(buf):
            yield from evtx_fast.iter_chunk(buf, index, chunk_ofs, 3, path, fallback=False)


def _explain(a: Event, b: Event) -> str:
    diffs = [
        f"{name}: {getattr(a, name)!r} != {getattr(b, name)!r}"
        for name in Event.__dataclass_fields__
        if getattr(a, name) != getattr(b, name)
    ]
    return "; ".join(diffs)[:2000]


@pytest.mark.parametrize("rel", [_param(p) for p in EVTX_SAMPLES])
def test_fast_path_matches_python_evtx(rel: str) -> None:
    """Every record python-evtx decodes, the fast decoder alone decodes identically (all
    fields, values, order, exact ticks); the loader loses no record either decoder can read."""
    path = str(sample(rel))
    try:
        reference = _by_offset(ref.iter_events(path, 3))
    except InputError:
        with pytest.raises(InputError):
            list(evtx.iter_events(path, 3, jobs=1))
        return
    fast = _by_offset(_fast_only(path))
    loaded = _by_offset(evtx.iter_events(path, 3, jobs=1))
    for ofs, want in reference.items():
        if isinstance(want, Event):
            got = fast.get(ofs)
            assert isinstance(got, Event), f"{rel} @ {ofs}: fast path lost the record: {got}"
            assert got == want, f"{rel} @ {ofs}: {_explain(want, got)}"
            assert loaded.get(ofs) == want, f"{rel} @ {ofs}: loader differs"
    for ofs, got in fast.items():
        if isinstance(got, Event):
            assert loaded.get(ofs) == got, f"{rel} @ {ofs}: loader dropped a fast-path event"
    assert set(loaded) == set(reference) | set(fast), f"{rel}: records appear or vanish"
    for ofs, item in loaded.items():
        if isinstance(item, ParseIssue):
            assert not isinstance(reference.get(ofs), Event) and not isinstance(fast.get(ofs), Event)
            assert item.path == path and item.chunk is not None and item.offset == ofs and item.reason


@pytest.mark.parametrize(
    ("rel", "minimum", "event_id", "field", "value"),
    [
        # records stored as plain BinXML, no template (python-evtx: NullTypeNode AttributeError)
        ("evtx/attack/Antivirus__ID1151-Defender health status.evtx", 455, 1151, "Platform version", "4.18.2005.5"),
        # a WEC-forwarded event
        ("evtx/parsers/omerbenamram__samples__MSExchange_Management_wec.evtx", 1, 1, "Data", "Set-Mailbox"),
        # CAPI2: UserData is a nested plain fragment
        ("evtx/parsers/Velocidex__testdata__Microsoft-Windows-CAPI2_Operational_EventID70.evtx", 1, 70, None, None),
        # ANSI strings, bad UTF-16 and the like
        (RDP, 10, None, None, None),
    ],
    ids=["template-less", "wec-forwarded", "capi2", "bad-strings"],
)
def test_fast_path_recovers_records_python_evtx_loses(
    rel: str, minimum: int, event_id: int | None, field: str | None, value: str | None
) -> None:
    """Bonus over the oracle: records python-evtx cannot decode still become sane events."""
    path = str(sample(rel))
    reference = _by_offset(ref.iter_events(path, 0))
    loaded = _by_offset(evtx.iter_events(path, 0, jobs=1))
    recovered = [
        item for ofs, item in loaded.items() if isinstance(item, Event) and not isinstance(reference[ofs], Event)
    ]
    assert len(recovered) >= minimum
    for event in recovered:
        assert event.filetime and event.provider and event.computer and event.record_id
        if event_id is not None:
            assert event.event_id == event_id
    if field is not None:
        assert any(event.get(field) == value for event in recovered)


def test_parallel_equals_sequential_in_file_order() -> None:
    path = str(sample(BIG))
    assert Path(path).stat().st_size > evtx.INLINE_BYTES, "needs a file big enough for workers"
    sequential = list(evtx.iter_events(path, 5, jobs=1))
    parallel = list(evtx.iter_events(path, 5, jobs=2))
    assert len(sequential) > 2000
    assert parallel == sequential
    locators = [e.locator for e in parallel if isinstance(e, Event)]
    assert locators == sorted(locators) and len(set(locators)) == len(locators)
    batches = list(evtx.iter_encoded_batches(path, 5, jobs=2))
    rows = [row for batch in batches for row in batch.rows]
    assert rows == [encode_event(e) for e in sequential if isinstance(e, Event)]
    ends = [b.end_offset for b in batches]
    assert ends == sorted(ends) and ends[-1] == Path(path).stat().st_size


def test_encoded_batches_inline_match_events() -> None:
    path = str(sample("evtx/parsers/williballenthin__tests__data__system.evtx"))
    events = [e for e in evtx.iter_events(path, 1, jobs=1) if isinstance(e, Event)]
    rows = [r for b in evtx.iter_encoded_batches(path, 1, jobs=1) for r in b.rows]
    assert rows == [encode_event(e) for e in events] and len(rows) > 1000


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
    first = [next(it) for _ in range(10)]
    it.close()
    locators = [e.locator for e in first if isinstance(e, Event)]
    assert len(locators) == 10 and locators == sorted(locators)  # type: ignore[type-var]
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
            next(iter(it))  # type: ignore[call-overload]
        assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_shipping_keeps_issues_in_place() -> None:
    """Worker results travel as marshalled tuples with the parse issues beside them: the parent
    must put every issue back where it was."""
    events = [
        Event(source=1, record_number=n, record_id=n, filetime=None, event_id=n, data=(("A", "x"),), locator=n)
        for n in range(5)
    ]
    issue = ParseIssue(1, "f.evtx", "bad", 0, 99)
    for seq in ([issue, *events], [*events[:2], issue, issue, *events[2:]], [*events, issue], [issue], events):
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
    rows = [r for b in evtx.iter_encoded_batches(path, 0, jobs=2) for r in b.rows]
    assert rows == [encode_event(e) for e in expected if isinstance(e, Event)]


def test_garbage_substitution_count_costs_only_its_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A count of ~3 billion substitutions (seen in real files) is bounded by the chunk: the
    record becomes a parse issue at once, without handing python-evtx a walk to the end of the
    file, and the other records still load."""
    import struct

    from parsers.binxml import parse_root

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
