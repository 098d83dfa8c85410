"""What makes writing the list views' event trees fast at a million events (issue 18) without
changing a node: the network logons of a session found from one index per model instead of a
scan of every session per tree, and the deduplicated subtrees of `core.store.event_trees`
(sizes and sharing) as before."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.correlate.model import build_model
from core.correlate.sessions import Session, network_index, network_logons
from core.store import correlation_links, correlation_tables, event_trees
from tests.correlate.events import by_record, find_node, load, xml


@dataclass(frozen=True, slots=True)
class Node:
    """A tree node as the writer takes any (a view's: `tui.nav_tree.TreeItem`): the engine's
    `core.correlate.links.Node`, but its confidence may be None as a view node's may."""

    label: str
    confidence: str | None
    store_id: int | None = None
    children: list[Node] = field(default_factory=list)


def _logon(rid: int, sec: float, lid: str, ip: str, computer: str = "HOST1", kind: str = "3") -> str:
    return xml(4624, rid, sec, computer, TargetLogonId=lid, TargetUserName="bob", TargetDomainName="DOM",
               LogonType=kind, IpAddress=ip)


def _events() -> list[Any]:
    return load(
        _logon(1, 0.0, "0x7000", "10.0.0.5"),
        xml(5140, 2, 0.1, "HOST1", SubjectLogonId="0x7000", ShareName="\\\\*\\C$", IpAddress="10.0.0.5"),
        _logon(3, 5.0, "0x7100", "10.0.0.5", computer="host1"),  # the same computer, another case
        _logon(4, 6.0, "0x7200", "10.0.0.5", kind="2"),  # not a network logon
        _logon(5, 7.0, "0x7300", "10.0.0.6"),  # another address
        _logon(6, 8.0, "0x7400", "10.0.0.5", computer="HOST2"),  # another computer
        _logon(7, 9.0, "0x7500", "127.0.0.1"),  # not remote
        xml(5140, 8, 9.1, "HOST1", SubjectLogonId="0x7500", ShareName="\\\\*\\C$", IpAddress="127.0.0.1"),
        xml(5140, 9, 9.2, "host1", SubjectLogonId="0x7100", ShareName="\\\\*\\C$", IpAddress="10.0.0.5"),
    )


def test_network_index_gives_what_the_scan_of_every_session_gives() -> None:
    model = build_model(_events())
    index = network_index(model.sessions)
    assert model.sessions
    for s in model.sessions:
        assert network_logons(model.sessions, s, index) == network_logons(model.sessions, s)
    first = next(s for s in model.sessions if s.logon_id == 0x7000)
    assert [s.logon_id for s in network_logons(model.sessions, first, index)] == [0x7100]


class _Counted(tuple[Session, ...]):
    """A model's sessions, counting the walks through all of them."""

    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def test_session_trees_do_not_scan_every_session_each() -> None:
    events = _events()
    model = build_model(events)
    model.sessions = _Counted(model.sessions)
    _Counted.walks = 0
    trees = [model.correlate(by_record(events, rid)).tree() for rid in (2, 9, 2, 9, 8)]
    assert find_node(trees[0], "network logons from 10.0.0.5: 1").children[0].store_id == 3
    assert find_node(trees[1], "network logons from 10.0.0.5: 1").children[0].store_id == 1
    assert _Counted.walks <= 1  # the index, made once for the model (before: one scan per tree)


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for statement in correlation_tables._schema().split(";"):
        if statement.strip():
            conn.execute(statement)
    return conn


def _shown(node: Node) -> event_trees.Shown:
    return str(node.label), None, node.confidence, node.store_id, None


@pytest.mark.parametrize("chunk", [3, 20_000])
def test_shared_subtrees_are_stored_once_with_their_sizes(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(event_trees, "CHUNK", chunk)
    conn = _conn()

    def process() -> Node:
        return Node("process: a.exe", "exact", 1, [Node("image: a.exe", "exact"), Node("user: bob", "exact")])

    leaf = Node("same object twice", "exact")
    trees = [(10, [Node("4656 a", "exact", 10, [process(), leaf, leaf])]),
             (11, [Node("4656 b", "exact", 11, [process()]), Node("x", None, None, [Node("y", "inferred")])])]
    assert event_trees.write_trees(conn, _shown, trees)
    labels = [row[0] for row in conn.execute("SELECT label FROM corr_tnode")]
    assert labels.count("process: a.exe") == 1 and labels.count("image: a.exe") == 1
    assert labels.count("same object twice") == 1
    for store_id, count in ((10, 6), (11, 6)):
        found = event_trees.event_root(conn, store_id)
        assert found is not None and found[1] == count  # nodes below the top, shared ones counted each time
    root = event_trees.event_root(conn, 10)
    assert root is not None
    kids = event_trees.whole(conn, root[0])
    assert [row.label for row in kids[root[0]]] == ["4656 a"]
    top = kids[root[0]][0]
    assert [row.label for row in kids[top.id]] == ["process: a.exe", "same object twice", "same object twice"]


def test_a_digest_tells_values_apart_that_print_alike() -> None:
    """A label of "1" and a store id of 1, None and "None": distinct nodes, not one."""
    conn = _conn()
    trees = [(1, [Node("1", None, None)]), (2, [Node("None", None, None)]), (3, [Node("1", None, 1)]),
             (4, [Node("1", None, None)])]
    assert event_trees.write_trees(conn, lambda n: (n.label, None, n.confidence, n.store_id, None), trees)
    assert conn.execute("SELECT count(*) FROM corr_tnode WHERE label != ''").fetchone()[0] == 3


class _Counting:
    """A connection counting its statements (`execute` and `executemany` calls)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, *args: Any) -> Any:
        self.calls += 1
        return self.conn.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self.calls += 1
        return self.conn.executemany(*args)


def test_links_and_their_reasons_go_in_a_few_statements(tmp_path: Any) -> None:
    from core.store.store import Store

    links = [(sid, "source handle", "handle", sid, "exact", f"opened by 4656 record {sid}") for sid in range(1, 3001)]
    links += [(sid, "session", "session", 1, "exact", "the same reason") for sid in range(1, 3001)]
    with Store(tmp_path / "s.sqlite") as store:
        counting = _Counting(store.conn)
        store.conn = counting  # type: ignore[assignment]  # on purpose: a counting stand-in, put back below
        assert correlation_tables.write_instances(store, correlation_tables.CorrelationTables())
        assert correlation_links.write_links(store, links)
        assert counting.calls < 60  # before: one statement per distinct reason, 3,001
        store.conn = counting.conn
        assert correlation_links.links_of(store, 7) == [
            ("source handle", "handle", 7, "exact", "opened by 4656 record 7"),
            ("session", "session", 1, "exact", "the same reason")]
        assert store.conn.execute("SELECT count(*) FROM corr_reason").fetchone()[0] == 3001
