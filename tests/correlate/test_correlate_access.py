"""The credential-access chain and the events attached to processes and sessions (issue 17),
on hand-made logs: Sysmon 10 <-> 4656 of the same access, the process-access list ranked by
risk with its 4690 duplications, privilege/credential/service/task/share events on the process
and session that did them, services and tasks linked to the processes they start, and the
reasons given when an audit category is off."""

from __future__ import annotations

from core.correlate.evidence import Ref
from core.correlate.model import build_model
from core.model.access import process_rights
from tests.correlate.access_events import LSASS, LSASS_OBJECT, MIMI, chain, open_process
from tests.correlate.events import by_record, find_node, load, p4688, s4624, walk, xml
from tests.correlate.sysmon_events import s10


def test_process_rights_are_named() -> None:
    assert process_rights(0x1010) == "PROCESS_VM_READ, PROCESS_QUERY_LIMITED_INFORMATION"
    assert process_rights(0x1FFFFF) == "PROCESS_ALL_ACCESS"
    assert process_rights(0x1410) == (
        "PROCESS_VM_READ, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION")


def test_sysmon_10_and_4656_of_the_same_access_are_linked() -> None:
    events = load(*chain())
    model = build_model(events)
    c = model.correlate(by_record(events, 3))
    (twin,) = c.links
    assert (twin.relation, twin.ref and twin.ref.record_id, twin.confidence) == ("4656 of the same access", 2, "exact")
    assert twin.reason == "same source process and target image, logged 4 ms apart, same access mask 0x1010"
    # one access seen twice: the 4656 pairs with one Sysmon 10 only (another OpenProcess call
    # with other rights, which the object's SACL did not audit, has no 4656)
    assert model.correlate(by_record(events, 4)).links == ()
    back = model.correlate(by_record(events, 2)).links
    assert [(x.relation, x.ref and x.ref.record_id) for x in back] == [("Sysmon 10 of the same access", 3)]


def test_a_4656_asking_other_rights_is_an_inferred_twin_and_equal_ones_pair_in_order() -> None:
    events = load(
        p4688(1, 0.0, "0x384", MIMI, "0x4"),
        open_process(2, 1.0, "0x384", "0x88", "0x1fffff"),
        s10(3, 1.0, "{M}", 900, MIMI, "{L}", 700, LSASS, access="0x1410"),
        open_process(4, 2.0, "0x384", "0x8c", "0x1410"),
        open_process(5, 2.0, "0x384", "0x90", "0x1410"),
        s10(6, 2.0, "{M}", 900, MIMI, "{L}", 700, LSASS, access="0x1410"),
        s10(7, 2.0, "{M}", 900, MIMI, "{L}", 700, LSASS, access="0x1410"),
    )
    model = build_model(events)
    (twin,) = model.correlate(by_record(events, 3)).links
    assert (twin.ref and twin.ref.record_id, twin.confidence) == (2, "inferred")
    assert twin.reason.endswith("but the 4656 asks for 0x1fffff and Sysmon grants 0x1410")
    pairs = [(rid, [(x.ref and x.ref.record_id, x.confidence) for x in model.correlate(by_record(events, rid)).links])
             for rid in (6, 7)]
    assert pairs == [(6, [(4, "inferred")]), (7, [(5, "inferred")])]
    assert "2 such 4656s are equally near: paired in log order" in model.correlate(by_record(events, 6)).links[0].reason


def test_process_access_list_ranks_lsass_first_with_duplications() -> None:
    groups = build_model(load(*chain())).process_accesses()
    assert [g.target for g in groups] == ["lsass.exe 0x2bc (700)", "notepad.exe 0x5dc (1500)"]
    rows = groups[0].accesses
    assert [(r.evidence.record_id, r.source_name, r.access) for r in rows] == [
        (3, "mimi.exe", 0x1010), (4, "mimi.exe", 0x1400), (6, "WmiPrvSE.exe", 0x1000)]
    top = rows[0]
    assert top.rights == "PROCESS_VM_READ, PROCESS_QUERY_LIMITED_INFORMATION"
    assert top.why_risky[:2] == ("target is lsass.exe (credentials)", "can read its memory")
    assert "unusual source image mimi.exe" in top.why_risky and top.risk > rows[2].risk
    assert [d.record_id for d in top.duplications] == [5]
    assert top.twin is not None and top.twin.ref.record_id == 2


