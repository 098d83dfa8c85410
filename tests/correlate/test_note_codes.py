"""Notes and reasons kept as one int each (`NoteCodes`), exactly: the handles' close notes (a
string per exited process's handle: ~26 MB at ten million events with the dict) read back as worded."""

from __future__ import annotations

from pathlib import Path

from core.correlate.handle_table import HandleTable
from core.correlate.handles import EXITED_NOTE
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
