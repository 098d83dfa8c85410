"""A service installed with an unquoted ImagePath holding spaces (`C:\\Program Files\\Acme
Tools\\upd.exe -svc`) was never linked to the process services.exe later started for it: its
program was read as the first word, "C:\\Program" (program.exe). It is read as CreateProcess
reads such a path: up to the first word ending in an executable's extension, not past an
argument (`%COMSPEC% /c C:\\x\\y.exe` still runs cmd.exe). PSEXESVC and quoted paths as before.

Answered by the model, by the trees stored for the views (as the model's) and by
`correlate --json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.attach import Attachment
from core.correlate.model import CorrelationModel, build_model
from core.correlate.persistence import program_of
from core.correlate.processes import Ref
from core.store.store import StoredEvent
from tests.cliutil import run_cli
from tests.correlate.events import by_record, load, p4688, xml
from tests.correlate.stored_models import READERS, stored_model
from tests.logs import write_events

SERVICES = r"C:\Windows\System32\services.exe"
UPD = r"C:\Program Files\Acme Tools\upd.exe"


def system_7045(rid: int, sec: float, name: str, image_path: str) -> str:
    """A System 7045 (Service Control Manager): a service installed."""
    doc = xml(7045, rid, sec, ServiceName=name, ImagePath=image_path, ServiceType="user mode service",
              StartType="demand start", AccountName="LocalSystem")
    return doc.replace('<Provider Name="Microsoft-Windows-Security-Auditing"/>',
                       '<Provider Name="Service Control Manager"/>').replace("<Channel>Security</Channel>",
                                                                             "<Channel>System</Channel>")


def security_4697(rid: int, sec: float, name: str, image_path: str, client: str = "0x0") -> str:
    return xml(4697, rid, sec, SubjectUserSid="S-1-5-18", SubjectLogonId="0x3e7", ServiceName=name,
               ServiceFileName=image_path, ServiceType="0x10", ServiceStartType="3", ServiceAccount="LocalSystem",
               ClientProcessId=client)


INSTALLS = [
    p4688(1, 0.0, "0x2a0", SERVICES, "0x1f0"),
    security_4697(2, 1.0, "Updater", UPD + " -svc"),
    system_7045(3, 1.002, "Updater", UPD + " -svc"),
    p4688(4, 2.0, "0x800", UPD, "0x2a0", parent=SERVICES, cmd=UPD + " -svc"),
]


def _links(model: CorrelationModel, events: list[StoredEvent], rid: int) -> list[tuple[str, int | None, str]]:
    links = model.correlate(by_record(events, rid)).links
    return [(x.relation, x.ref.record_id if x.ref else None, x.confidence) for x in links]


@pytest.mark.parametrize("reader", READERS)
def test_an_unquoted_image_path_with_spaces_links_the_service_to_its_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, INSTALLS, reader)
    assert _links(model, events, 4) == [("started by", 2, "inferred"), ("started by", 3, "inferred")]
    assert ("started process", 4, "inferred") in _links(model, events, 2)
    assert ("started process", 4, "inferred") in _links(model, events, 3)
    assert sorted(r.reason for r in model.runs) == [
        f"services.exe started upd.exe after the service Updater that runs it was installed ({eid} record {rid})"
        for eid, rid in ((4697, 2), (7045, 3))]
    loaded = load(*INSTALLS)  # the model in memory says the same
    assert [_links(build_model(loaded), loaded, rid) for rid in (2, 3, 4)] == [
        _links(model, events, rid) for rid in (2, 3, 4)]
    path = write_events(tmp_path / "cli.xml", INSTALLS)
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "4", "--json")
    assert status == 0, err
    (doc,) = json.loads(out)
    assert [(x["relation"], x["record_id"], x["confidence"]) for x in doc["links"]] == [
        ("started by", 2, "inferred"), ("started by", 3, "inferred")]


def _service(image_path: str) -> Attachment:
    ref = Ref(1, 1, 7045, 0, 0, 0)
    return Attachment(ref, "HOST1", "service installed", "service", None, None, (("ImagePath", image_path),))


#: ImagePath -> the program's file name: with spaces, unquoted (read up to the program), and the
#: forms read as before (quoted, PSEXESVC's, an argument naming another program, a bare name).
PROGRAMS = {
    r"C:\Program Files\Acme Tools\upd.exe -svc": "upd.exe",
    r"C:\Program Files\Acme Tools\upd.exe": "upd.exe",
    r"c:/program files/acme tools/UPD.EXE /run": "upd.exe",
    r"C:\Program Files\Acme\run.bat arg": "run.bat",
    r"%SystemRoot%\PSEXESVC.exe": "psexesvc.exe",
    r'"C:\Program Files\Acme Tools\upd.exe" -svc': "upd.exe",
    r"C:\Windows\System32\svchost.exe -k netsvcs": "svchost.exe",
    r"%COMSPEC% /c C:\Temp\evil.exe": "cmd.exe",
    r"cmd /c C:\Temp\evil.exe": "cmd.exe",
    r"C:\Windows\system32\rundll32.exe C:\Temp\x.dll,Run": "rundll32.exe",
    r"C:\Tools\a.exe C:\Tools\b.exe": "a.exe",
    r"svchost -k x": "svchost.exe",
}


def test_the_program_of_an_image_path() -> None:
    assert {path: program_of(_service(path)) for path in PROGRAMS} == PROGRAMS
    assert program_of(_service("")) is None