def test_a_4656_without_sysmon_names_its_target_by_the_image_alive() -> None:
    events = load(
        p4688(1, 0.0, "0x2bc", LSASS, "0x4"),
        p4688(2, 0.5, "0x384", MIMI, "0x4"),
        open_process(3, 1.0, "0x384", "0x88", "0x1fffff"),
    )
    model = build_model(events)
    (group,) = model.process_accesses()
    (row,) = group.accesses
    assert row.target is not None and row.target.pid == 0x2BC and row.target_confidence == "inferred"
    assert row.rights == "PROCESS_ALL_ACCESS"
    (link,) = model.correlate(by_record(events, 3)).links
    assert (link.relation, link.label, link.confidence) == ("target process", "lsass.exe 0x2bc (700)", "inferred")


def test_privilege_and_credential_events_attach_to_the_process_and_session() -> None:
    events = load(
        s4624(1, 0.0, "0x5000"),
        p4688(2, 1.0, "0x384", MIMI, "0x4", logon="0x5000"),
        xml(4673, 3, 2.0, SubjectLogonId="0x5000", ProcessId="0x384", ProcessName=MIMI,
            PrivilegeList="SeDebugPrivilege", Service="-"),
        xml(4648, 4, 3.0, SubjectLogonId="0x5000", ProcessId="0x384", ProcessName=MIMI, TargetUserName="admin",
            TargetDomainName="DOM", TargetServerName="dc01.dom.local"),
        xml(4703, 5, 4.0, SubjectLogonId="0x5000", ProcessId="0x384", EnabledPrivilegeList="SeDebugPrivilege"),
    )
    model = build_model(events)
    (proc,) = model.instances("HOST1", 0x384)
    assert [a.ref.record_id for a in model.by_process[proc.index]] == [3, 4, 5]
    c = model.correlate(by_record(events, 4))
    assert c.summary == ("4648 explicit credentials used: TargetDomainName=DOM, TargetUserName=admin, "
                         "TargetServerName=dc01.dom.local by mimi.exe 0x384 (900)")
    assert c.session is not None and c.session.session is not None and c.session.session.logon is not None
    assert c.session.session.logon.record_id == 1
    tree = model.correlate(by_record(events, 2)).tree()
    did = find_node(find_node(tree, "new process: mimi.exe"), "did: 3")
    assert [n.store_id for n in did.children] == [3, 4, 5]
    session = find_node(tree, "logon session 0x5000")
    assert [n.store_id for n in find_node(session, "did: 3").children] == [3, 4, 5]


def test_a_task_links_to_the_process_it_starts_and_back() -> None:
    task = ("<Task><Actions><Exec><Command>C:\\Temp\\evil.exe</Command><Arguments>-x</Arguments></Exec>"
            "</Actions></Task>")
    events = load(
        p4688(1, 0.0, "0x400", r"C:\Windows\System32\svchost.exe", "0x4"),
        p4688(2, 1.0, "0x500", r"C:\Windows\System32\schtasks.exe", "0x4"),
        xml(4698, 3, 1.5, SubjectLogonId="0x3e7", TaskName="\\Evil", TaskContent=task, ClientProcessId="1280"),
        p4688(4, 0.5, "0x600", r"C:\Temp\evil.exe", "0x400"),  # before the task: not its run
        p4688(5, 9.0, "0x700", r"C:\Temp\evil.exe", "0x400"),
    )
    model = build_model(events)
    install = model.correlate(by_record(events, 3))
    assert install.source_process is not None and install.source_process.name == "schtasks.exe"
    assert [(x.relation, x.ref and x.ref.record_id) for x in install.links] == [("started process", 5)]
    run = model.correlate(by_record(events, 5))
    assert [(x.relation, x.ref and x.ref.record_id, x.confidence) for x in run.links] == [
        ("started by", 3, "inferred")]
    assert not model.correlate(by_record(events, 4)).links


def test_share_access_and_network_logons_from_one_ip_show_on_the_session() -> None:
    def logon(rid: int, sec: float, lid: str) -> str:
        return xml(4624, rid, sec, TargetLogonId=lid, TargetUserName="bob", TargetDomainName="DOM", LogonType="3",
                   IpAddress="10.0.0.5")

    events = load(
        logon(1, 0.0, "0x7000"),
        xml(5140, 2, 0.1, SubjectLogonId="0x7000", ShareName="\\\\*\\C$", IpAddress="10.0.0.5"),
        logon(3, 5.0, "0x7100"),
    )
    model = build_model(events)
    tree = model.correlate(by_record(events, 2)).tree()
    session = find_node(tree, "logon session 0x7000")
    assert find_node(session, "did: 1").children[0].store_id == 2
    assert find_node(session, "network logons from 10.0.0.5: 1").children[0].store_id == 3


