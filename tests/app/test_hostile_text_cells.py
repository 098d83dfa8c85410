"""Table cells of attacker-sized values: a megabyte command line in an EventData column (or a
megabyte computer, channel or image) was escaped and measured whole on every repaint, seconds a
row; a cell is made of the value's first `CELL_CHARS` characters, escaped."""

from __future__ import annotations

import time

from core.model.event import Event
from core.store.store import StoredEvent
from tui.columns import extra_cells
from tui.table_rows import CELL_CHARS, Column, make_row

BIG = "\x1b[2J" + "\u200b" * 1_000_000


def _event() -> StoredEvent:
    ev = Event(source=0, record_number=1, record_id=1, filetime=None, event_id=4688, computer=BIG, channel=BIG,
               provider=BIG, data=(("CommandLine", BIG), ("NewProcessName", "C:\\x\\" + BIG)))
    return StoredEvent(1, ev)


def test_a_megabyte_value_makes_a_short_escaped_cell_quickly() -> None:
    se = _event()
    start = time.process_time()  # (CPU: a loaded CI machine stretched the wall time 5x)
    for _ in range(20):  # a repaint's worth of rows
        row = make_row(se)
        cells = extra_cells(row, [Column("channel", "Channel", 20), Column("provider", "Provider", 20),
                                  Column("field:commandline", "CommandLine", 40)])
    took = time.process_time() - start
    texts = [row.image, row.summary, row.user, *cells.values()]
    assert set(cells) == {"channel", "provider", "field:commandline"}
    for text in texts:
        assert "\x1b" not in text and "\u200b" not in text
        assert len(text) <= CELL_CHARS * 12  # (each kept character escaped to at most `\U0000XXXX`)
    assert cells["field:commandline"].startswith("\\x1b[2J\\u200b")
    assert took < 4.0, f"20 rows took {took:.1f} s of CPU"  # (0.4 s; escaped whole: seconds a row)
