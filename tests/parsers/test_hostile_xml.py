"""Hostile Event XML: external entities (XXE), entity expansion (billion laughs, quadratic
blow-up), external DTDs and XInclude must never expand or read anything. Each such file loads
safely: the good events load, the poisoned ones become parse issues, nothing leaks."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from parsers.registry import iter_input, raw_text
from tests.parsers.xml_events import NS, split, xml_event

SECRET = "TOP-SECRET-7f3c9a1e-not-for-event-logs"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _all_text(items: list[Event | ParseIssue]) -> str:
    parts: list[str] = []
    for item in items:
        if isinstance(item, Event):
            parts += [v for pair in item.data for v in pair] + [item.computer, item.provider, item.channel]
        else:
            parts.append(item.reason)
    return "\n".join(parts)


def _poisoned(value: str, rid: int = 2) -> str:
    return xml_event(4688, rid, {"CommandLine": value})


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE Events [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        '<!DOCTYPE Events [<!ENTITY % p SYSTEM "file://{secret}"> %p; <!ENTITY xxe "x">]>',
        '<!DOCTYPE Events SYSTEM "file://{secret}">',
        '<!DOCTYPE Events [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x.dtd">]>',
    ],
)
def test_external_entities_are_never_resolved(tmp_path: Path, secret_file: Path, doctype: str) -> None:
    body = xml_event(4688, 1, {"A": "ok"}) + _poisoned("run &xxe; now") + xml_event(4688, 3, {"A": "ok"})
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n' + doctype.format(secret=secret_file) + f"<Events>{body}</Events>", encoding="utf-8"
    )
    start = time.monotonic()
    items = list(iter_input(str(path)))
    assert time.monotonic() - start < 5
    assert SECRET not in _all_text(items)
    events, issues = split(iter(items))
    assert [e.record_id for e in events] == [1, 3]
    assert any("DOCTYPE declaration ignored" in i.reason for i in issues)
    (poisoned,) = [i for i in issues if i.offset is not None]
    assert poisoned.offset == 2 and "xxe" in poisoned.reason and "never expanded" in poisoned.reason
    assert SECRET not in raw_text(str(path), "xml", 2)


def test_xxe_in_a_single_event_document(tmp_path: Path, secret_file: Path) -> None:
    path = tmp_path / "one.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE Event [<!ENTITY xxe SYSTEM "file://{secret_file}">]>' + _poisoned("&xxe;"),
        encoding="utf-8",
    )
    items = list(iter_input(str(path)))
    assert SECRET not in _all_text(items)
    assert not any(isinstance(i, Event) for i in items)
    assert any(isinstance(i, ParseIssue) and i.offset == 1 for i in items)


def test_xinclude_is_not_processed(tmp_path: Path, secret_file: Path) -> None:
    event = (
        f"<Event xmlns='{NS}' xmlns:xi='http://www.w3.org/2001/XInclude'><System><EventID>4688</EventID>"
        f"<Computer>WS</Computer></System><EventData><Data Name='CommandLine'>"
        f"<xi:include href='file://{secret_file}' parse='text'/></Data></EventData></Event>"
    )
    path = tmp_path / "xinclude.xml"
    path.write_text(event, encoding="utf-8")
    items = list(iter_input(str(path)))
    assert SECRET not in _all_text(items)
    (loaded,) = items
    assert isinstance(loaded, Event) and loaded.get("CommandLine") == ""


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.mark.parametrize("kind", ["billion_laughs", "quadratic"])
def test_entity_expansion_does_not_expand(tmp_path: Path, kind: str) -> None:
    if kind == "billion_laughs":
        defs = ['<!ENTITY lol "lol">'] + [
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10)
        ]
        ref = "&lol9;"
    else:  # one 100 KB entity referenced 20 000 times: 2 GB if expanded
        defs = ['<!ENTITY big "' + "B" * 100_000 + '">']
        ref = "&big;" * 20_000
    doc = (
        '<?xml version="1.0"?>\n<!DOCTYPE Events [' + "\n".join(defs) + "]>\n<Events>"
        + xml_event(4688, 1, {"A": "ok"}) + _poisoned(ref) + "</Events>"
    )  # fmt: skip
    path = tmp_path / f"{kind}.xml"
    path.write_text(doc, encoding="utf-8")
    rss_before = _peak_rss_bytes()
    start = time.monotonic()
    items = list(iter_input(str(path)))
    elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed
    assert _peak_rss_bytes() - rss_before < 100 * 1024 * 1024
    text = _all_text(items)
    assert "lollol" not in text and "BBBB" not in text
    events, issues = split(iter(items))
    assert [e.record_id for e in events] == [1]
    assert [i.offset for i in issues if i.offset is not None] == [2]
    assert "not defined" in issues[-1].reason


def test_doctype_text_that_looks_like_events_is_not_loaded(tmp_path: Path) -> None:
    """An internal subset is skipped whole: markup hidden in entity values never becomes events."""
    hidden = xml_event(4624, 999, {"TargetUserName": "ghost"}).replace("'", "&#39;")
    doc = f"<?xml version='1.0'?><!DOCTYPE Events [<!ENTITY e '{hidden}'>]><Events>{xml_event(4688, 1, {})}</Events>"
    path = tmp_path / "hidden.xml"
    path.write_text(doc, encoding="utf-8")
    events, _ = split(iter_input(str(path)))
    assert [e.record_id for e in events] == [1]
