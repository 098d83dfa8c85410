"""What a child process writes to its parent arrives whole: under PYTHONUNBUFFERED its stdout is
the raw pipe, whose `write` may take part of what it is given (a stop and resume of the child, a
signal it handles); every child (reader, grouping, findings, ingest) writes through `write_all`."""

from __future__ import annotations

import io
import select
from typing import Any

import pytest

from core.store.child_process import write_all


class _Partial(io.RawIOBase):
    """A raw pipe that takes at most `most` bytes a write, and once says it is full (None)."""

    def __init__(self, most: int) -> None:
        self.most, self.got, self.full_once = most, bytearray(), True

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int | None:
        if self.full_once:
            self.full_once = False
            return None
        taken = bytes(data[: self.most])
        self.got += taken
        return len(taken)


@pytest.mark.parametrize("most", [1, 7, 4096])
def test_every_byte_is_written_in_order_whatever_each_write_takes(most: int, monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[Any] = []

    def wait(r: list[Any], w: list[Any], x: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
        waited.append(w)
        return [], w, []

    monkeypatch.setattr(select, "select", wait)
    out = _Partial(most)
    frame = bytes(range(256)) * 40
    write_all(out, b"head", memoryview(frame), b"", bytearray(b"tail"))  # a raw pipe, and a bytearray
    assert bytes(out.got) == b"head" + frame + b"tail"
    assert waited == [[out]]  # the full pipe was waited on, not spun on


def test_the_children_write_through_it() -> None:
    import inspect

    from core.correlate import scan_reader, source_groups
    from core.findings import child as findings_child
    from core.store import ingest_child

    for module in (scan_reader, source_groups, findings_child, ingest_child):
        source = inspect.getsource(module.main)
        assert "write_all(" in source and ".write(" not in source.replace("write_all(", ""), module.__name__
