"""The raw-XML tab: python-evtx's rendering, or a labelled reconstruction where python-evtx
cannot render a record our decoder reads."""

from __future__ import annotations

from lxml import etree

from core.model.event import ParseIssue
from parsers.evtx import iter_events
from parsers.evtx import reference as evtx_reference
from parsers.registry import raw_text
from parsers.xml_to_event import event_from_element, safe_parser
from tests.shared import sample

DEFENDER = "evtx/attack/Antivirus__ID1151-Defender health status.evtx"
SECURITY = "evtx/parsers/omerbenamram__samples__Security_short_selected.evtx"


def test_python_evtx_rendering_is_used_where_it_works() -> None:
    path = str(sample(SECURITY))
    first = next(e for e in iter_events(path) if not isinstance(e, ParseIssue))
    assert first.locator is not None
    xml = raw_text(path, "evtx", first.locator)
    assert xml == evtx_reference.record_xml(path, first.locator)
    assert "reconstructed" not in xml


def test_records_only_our_decoder_reads_get_a_labelled_reconstruction() -> None:
    path = str(sample(DEFENDER))
    reference = list(evtx_reference.iter_events(path))
    assert all(isinstance(r, ParseIssue) for r in reference)  # python-evtx reads none of them
    events = [e for e in iter_events(path) if not isinstance(e, ParseIssue)]
    assert len(events) == 455
    for event in events[:: len(events) // 20]:
        assert event.locator is not None
        xml = raw_text(path, "evtx", event.locator)
        assert xml.startswith("<!-- python-evtx cannot render this record")
        body = xml[xml.index("-->") + 3 :].strip()
        again = event_from_element(etree.fromstring(body.encode(), safe_parser()), source=0,
                                   record_number=event.record_number, locator=event.locator)
        assert again.event_id == event.event_id and again.computer == event.computer
        assert again.data == event.data
        assert again.filetime == event.filetime
