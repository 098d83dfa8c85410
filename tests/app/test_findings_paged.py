"""The findings stay in the store and the app reads them a page at a time (`core.findings.pages`).

At 10M events the built-in rules flag ~200,000 events: as `Finding` objects that was ~350 MB the
app held for the whole session (the model cache, the table's markers, the detail pane's map, the
Findings view's nodes). A store with many findings: the app holds at most a page of them, and
still shows what it showed (the markers of every flagged event, the counts per rule, each rule's
findings in time order, the detail of any event, the jump from a finding to its event).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from core.findings.engine import Finding, store_findings
from core.findings.pages import ListPages, StoredFindingList, pages_of, view_key
from core.findings.rules import load_rules
from core.findings.stored import findings_of
from core.model.event import Event
from core.store.store import Store
from tests.app.story import label_text
from tests.apputil import opened, sync, wait_for
from tui.app import EvtxApp
from tui.findings_view import PAGE, FindingsScreen, finding_line
from tui.nav_tree import NavTree

#: Findings of the big rule: several pages.
MANY = 5 * PAGE + 37
BIG_RULE = "image-outside-standard-folders"
T0 = 130_000_000_000_000_000  # a FILETIME in 2012


def _event(n: int, image: str, when: int) -> Event:
    data = {
        "SubjectUserSid": "S-1-5-21-1377283216-344919071-3415362939-1104", "SubjectUserName": "dadmin",
        "SubjectDomainName": "CONTOSO", "SubjectLogonId": "0x4a5af0", "NewProcessId": hex(0x1000 + n),
        "NewProcessName": image, "TokenElevationType": "%%1938", "ProcessId": "0xe74", "CommandLine": "",
        "TargetUserSid": "S-1-0-0", "TargetUserName": "-", "TargetDomainName": "-", "TargetLogonId": "0x0",
        "ParentProcessName": "C:\\Windows\\explorer.exe", "MandatoryLabel": "S-1-16-8192",
    }
    return Event(source=0, record_number=n, record_id=n, filetime=when, event_id=4688, channel="Security",
                 provider="Microsoft-Windows-Security-Auditing", computer=f"WS{n % 3:02d}.contoso.local",
                 data=tuple(data.items()))


@pytest.fixture()
def many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A complete store whose big rule flags MANY events (times out of record order, some equal)
    and another rule a few."""
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    events = [_event(n, f"C:\\Tools\\tool{n}.exe", T0 + ((n * 7919) % MANY) // 2 * 10_000_000) for n in range(MANY)]
    events += [_event(MANY + n, f"C:\\Windows\\System32\\mimikatz{n}.exe", T0 + n) for n in range(5)]
    path = tmp_path / "many.sqlite"
    with Store(path) as store:
        store.add_source(str(tmp_path / "many.xml"), "xml")
        store.add_events(events)
        store.build_indexes()
        store.set_meta("complete", "1")
    return path


def _expected(path: Path) -> list[Finding]:
    with Store(path, readonly=True) as store:
        return list(store_findings(store, load_rules(None)).findings)


def _live_findings() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Finding)


def _status(app: EvtxApp) -> str:
    return str(app.screen.query_one("#view-status", Static).render())


async def _findings_view(pilot: Any, app: EvtxApp) -> NavTree:
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and "findings from" in _status(app))
    tree = app.screen.query_one(NavTree)
    await wait_for(pilot, lambda: not tree.filling)
    return tree


@sync
async def test_the_app_holds_a_page_of_findings_not_all_of_them(many: Path) -> None:
    expected = _expected(many)
    assert sum(f.rule == BIG_RULE for f in expected) == MANY
    del expected
    app = EvtxApp([str(many.with_suffix(".xml"))], store_path=many)
    async with opened(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace.findings_ready)
        assert len(app.table.findings) == MANY + 5  # every flagged event has its marker
        assert _live_findings() <= 10
        tree = await _findings_view(pilot, app)
        # The view shows the first page of each rule: what the app holds, not the MANY.
        shown = sum(1 for _ in tree.walk())
        assert shown <= 2 + PAGE + 1 + 5 + 1  # (and the Sigma hint)
        assert _live_findings() <= PAGE + 5