def test_no_4689_at_all_says_termination_auditing_is_off() -> None:
    events = load(p4688(1, 0.0, "0x384", MIMI, "0x4"))
    labels = [n.label for n in walk(build_model(events).correlate(events[0]).tree())]
    assert ("end unknown: there is no 4689 at all for HOST1 in this log (process termination auditing is off)"
            in labels)
    assert not any("still running" in label for label in labels)


def test_duplications_name_their_object() -> None:
    events = load(*chain())
    (dup,) = build_model(events).handle_duplications()
    assert dup.object_name == f"Process {LSASS_OBJECT}"


def test_the_opens_of_an_event_are_found_without_a_list_per_event() -> None:
    """The event trees' links find an event's 4656s on Process objects by its store id: in the
    ids sorted once (two arrays), in scan order per id, where a dict of lists held ~140 bytes a
    4656 (20 MB at ten million events)."""
    import random

    from core.correlate.access import AccessTracker
    from tests.correlate.heap import deep_size

    rng = random.Random(5)
    refs = _Refs()
    tracker = AccessTracker(refs)
    ids = [rng.randrange(1, 400) for _ in range(2000)]
    for n, sid in enumerate(ids):
        tracker.opened(refs.add(Ref(sid, sid, 4656, n, n, n)), (n, n), "pc", n % 7, n, f"C:\\w\\{n % 3}.exe", 0x1410)
    for sid in range(0, 402):
        found = tracker.opens_of(sid)
        assert found == [o for o in tracker.opens if o.ref.store_id == sid]
    assert deep_size(tracker._ids, set())[0] < 20 * len(ids)  # noqa: SLF001 - what the look-up holds
    tracker.opened(refs.add(Ref(7, 7, 4656, 9999, 9999, 9999)), (9999, 9999), "pc", 1, 1, None, None)  # found too
    assert tracker.opens_of(7)[-1].ref.order == 9999


class _Refs:
    """A `RefSource` of `Ref`s added in order (the facts table's part in the tracker)."""

    def __init__(self) -> None:
        self.refs: list[Ref] = []

    def add(self, ref: Ref) -> int:
        self.refs.append(ref)
        return len(self.refs) - 1

    def ref(self, pos: int) -> Ref:
        return self.refs[pos]

    def key(self, pos: int) -> tuple[int, int]:
        return self.refs[pos].key

    def store_id(self, pos: int) -> int:
        return self.refs[pos].store_id


def test_the_opens_are_held_as_columns_and_read_back_equal() -> None:
    """A 4656 on a Process object is kept as its facts-table position and a few ints (~64 bytes;
    an object with its `Ref` and boxed ints was ~200, 30 MB at ten million events), and read
    back as the same open: its record, computer, source, handle, image folded and mask."""
    import random

    from core.correlate.access import AccessTracker
    from tests.correlate.heap import deep_size

    rng = random.Random(9)
    refs = _Refs()
    tracker = AccessTracker(refs)
    made = []
    for n in range(20_000):
        ts = 1 << 64 if n % 1009 == 2 else 7 * n  # a hostile log's time now and then: kept all the same
        ref = Ref(1000 + n, None if n % 11 == 0 else 5 * n, 4656, None if n % 13 == 0 else ts, ts, n)
        host, source, handle = f"host{n % 3}", rng.randrange(10**6), rng.randrange(10**7)
        image = rng.choice(["C:\\Windows\\System32\\LSASS.EXE", None, "D:\\x\\Cmd.exe"])
        mask = None if n % 7 == 0 else rng.choice([0x1410, 0x1FFFFF, 0])
        if n % 997 == 1:
            mask = rng.choice([-1, 1 << 70])  # a hostile log's: kept all the same
        tracker.opened(refs.add(ref), ref.key, host, source, handle, image, mask)
        made.append((ref, host, source, handle, "" if image is None else image.rsplit("\\", 1)[-1].casefold(),
                     mask))
    assert [(o.ref, o.host, o.source, o.handle, o.target_image, o.mask) for o in tracker.opens] == made
    assert tracker.opens[-1].ref == made[-1][0] and len(tracker.opens[5:8]) == 3
    assert tracker.opens.keys(range(len(made))) == [m[0].key for m in made]
    held = deep_size(tracker.opens, {id(refs)})[0]
    assert held < 80 * len(made), held
