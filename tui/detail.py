"""The detail pane: the selected event's fields with decoded values, and its raw XML.

Decoded values (hex -> decimal, `%%1937` -> "Type 2 elevated", SIDs, logon types, access
masks) come from `core.model.decode`; the description of the highlighted field (4688, 4690) is shown
under the tree. The raw XML is fetched only when its tab is shown, in a worker thread (it
re-reads the input file).

The node under System says which findings rules fired on the event and why (severity, rule
id, the rule's message; the evidence fields under each). It reads the `{store_id: [Finding]}`
map the app computes once in a worker (`set_findings`), so selecting an event never runs the
rules; until that map arrives the node says "computing…".

Every label is a `rich.text.Text` built from `core.model.text.printable`: event data never reaches
Rich as markup. What is laid out is bounded whatever the event: the first characters of a value
(`tui.detail_wrap.shown_value`), TREE_LINES lines of fields, a cut XML text (`xml_text`), each
cut saying how much is left out (a megabyte value or 10,000 fields took seconds per key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from core.model.decode import decode_value, decoding_shown
from core.model.event import Event, iso_from_filetime
from core.model.field_help import field_help
from core.model.text import one_line, printable
from core.store.store import SourceRow
from tui.detail_wrap import MAX_LINES, add_wrapped, more_note, room, shown_value, xml_text
from tui.table_rows import finding_glyph

if TYPE_CHECKING:
    from core.findings.engine import Finding

#: Characters of a field's name (and of the channel in the root's line) shown: a name is the
#: log's too, and JSON lines may hold any.
NAME_CHARS = 200
#: Characters of a finding's message in its line, of the help under the tree (four lines).
MESSAGE_CHARS = 500
HELP_CHARS = 1_000
#: Lines of the field tree at most (a 10,000-field event took 3.5 s per `d` or resize): the
#: fields past them are counted in a last line; `y` and `e` have every one.
TREE_LINES = 3_000


def decoded(name: str, value: str | None, event: Event, object_type: str | None = None) -> str | None:
    if value is None:
        return None
    try:
        return decode_value(name, value, event.event_id, object_type=object_type)
    except Exception:  # noqa: BLE001 - a decoder bug must not hide the raw value
        return None


def field_label(name: str, value: str | None, decoded_text: str | None) -> tuple[Text, int]:
    """`name: value  = decoding` and how many characters of the value it leaves out: the first
    VALUE_CHARS of a value are shown (`tui.detail_wrap`), the decoding is of the whole value."""
    text = Text(shown_value(name, NAME_CHARS)[0], style="bold")
    text.append(": ")
    shown, more = shown_value(value if value is not None else "-")
    text.append(shown)
    decoding = decoding_shown(value, decoded_text) if value is not None else None
    if decoding is not None:
        how, rest = decoding
        if how:
            text.append(f"  {how} ", style="dim")
        text.append(shown_value(rest)[0], style="italic")
    return text, more


#: Colours of the severity words (the glyph and the word carry it without colour).
SEVERITY_STYLES = {
    "critical": "bold red reverse",
    "high": "bold red",
    "medium": "bold yellow",
    "low": "cyan",
    "info": "dim",
}


def finding_label(finding: Finding) -> Text:
    """`! high    rule-id  message` for one finding (literal text only)."""
    severity = printable(finding.severity.lower() or "?")
    text = Text(f"{finding_glyph(severity)} {severity:<8}", style=SEVERITY_STYLES.get(severity, "bold"))
    text.append(printable(finding.rule), style="bold")
    text.append("  ")
    text.append(one_line(finding.message[:MESSAGE_CHARS + 1], MESSAGE_CHARS))  # (it may quote a value)
    return text


def system_fields(event: Event, source: SourceRow | None) -> list[tuple[str, str | None]]:
    """The System block as (name, value) pairs, in the order Windows shows them."""
    return [
        ("Provider", event.provider),
        ("EventID", str(event.event_id)),
        ("Version", None if event.version is None else str(event.version)),
        ("Level", None if event.level is None else str(event.level)),
        ("Task", None if event.task is None else str(event.task)),
        ("Opcode", None if event.opcode is None else str(event.opcode)),
        ("Keywords", event.keywords),
        ("TimeCreated", iso_from_filetime(event.filetime)),
        ("EventRecordID", None if event.record_id is None else str(event.record_id)),
        ("ProcessID", None if event.pid is None else str(event.pid)),
        ("ThreadID", None if event.tid is None else str(event.tid)),
        ("Channel", event.channel),
        ("Computer", event.computer),
        ("UserID", event.user_sid),
        ("Source", source.path if source is not None else str(event.source)),
    ]


def event_as_text(event: Event, source: SourceRow | None = None) -> str:
    """The event as readable text (System then EventData), for copying."""
    lines = [f"{name}: {printable(value)}" for name, value in system_fields(event, source) if value is not None]
    lines.append("EventData:")
    lines += [f"  {printable(name)}: {printable(value)}" for name, value in event.data]
    return "\n".join(lines)


class FieldTree(Tree[str]):
    """Tree of fields; node data is the field's help text (or '')."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class Resized(Message):
        """The tree's width may have changed: the pane wraps its labels again."""

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())