@sync
async def test_the_findings_view_counts_and_shows_the_right_row_after_scrolling_far(many: Path) -> None:
    expected = sorted((f for f in _expected(many) if f.rule == BIG_RULE), key=view_key)
    far = MANY - 3  # on the last page
    app = EvtxApp([str(many.with_suffix(".xml"))], store_path=many)
    async with opened(app, (120, 40)) as pilot:
        tree = await _findings_view(pilot, app)
        assert f"{MANY + 5:,} findings from 2 rules" in _status(app)
        labels = [label_text(n).plain for n in tree.root.children]
        big = next(n for n in tree.root.children if BIG_RULE in label_text(n).plain)
        assert any(f"{BIG_RULE} ({MANY:,})" in label for label in labels)
        assert labels[0].startswith("high") and "(5)" in labels[0]  # most severe first
        big.expand()
        for _ in range(MANY // PAGE + 2):  # enter on each "more" line: the next page
            last = big.children[-1]
            if not label_text(last).plain.startswith("... more"):
                break
            await pilot.pause(0.05)
            tree.move_cursor(last)
            count = len(big.children)
            await pilot.press("enter")

            def grown(c: int = count) -> bool:
                return len(big.children) > c

            await wait_for(pilot, grown)
        assert [label_text(n).plain for n in big.children] == [finding_line(f).plain for f in expected]
        node = big.children[far]
        tree.move_cursor(node)
        await pilot.press("enter")  # jumps to its event
        await wait_for(pilot, lambda: not isinstance(app.screen, FindingsScreen))
        await wait_for(pilot, lambda: app.detail.store_id == expected[far].store_id)
        found = app.detail.findings.get(expected[far].store_id, ()) if app.detail.findings is not None else ()
        assert [f.rule for f in found] == [BIG_RULE]  # the detail pane's Findings node, read when shown
        assert found[0] == expected[far]


def test_stored_pages_answer_as_the_findings_in_memory(many: Path) -> None:
    with Store(many, readonly=True) as store:
        data = findings_of(store, load_rules(None))  # computed and kept
        kept = findings_of(store, load_rules(None))  # read back: rows in the store
    assert isinstance(kept.findings, StoredFindingList) and not isinstance(data.findings, StoredFindingList)
    fresh = _expected(many)
    assert kept.findings == fresh and len(kept.findings) == len(fresh) and kept.findings[-1] == fresh[-1]
    stored, held = pages_of(kept), ListPages(fresh)
    assert sorted(stored.rule_counts()) == sorted(held.rule_counts())
    for after in (0, 1, PAGE, MANY - 2, MANY + 10):
        assert stored.rule_page(BIG_RULE, after, PAGE + 1) == held.rule_page(BIG_RULE, after, PAGE + 1)
    for f in fresh[::97]:
        assert stored.of_event(f.store_id) == held.of_event(f.store_id)
    rank = ["critical", "high", "medium", "low", "info"].index
    assert stored.highest(rank) == held.highest(rank)


@sync
async def test_search_finds_a_finding_not_fetched_yet(many: Path) -> None:
    expected = sorted((f for f in _expected(many) if f.rule == BIG_RULE), key=view_key)
    far = expected[MANY - 20]
    app = EvtxApp([str(many.with_suffix(".xml"))], store_path=many)
    async with opened(app, (120, 40)) as pilot:
        tree = await _findings_view(pilot, app)
        assert not any(label_text(n).plain == finding_line(far).plain for n in tree.walk())  # not fetched
        await pilot.press("slash")
        for key in f"tool{far.record_id}.exe":
            await pilot.press(key)
        await pilot.press("enter")
        await wait_for(pilot, lambda: tree.cursor_node is not None
                       and label_text(tree.cursor_node).plain == finding_line(far).plain)
        await pilot.press("enter")  # and jumps to its event
        await wait_for(pilot, lambda: app.detail.store_id == far.store_id)
