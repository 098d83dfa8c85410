"""Long values in the detail pane wrap onto continuation lines of the field tree.

Textual's `Tree` draws one line per node and scrolls sideways for a long label: a 3,000
character PowerShell command line then scrolled one character per key. A field whose label is
wider than the tree is cut into one node per screen line: the first line is the field's node,
the others are indented continuation nodes that carry the same help text and pivot on the same
field. A line breaks after a space (or a path's backslash) near its end, else at the width, and
keeps every character. The pane wraps again when its width changes.

A value is also cut in code points, not only in cells: Textual measures and draws every code
point, and a megabyte of combining accents or zero-width spaces is a few cells wide, so it was
never wrapped nor cut, and `x`, `d` or a cursor move onto its row took 6 to 16 s. The Fields tab
lays out the first VALUE_CHARS characters of a value (`shown_value`), a screen line holds
CHARS_PER_CELL code points per cell at most, and the XML tab (`xml_text`) is cut per line and in
all; each cut says how many characters are left out and that `y` (the event) and `e` (the view)
still have every one.

The labels stay `rich.text.Text` built from `printable`: wrapping never parses markup.
"""

from __future__ import annotations

from rich.cells import get_character_cell_size
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.model.text import printable

#: How far continuation lines are indented under their field's first line.
INDENT = "  "
#: At most this many lines per field (a 64 KiB script block is still bounded); the last says
#: how much is left out (`y` and `e` have the whole value).
MAX_LINES = 200
#: Below this width wrapping is pointless (a hidden or collapsed pane): labels stay whole.
MIN_WIDTH = 12
#: Characters of one value the Fields tab lays out, as shown (escapes included): 130 lines of
#: 150 cells, so that MAX_LINES rarely cuts first (its count would be of the shown characters).
VALUE_CHARS = 20_000
#: Code points of a screen line per cell of its width at most: accents, joiners and emoji
#: sequences take two or three, a line of zero-width characters is cut here rather than never.
CHARS_PER_CELL = 4
#: The XML tab: characters of one line and in all (as shown, escapes included), lines in all.
XML_LINE_CHARS = 20_000
XML_CHARS = 200_000
XML_LINES = 5_000
#: Where the whole of a cut value is.
WHOLE = "y copies the event, e exports the view"


def cut_value(value: str, limit: int = VALUE_CHARS) -> tuple[str, int]:
    """The first `limit` code points of `value` and how many are left out."""
    if len(value) <= limit:
        return value, 0
    return value[:limit], len(value) - limit


def shown_value(value: str, limit: int = VALUE_CHARS) -> tuple[str, int]:
    """`value` made printable and cut to at most `limit` characters (whole escapes only: one
    control shows as up to ten), and how many code points of `value` that leaves out."""
    raw, _ = cut_value(value, limit)
    text = printable(raw)
    if len(text) > limit:  # escapes made it longer: the longest prefix whose form fits
        lo, hi = 0, len(raw)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if len(printable(raw[:mid])) <= limit else (lo, mid - 1)
        raw = raw[:lo]
        text = printable(raw)
    return text, len(value) - len(raw)


def more_note(left: int, what: str = "characters") -> Text:
    """`… 1,234 more characters (y copies the event, e exports the view)`."""
    return Text(f"… {left:,} more {what} ({WHOLE})", style="dim")


def room(tree: Tree[str], depth: int) -> int:
    """Cells left for a label of a node at `depth` (the root is 0): the tree's width less its
    guides (`guide_depth` per level below the root) and its vertical scrollbar, counted
    whether shown or not (it appears once the wrapped lines overflow, with no resize)."""
    return tree.size.width - tree.styles.scrollbar_size_vertical - depth * tree.guide_depth


def breaks(plain: str, first: int, rest: int, limit: int) -> list[int]:
    """Where to cut `plain` into lines of `first` cells, then `rest` cells: after a space in the
    line's last third when there is one (command lines read by words), else after a path's
    backslash or a dash there (paths, SIDs), else at the width (a base64 run fills its lines).
    A line holds CHARS_PER_CELL code points per cell at most. At most `limit` cuts."""
    cuts: list[int] = []
    start, size = 0, len(plain)
    while start < size and len(cuts) < limit:
        width = first if not cuts else rest
        end, cells, stop = start, 0, min(size, start + width * CHARS_PER_CELL)
        while end < stop and cells + (w := get_character_cell_size(plain[end])) <= width:
            cells += w
            end += 1
        if end >= size:
            break
        end = max(end, start + 1)  # a character wider than the line still moves on
        if plain[end] != " ":
            end = _soft_break(plain, start + (end - start) * 2 // 3, end) or end
        cuts.append(end)
        start = end
    return cuts


#: Where a line may end inside a word, when it has no space near its end (paths, SIDs).
SOFT_BREAKS = "\\/-,;="


def _soft_break(plain: str, lo: int, hi: int) -> int | None:
    """Just after the last space in plain[lo:hi], else after the last `SOFT_BREAKS` character."""
    space = plain.rfind(" ", lo, hi)
    if space >= lo:
        return space + 1
    for at in range(hi - 1, lo - 1, -1):
        if plain[at] in SOFT_BREAKS:
            return at + 1
    return None


def wrap_label(label: Text, width: int, more: int = 0, max_lines: int = MAX_LINES) -> list[Text]:
    """`label` as lines of at most `width` cells, continuation lines indented; one line when it
    fits or when `width` is too small to wrap. Every character is kept up to `max_lines` lines;
    past them, or when `more` characters of the value were left out of `label` (`shown_value`),
    the last line says how many are not shown."""
    plain = label.plain
    if width < MIN_WIDTH or (len(plain) <= width * CHARS_PER_CELL and label.cell_len <= width):
        lines = [label]
    else:
        lines = list(label.divide(breaks(plain, width, width - len(INDENT), max_lines)))
    if len(lines) > max_lines or more:
        keep = max(1, min(len(lines), max_lines - 1))
        left = more + len(plain) - sum(len(line) for line in lines[:keep])
        lines = [*lines[:keep], more_note(left)]
    return [lines[0], *(Text(INDENT) + line for line in lines[1:])]


def add_wrapped(parent: TreeNode[str], label: Text, data: str, width: int, more: int = 0,
                max_lines: int = MAX_LINES) -> list[TreeNode[str]]:
    """Add `label` under `parent` as one leaf per wrapped line (`wrap_label`); the leaves, first
    line first."""
    return [parent.add_leaf(line, data=data) for line in wrap_label(label, width, more, max_lines)]


def xml_text(text: str) -> Text:
    """The XML tab's text: the XML's own line breaks kept, each line printable and cut to
    XML_LINE_CHARS code points, at most XML_LINES lines and XML_CHARS characters in all; each
    cut says how much is left out. Lines end at `\\n` only: `str.splitlines` also ends them
    at NEL, U+2028 or a form feed, which `printable` shows escaped."""
    out = Text()
    budget = XML_CHARS
    lines = text.removesuffix("\n").split("\n")
    for number, line in enumerate(lines):
        if number:
            out.append("\n")
        if number == XML_LINES or budget <= 0:
            out.append_text(more_note(len(lines) - number, "lines"))
            break
        shown, more = shown_value(line.removesuffix("\r"), min(XML_LINE_CHARS, budget))
        budget -= len(shown)
        out.append(shown)
        if more:
            out.append(" ")
            out.append_text(more_note(more))
    return out