class XmlScroll(VerticalScroll):
    """The XML tab's scroll: `j`/`k` scroll it as they move in every other pane."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]


class DetailPane(Vertical):
    """Fields tab (tree + help of the highlighted field) and XML tab."""

    DEFAULT_CSS = """
    DetailPane { height: 40%; min-height: 6; border-top: solid $primary-muted; border-title-align: left; }
    DetailPane:focus-within { border-top: heavy $accent; border-title-style: bold; }
    DetailPane #detail-tabs { height: 1fr; }
    DetailPane #detail-tabs Tabs { height: 1; }
    DetailPane #detail-tabs Underline { display: none; }
    DetailPane #detail-tabs ContentSwitcher { height: 1fr; }
    DetailPane #detail-tabs TabPane { padding: 0; height: 1fr; }
    DetailPane #field-tree { height: 1fr; }
    DetailPane #field-help { height: auto; max-height: 4; color: $text-muted; }
    DetailPane #xml-scroll { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "toggle_tab", "Fields/XML")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event: Event | None = None
        self.store_id: int | None = None
        self.sources: dict[int, SourceRow] = {}
        self._xml_for: int | None = None
        #: store id -> its findings, most severe first; None until the app has computed them.
        self.findings: Mapping[int, Sequence[Finding]] | None = None
        self.findings_error: str | None = None
        self.rule_titles: Mapping[str, str] = {}
        self._findings_node: TreeNode[str] | None = None
        #: tree node id -> (field name, value, is a System field): what a pivot key acts on.
        self.node_fields: dict[int, tuple[str, str, bool]] = {}
        #: The tree width the labels were wrapped for; whether System was unfolded then.
        self._wrapped_at = 0
        self._system_open = False

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            with TabPane("Fields", id="tab-fields"):
                tree: FieldTree = FieldTree(Text("no event selected"), id="field-tree")
                tree.show_root = True
                yield tree
                yield Static(Text(""), id="field-help")
            with TabPane("XML", id="tab-xml"), XmlScroll(id="xml-scroll"):
                yield Static(Text(""), id="xml-text")

    def show(self, store_id: int | None, event: Event | None) -> None:
        self.store_id, self.event = store_id, event
        self._xml_for = None
        self._system_open = False
        self.query_one("#field-help", Static).display = False
        if event is None:
            self.query_one("#xml-text", Static).update(Text(""))
        self._fill_tree()
        if event is not None and self.query_one(TabbedContent).active == "tab-xml":
            self._request_xml()

    def _fill_tree(self) -> None:
        """(Re)build the field tree of the shown event, long values wrapped to the tree's width
        (`tui.detail_wrap`)."""
        event = self.event
        tree = self.query_one(FieldTree)
        tree.clear()
        self.node_fields.clear()
        self._findings_node = None
        self._wrapped_at = tree.size.width
        if event is None:
            tree.root.set_label(Text("no event selected"))
            return
        channel = one_line(event.channel[:NAME_CHARS + 1] or "?", NAME_CHARS)
        tree.root.set_label(Text(f"Event {event.event_id} · record {event.record_id} · {channel}"))
        source = self.sources.get(event.source)
        system = tree.root.add(Text("System", style="bold"), data="", expand=self._system_open)
        for name, value in system_fields(event, source):
            if value is None:
                continue
            shown = decoded(name if name != "UserID" else "UserSid", value, event) if name in (
                "ProcessID", "ThreadID", "UserID") else None
            self._add_field(system, field_label(name, value, shown), "", (name, value, True))
        # Second, under the one-line (collapsed) System node: what fired is read first.
        self._findings_node = tree.root.add(Text("Findings", style="bold"), data="", expand=True)
        self._fill_findings()
        data = tree.root.add(Text("EventData", style="bold"), data="", expand=True)
        object_type = event.get("ObjectType")
        left = TREE_LINES
        for number, (name, value) in enumerate(event.data):
            if left <= 0:
                data.add_leaf(more_note(len(event.data) - number, "fields"), data="")
                break
            help_text = field_help(event.event_id, name) or ""
            label = field_label(name, value, decoded(name, value, event, object_type))
            field = (name, value, False) if value is not None else None
            left -= self._add_field(data, label, help_text, field, max_lines=left)
        tree.root.expand()

    def _add_field(self, parent: TreeNode[str], label: tuple[Text, int], help_text: str,
                   field: tuple[str, str, bool] | None, depth: int = 2, max_lines: int = MAX_LINES) -> int:
        """One field (its `field_label`) as its wrapped lines, `max_lines` at most; every line
        pivots on the field (`node_fields`). How many lines it took."""
        tree = self.query_one(FieldTree)
        text, more = label
        leaves = add_wrapped(parent, text, help_text, room(tree, depth), more, min(max_lines, MAX_LINES))
        if field is not None:
            self.node_fields.update((leaf.id, field) for leaf in leaves)
        return len(leaves)

    def on_field_tree_resized(self, message: FieldTree.Resized) -> None:
        """Wrap again for the new width, keeping the cursor on the same field."""
        tree = self.query_one(FieldTree)
        if self.event is None or tree.size.width == self._wrapped_at:
            return
        node = tree.cursor_node
        field = self.node_fields.get(node.id) if node is not None else None
        line = tree.cursor_line
        self._system_open = bool(tree.root.children) and tree.root.children[0].is_expanded
        self._fill_tree()
        for number in range(tree.last_line + 1) if field is not None else ():
            found = tree.get_node_at_line(number)
            if found is not None and self.node_fields.get(found.id) == field:
                line = number
                break
        tree.cursor_line = line

    def set_findings(
        self,
        findings: Mapping[int, Sequence[Finding]] | None,
        error: str | None = None,
        titles: Mapping[str, str] | None = None,
    ) -> None:
        """The findings of every event (None: not computed yet; `error`: why there are none)."""
        self.findings, self.findings_error = findings, error
        self.rule_titles = titles or {}
        self._fill_findings()

    def _fill_findings(self) -> None:
        """(Re)fill the Findings node of the shown event in place (the cursor stays put)."""
        node = self._findings_node
        if node is None or self.store_id is None:
            return
        node.remove_children()
        if self.findings_error is not None:
            node.set_label(Text("Findings", style="bold"))
            node.add_leaf(Text(printable(f"findings unavailable: {self.findings_error}"), style="italic"), data="")
            return
        if self.findings is None:
            node.set_label(Text("Findings", style="bold"))
            node.add_leaf(Text("findings: computing…", style="dim"), data="")
            return
        found = self.findings.get(self.store_id, ())
        if not found:
            node.set_label(Text("Findings", style="bold"))
            node.add_leaf(Text("no findings", style="dim"), data="")
            return
        node.set_label(Text(f"Findings ({len(found)})", style="bold"))
        for finding in found:
            title = self.rule_titles.get(finding.rule, "")
            help_text = f"{title}: {finding.message}" if title else finding.message
            item = node.add(finding_label(finding), data=help_text, expand=False, allow_expand=bool(finding.evidence))
            for name, value in finding.evidence:
                self._add_field(item, field_label(name, value, None), "", None, depth=3)
        node.expand()

    def on_tree_node_highlighted(self, message: Tree.NodeHighlighted[str]) -> None:
        help_text = message.node.data or ""
        box = self.query_one("#field-help", Static)
        box.update(Text(one_line(help_text[:HELP_CHARS + 1], HELP_CHARS), style="italic"))
        box.display = bool(help_text)

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        if message.pane.id == "tab-xml":
            self._request_xml()

    def action_toggle_tab(self) -> None:
        """Show the other tab; when the pane had focus, the shown tab gets it (the field tree or
        the XML's scroll), else the hidden tree kept nothing focused and `j`/PageDown did nothing."""
        tabs = self.query_one(TabbedContent)
        focused = self.app.focused
        inside = focused is not None and self in focused.ancestors_with_self
        tabs.active = "tab-fields" if tabs.active == "tab-xml" else "tab-xml"
        if inside:
            target = "#xml-scroll" if tabs.active == "tab-xml" else "#field-tree"
            self.query_one(target).focus()

    def _request_xml(self) -> None:
        event, store_id = self.event, self.store_id
        if event is None or store_id is None or self._xml_for == store_id:
            return
        self._xml_for = store_id
        source = self.sources.get(event.source)
        self.query_one("#xml-text", Static).update(Text("reading…", style="dim"))
        if source is None or event.locator is None:
            self._set_xml(store_id, "(no raw XML: the event's source position is unknown)")
            return
        self._fetch_xml(store_id, source.path, source.format, event.locator)

    @work(thread=True, exclusive=True, group="xml")
    def _fetch_xml(self, store_id: int, path: str, fmt: str, locator: int) -> None:
        from core.store.raw import raw_event_text  # the parsers load only when XML is asked for

        text = raw_event_text(path, fmt, locator, indent=True)
        self.app.call_from_thread(self._set_xml, store_id, text)

    def _set_xml(self, store_id: int, text: str) -> None:
        if store_id != self.store_id:
            return
        # Its line breaks kept, and cut (a megabyte line took seconds to draw): `xml_text`.
        self.query_one("#xml-text", Static).update(xml_text(text))

