"""The real logs of ../shared/samples the correlation tests read (README "Where the 4690 evidence
is"), named once here since several test modules read the same ones, and their loaders: a
sample's events as store-like events, in log order (the tests that need them skip, or fail
under `CI=true`, when the samples are absent)."""

from __future__ import annotations

from core.model.event import Event
from core.store.store import StoredEvent
from tests.shared import sample

NIGHTMARE = "evtx/attack/TA0004-Privilege Escalation__T1574-DLL side-loading__ID4688,6416,4648-SystemNightMare.evtx"
MIMIKATZ = (
    "evtx/attack/TA0006-Credential Access__T1003-Credential dumping__ID4656-4663-4658 Mimikatz sekurlsa "
    "password dump.evtx"
)
SHARPVIEW = "json/otrf/execution__host__cmd_sharpview_pcre_net.zip"
COBALT = "json/otrf/other__aptsimulator_cobaltstrike.zip"
RUNAS = ("evtx/attack/TA0004-Privilege Escalation__T1134-Access Token Manipulation__"
         "ID4688,4648,4624-Runas execution with different user.evtx")


def load_evtx(rel: str, first_id: int = 1, source: int = 0) -> list[StoredEvent]:
    from parsers.evtx.reference import iter_events

    events = [e for e in iter_events(str(sample(rel)), source) if isinstance(e, Event)]
    return [StoredEvent(i, e) for i, e in enumerate(events, first_id)]


def load_json(rel: str, first_id: int = 1, source: int = 0) -> list[StoredEvent]:
    from parsers import jsonlines

    events = [e for e in jsonlines.iter_events(str(sample(rel)), source) if isinstance(e, Event)]
    return [StoredEvent(i, e) for i, e in enumerate(events, first_id)]
