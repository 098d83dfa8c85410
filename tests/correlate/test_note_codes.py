"""Notes and reasons kept as one int each (`NoteCodes`), exactly: the handles' close notes (a
string per exited process's handle: ~26 MB at ten million events with the dict; one per handle
duplicated into System and closed under its source pid: 10 MB) read back as worded."""

from __future__ import annotations

from pathlib import Path

from core.correlate.handle_table import HandleTable
from core.correlate.handles import ALIAS_CLOSE_NOTE, EXITED_NOTE
from core.correlate.model import model_from_store
from core.correlate.note_codes import NoteCodes
from core.store.store import Store
from tests.correlate.heap import reachable


def test_texts_read_back_exactly() -> None:
    codes = NoteCodes(("exited ({})", "record {} reused"))
    texts = [None, "exited (0)", "exited (4242)", "record 7 reused", "record 77 reused", "exited (007)",
             "exited (None)", f"exited ({1 << 60})", "still open", "still open", "exited (12) and more", ""]
    coded = [codes.code(t) for t in texts]
    assert [codes.text(c) for c in coded] == texts
    assert coded[0] == 0 and all(c < 0 for c in coded[1:5]) and all(c > 0 for c in coded[5:])
    assert coded[8] == coded[9]  # one number per distinct text
    assert len(set(coded[1:5])) == 4


def test_texts_of_several_numbers_read_back_exactly() -> None:
    codes = NoteCodes(("exited ({})", "record {} under 0x{:x}", "0x{:x} then {} then {}"))
    texts = ["record 5 under 0x1a4", "record 5 under 0x1A4", "record 05 under 0x1a4", "record 5 under 0x01a4",
             f"record {1 << 62} under 0x{1 << 40:x}", f"record {1 << 63} under 0x4", "record 5 under 0x-5",
             "record None under 0x4", "0xff then 0 then 1", "0xff then 0 then", "exited (3)", "record 6 under 0x1a4",
             "record 5 under 0x1a4"]
    coded = [codes.code(t) for t in texts]
    assert [codes.text(c) for c in coded] == texts
    coded_by_template = [t for t, c in zip(texts, coded, strict=True) if c < 0]
    assert coded_by_template == ["record 5 under 0x1a4", f"record {1 << 62} under 0x{1 << 40:x}",
                                 "0xff then 0 then 1", "exited (3)", "record 6 under 0x1a4", "record 5 under 0x1a4"]
    # What a template words differently (capitals, leading zeros), or a number past 63 bits: as itself.
    assert all(c > 0 for c in coded[1:4]) and coded[5] > 0 and coded[6] > 0


def test_the_models_close_notes_hold_no_string_per_handle(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    handles = model.handles
    assert isinstance(handles, HandleTable)  # the columns, whose reads remember a few
    exited = [h for h in handles if h.close_note and h.close_note.startswith(EXITED_NOTE.split("{")[0])]
    assert len(exited) > 100
    handles._recent.clear()  # noqa: SLF001 - the few made and remembered are not what is kept
    strings = [o for o in reachable(handles, skip=(model._facts,)) if isinstance(o, str)]  # noqa: SLF001
    assert sum(s.startswith("no 4658 for it: its process exited") for s in strings) < 5
    alias = ALIAS_CLOSE_NOTE.split("{")[0]
    assert sum(bool(h.close_note and h.close_note.startswith(alias)) for h in handles) > 10
    handles._recent.clear()  # noqa: SLF001
    strings = [o for o in reachable(handles, skip=(model._facts,)) if isinstance(o, str)]  # noqa: SLF001
    assert sum(s.startswith(alias) for s in strings) < 5
