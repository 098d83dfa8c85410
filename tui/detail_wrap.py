"""Long values in the detail pane wrap onto continuation lines of the field tree.

Textual's `Tree` draws one line per node and scrolls sideways for a long label: a 3,000
character PowerShell command line then scrolled one character per key. A field whose label is
wider than the tree is cut into one node per screen line: the first line is the field's node,
the others are indented continuation nodes that carry the same help text and pivot on the same
field. A line breaks after a space (or a path's backslash) near its end, else at the width, and
keeps every character. The pane wraps again when its width changes.

The labels stay `rich.text.Text` built from `printable`: wrapping never parses markup.
"""

from __future__ import annotations

from rich.cells import get_character_cell_size
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

#: How far continuation lines are indented under their field's first line.
INDENT = "  "
#: At most this many lines per field (a 64 KiB script block is still bounded); the last says
#: how much is left out (the XML tab and `y` have the whole value).
MAX_LINES = 200
#: Below this width wrapping is pointless (a hidden or collapsed pane): labels stay whole.
MIN_WIDTH = 12


def room(tree: Tree[str], depth: int) -> int:
    """Cells left for a label of a node at `depth` (the root is 0): the tree's width less its
    guides (`guide_depth` per level below the root) and its vertical scrollbar, counted
    whether shown or not (it appears once the wrapped lines overflow, with no resize)."""
    return tree.size.width - tree.styles.scrollbar_size_vertical - depth * tree.guide_depth


def breaks(plain: str, first: int, rest: int, limit: int) -> list[int]:
    """Where to cut `plain` into lines of `first` cells, then `rest` cells: after a space in the
    line's last third when there is one (command lines read by words), else after a path's
    backslash or a dash there (paths, SIDs), else at the width (a base64 run fills its lines).
    At most `limit` cuts."""
    cuts: list[int] = []
    start, size = 0, len(plain)
    while start < size and len(cuts) < limit:
        width = first if not cuts else rest
        end, cells = start, 0
        while end < size and cells + (w := get_character_cell_size(plain[end])) <= width:
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


def wrap_label(label: Text, width: int) -> list[Text]:
    """`label` as lines of at most `width` cells, continuation lines indented; one line when it
    fits or when `width` is too small to wrap. Every character is kept (nothing is trimmed)."""
    if width < MIN_WIDTH or label.cell_len <= width:
        return [label]
    cuts = breaks(label.plain, width, width - len(INDENT), MAX_LINES)
    lines = list(label.divide(cuts))
    if len(lines) > MAX_LINES:
        left = len(label.plain) - cuts[MAX_LINES - 2]
        lines = [*lines[:MAX_LINES - 1], Text(f"… {left:,} more characters (x: XML, y: copy)", style="dim")]
    return [lines[0], *(Text(INDENT) + line for line in lines[1:])]


def add_wrapped(parent: TreeNode[str], label: Text, data: str, width: int) -> list[TreeNode[str]]:
    """Add `label` under `parent` as one leaf per wrapped line; the leaves, first line first."""
    return [parent.add_leaf(line, data=data) for line in wrap_label(label, width)]
