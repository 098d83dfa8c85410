"""Exports an analyst hands on: the filtered view, a correlation tree, the marked events.

Every export writes every row and returns how many (the UI and CLI say "wrote N rows to
PATH": nothing is truncated silently), refuses to overwrite an existing file unless asked
(`FileExistsError` with a message saying how), and is written atomically: the target path
either does not exist yet or holds the complete export, never half of one.

The row formats (CSV, JSON lines, Markdown) live here and `cli.cmd_query` uses them, so `query --format` and
`export` produce the same shape.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import io
import json
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.model.data_names import EXPORT_REPEATS_KEY, EXPORT_SYSTEM_KEYS, data_object, repeats_of
from core.model.event import iso_from_filetime
from core.model.summary import summarize
from core.model.text import json_safe, md_code, md_text, one_line, printable
from core.query.sort import Sort, iter_sorted
from core.query.view import View
from core.report.case import Case
from core.store.filter import Filter
from core.store.store import Store, StoredEvent
from core.store.tempfiles import sweep, temp_file

VIEW_FORMATS = ("csv", "jsonl", "md")
TREE_FORMATS = ("md", "json")
EXTENSIONS = {"csv": ".csv", "jsonl": ".jsonl", "md": ".md", "json": ".json"}


class TreeNode(Protocol):
    """What `core.correlate.links.Node` trees look like to an export (`Node(label, confidence,
    store_id, children)`; `store_id` is the store row id of the evidence event, or None)."""

    @property
    def label(self) -> str: ...

    @property
    def confidence(self) -> Any: ...

    @property
    def store_id(self) -> int | None: ...

    @property
    def children(self) -> Sequence[Any]: ...


# -- writing files safely -----------------------------------------------------------------------


def exists_message(path: Path) -> str:
    return f"{path} exists; not overwriting it (use --force, or press f in the app, to replace it)"


def _special(path: Path) -> str | None:
    """What special file `path` names once its links are followed ("pipe", "character
    device", "block device", "socket"), or None (a regular file, a directory, nothing)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    for test, kind in ((stat.S_ISFIFO, "pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return None


def check_target(path: Path, overwrite: bool) -> None:
    """Fail early (before any work) when the target exists and may not be replaced. A pipe or a
    character device (`/dev/null`, a named pipe) is written into, never replaced: nothing to
    overwrite; a block device or a socket is refused (a typo for a disk must not write on it)."""
    kind = _special(path)
    if kind in ("block device", "socket"):
        raise OSError(errno.EINVAL, f"{path} is a {kind}; an export is not written into one", str(path))
    if kind == "character device":
        _refuse_terminal(path)
    if kind is not None:
        return
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, exists_message(path), str(path))


def _refuse_terminal(path: Path) -> None:
    """Refuse a terminal's device (another terminal than this one: `-o -` is for this one)
    before the load, as `_write_into` does after it: opened without waiting, never made this
    process's controlling terminal, closed at once."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return  # said by `_write_into`, when the export is written
    try:
        if os.isatty(fd):
            raise _terminal(path)
    finally:
        os.close(fd)


def _terminal(path: Path) -> OSError:
    return OSError(errno.EINVAL, f"{path} is a terminal; an export is not written to one "
                   "(`-o -` prints it there, escaped)", str(path))


def _write_into(path: Path, fill: Callable[[Any], int]) -> int:
    """`fill` a pipe or character device in place. Opened without waiting (a pipe nobody reads
    is an error, not a hang); a terminal is refused: an export's exact data would reach it
    unescaped (`evtx-explorer export -o -` prints it escaped)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, f"{path} is a pipe nobody reads", str(path)) from None
        raise
    try:
        if os.isatty(fd):
            raise _terminal(path)
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        return fill(fh)


def write_atomically(path: str | Path, fill: Callable[[Any], int], *, overwrite: bool = False) -> int:
    """Write a text file by calling `fill(fh) -> count` on a temp file beside `path`, then
    move it into place: `os.replace` when overwriting, else a hard link, which fails when
    the target appeared meanwhile (no race between the check and the write). A pipe or a
    character device is written into (`_write_into`); a link to a file replaces the file
    (the link stays: `/dev/stdout`, a link, was replaced by the export when overwriting)."""
    target = Path(path)
    check_target(target, overwrite)
    if _special(target) is not None:
        return _write_into(target, fill)
    if overwrite and target.is_symlink() and target.is_file():
        target = Path(os.path.realpath(target))
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"directory {directory} does not exist", str(directory))
    sweep(directory, target.name)  # left by an export killed half-way
    fd, tmp = temp_file(directory, target.name, ".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            count = fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, exists_message(target), str(target)) from None
            except OSError:
                # No hard links on this filesystem: check again and rename.
                check_target(target, overwrite)
                os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- the filtered view --------------------------------------------------------------------------


def event_document(store_paths: dict[int, str], se: StoredEvent) -> dict[str, Any]:
    """One event as the JSON-lines output shape, read back as the same event (an export reopened:
    `parsers.json_layouts`, "this tool's own" layout, names the keys): every System field the
    model holds (null when unknown), `data` an object keeping every value of a repeated name
    (`core.model.data_names` numbers a repeat) and `data_repeats` naming the numbered names that
    are repeats (`{"S[2]": "S"}`: else a reopened export held `S[2]` where the log held `S`,
    and none can tell it from a field named `S[2]`). CSV and Markdown take only their columns."""
    ev = se.event
    data = data_object(ev.data)
    doc: dict[str, Any] = {"file": store_paths.get(ev.source, ""), "record_id": ev.record_id,
                           "time": iso_from_filetime(ev.filetime), "event_id": ev.event_id, "computer": ev.computer,
                           "channel": ev.channel, "provider": ev.provider}
    doc.update((name, getattr(ev, name)) for name in EXPORT_SYSTEM_KEYS)
    doc["data"] = data
    repeats = repeats_of(ev.data, data)
    if repeats:
        doc[EXPORT_REPEATS_KEY] = repeats
    return doc


#: What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): these first, or
#: after leading blanks (spreadsheets trim a leading space, tab or line break before parsing).
_FORMULA_START = ("=", "+", "-", "@")
_BLANKS = " \t\r\n"
#: The CSV columns holding text a log (or a file name) decides; the others are numbers, our ISO
#: time, or the data column (a JSON object: starts with `{`).
CSV_TEXT_COLUMNS = ("file", "computer", "channel", "provider")


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: the file name, computer, channel and provider come from the
    log or its name, which an attacker may have written (`=HYPERLINK(...)` as a computer name, or ` =...`
    with a leading space), so a cell a spreadsheet would run as a formula gets a leading apostrophe. Event
    data needs none: it is one JSON object per row, which starts with `{` and keeps every value exact. A
    name's byte that is not UTF-8 (a lone surrogate: the file is UTF-8) is `\\udcfe`, as in JSON lines."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "'" + text if text.startswith(("\t", "\r")) or text.lstrip(_BLANKS).startswith(_FORMULA_START) else text


def write_rows(store: Store, rows: Iterable[StoredEvent], fmt: str, out: Any) -> int:
    """Write events in `fmt`; returns how many were written (exports never truncate silently)."""
    paths = {s.id: s.path for s in store.sources()}
    n = 0
    if fmt == "jsonl":
        for se in rows:
            out.write(json_safe(json.dumps(event_document(paths, se), ensure_ascii=False)) + "\n")
            n += 1
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(["file", "record_id", "time", "event_id", "computer", "channel", "provider", "data"])
        for se in rows:
            d = event_document(paths, se)
            texts = [csv_cell(d[k] or "") for k in CSV_TEXT_COLUMNS]
            writer.writerow([texts[0], d["record_id"], d["time"], d["event_id"], *texts[1:],
                             json_safe(json.dumps(d["data"], ensure_ascii=False))])
            n += 1
    elif fmt == "md":
        out.write("| time | record | EventID | computer | data |\n|---|---|---|---|---|\n")
        for se in rows:
            d = event_document(paths, se)
            cells = [d["time"] or "", str(d["record_id"]), str(d["event_id"]), d["computer"],
                     "; ".join(f"{k}={v}" for k, v in d["data"].items())]
            out.write("| " + " | ".join(md_text(c) for c in cells) + " |\n")
            n += 1
    else:
        for se in rows:
            d = event_document(paths, se)
            summary = " ".join(f"{k}={v}" for k, v in d["data"].items())
            out.write(
                f"{d['time'] or '-':28} {d['record_id']:>8} {d['event_id']:>5} {one_line(d['computer'], 24):24} "
                f"{one_line(summary, 120)}\n"
            )
            n += 1
    return n


def write_view(store: Store, which: Filter, fmt: str, out: Any, sort: Sort | None = None) -> int:
    """Write every event `which` keeps (the view's filter, from `core.query.compile`) in the
    event table's order: time order, or the table's column sort (`sort`), so that an export
    lists "what I see" in the order the analyst chose. Returns the count."""
    if fmt not in VIEW_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose {', '.join(VIEW_FORMATS)})")
    rows = store.iter_events(which) if sort is None else iter_sorted(store, View(which), sort)
    return write_rows(store, rows, fmt, out)


def export_view(
    store: Store, which: Filter, fmt: str, path: str | Path, *, overwrite: bool = False, sort: Sort | None = None
) -> int:
    """Export the view to `path` (in `sort` order, else time order); returns the number of rows written."""
    if fmt not in VIEW_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose {', '.join(VIEW_FORMATS)})")
    return write_atomically(path, lambda fh: write_view(store, which, fmt, fh, sort), overwrite=overwrite)


# -- correlation trees --------------------------------------------------------------------------


def _confidence(value: Any) -> str:
    inner = getattr(value, "value", value)
    return "" if inner is None else str(inner)


def _evidence(store: Store | None, store_id: int | None) -> StoredEvent | None:
    if store is None or store_id is None:
        return None
    return store.get(store_id)


def tree_to_dict(node: TreeNode, store: Store | None = None, *, _depth: int = 0) -> dict[str, Any]:
    """A tree as plain JSON-able data; with a store, each node names its evidence record."""
    ev = _evidence(store, node.store_id)
    doc: dict[str, Any] = {"label": node.label, "confidence": _confidence(node.confidence), "store_id": node.store_id}
    if ev is not None:
        doc["record_id"] = ev.event.record_id
        doc["event_id"] = ev.event.event_id
        doc["time"] = iso_from_filetime(ev.event.filetime)
        doc["computer"] = ev.event.computer
    if _depth < 200:
        doc["children"] = [tree_to_dict(c, store, _depth=_depth + 1) for c in node.children]
    return doc


def count_nodes(node: TreeNode, _depth: int = 0) -> int:
    if _depth >= 200:
        return 1
    return 1 + sum(count_nodes(c, _depth + 1) for c in node.children)


def tree_lines(node: TreeNode, store: Store | None = None, *, markdown: bool = True) -> list[str]:
    """A tree as a nested list: label, confidence and the evidence's record id and EventID.
    Labels hold event data (attacker-controlled): control characters are escaped."""
    lines: list[str] = []

    def walk(n: TreeNode, depth: int) -> None:
        ev = _evidence(store, n.store_id)
        parts = [md_text(str(n.label)) if markdown else printable(str(n.label))]
        conf = _confidence(n.confidence)
        if conf:
            parts.append(f"*{conf}*" if markdown else f"[{conf}]")
        if ev is not None:
            parts.append(
                f"(record {ev.event.record_id}, EventID {ev.event.event_id}, "
                f"{iso_from_filetime(ev.event.filetime) or 'no time'})"
            )
        elif n.store_id is not None:
            parts.append(f"(event #{n.store_id})")
        bullet = "- " if markdown else ""
        lines.append("  " * depth + bullet + " ".join(parts))
        if depth < 200:
            for c in n.children:
                walk(c, depth + 1)

    walk(node, 0)
    return lines


def tree_to_markdown(node: TreeNode, store: Store | None = None, title: str | None = None) -> str:
    head = [f"# {md_text(title)}", ""] if title else []
    return "\n".join([*head, *tree_lines(node, store)]) + "\n"


def tree_to_text(node: TreeNode, store: Store | None = None) -> str:
    """The tree as indented plain text (for the clipboard)."""
    return "\n".join(tree_lines(node, store, markdown=False)) + "\n"


def export_tree(
    node: TreeNode, fmt: str, path: str | Path, store: Store | None = None, *, overwrite: bool = False
) -> int:
    """Write a correlation tree as Markdown or JSON; returns the number of nodes written."""
    if fmt not in TREE_FORMATS:
        raise ValueError(f"unknown tree format {fmt!r} (choose {', '.join(TREE_FORMATS)})")

    def fill(fh: Any) -> int:
        if fmt == "md":
            fh.write(tree_to_markdown(node, store))
        else:
            fh.write(json_safe(json.dumps(tree_to_dict(node, store), ensure_ascii=False, indent=2)) + "\n")
        return count_nodes(node)

    return write_atomically(path, fill, overwrite=overwrite)


# -- the marks report ---------------------------------------------------------------------------


def _md_cell(value: str) -> str:
    """A table cell that renders as exactly its text (no link, image, HTML or extra column)."""
    return md_text(value)


def _quote(text: str) -> list[str]:
    return ["> " + printable(line) if line else ">" for line in text.splitlines()] or [">"]


def marks_report(case: Case, store: Store) -> tuple[str, int]:
    """The marked events with their notes as Markdown an analyst can paste into a ticket.
    Returns (text, number of marks). Marks whose event is not in these inputs are listed too,
    from what the mark remembers, and said to be missing."""
    resolved = case.resolve(store)
    by_key = {m.key: store_id for store_id, m in resolved.items()}
    marks = case.marks()
    sources = store.sources()
    first, last = store.time_range()
    lines = ["# evtx-explorer case report", ""]
    lines.append(f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M:%SZ')}.")
    lines.append("")
    lines.append("## Inputs")
    lines.append("")
    for s in sources:
        status = f"{s.records} events" + (f", {s.parse_issues} parse issues" if s.parse_issues else "")
        if s.error:
            status += f"; error: {s.error}"
        lines.append(f"- {md_code(s.path)} ({md_text(status)})")
    lines.append("")
    lines.append(f"Time range of the inputs: {iso_from_filetime(first) or '?'} to {iso_from_filetime(last) or '?'}")
    times = [m.filetime for m in marks if m.filetime is not None]
    if times:
        lines.append(f"Time range of the marks: {iso_from_filetime(min(times))} to {iso_from_filetime(max(times))}")
    lines.append("")
    lines.append(f"## Marked events ({len(marks)})")
    lines.append("")
    if marks:
        lines.append("| # | time (UTC) | host | EventID | record | summary |")
        lines.append("|---|---|---|---|---|---|")
        details: list[str] = []
        for i, m in enumerate(marks, 1):
            store_id = by_key.get(m.key)
            se = store.get(store_id) if store_id is not None else None
            summary = summarize(se.event) if se is not None else "(not found in these inputs)"
            cells = [
                str(i),
                iso_from_filetime(m.filetime) or "-",
                m.computer,
                str(m.event_id),
                str(m.record_id) if m.record_id is not None else "-",
                summary,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
            details.append(f"### {i}. EventID {m.event_id} on {md_text(m.computer)}, record {m.record_id}")
            details.append("")
            details.append(f"- time: {iso_from_filetime(m.filetime) or '-'}")
            details.append(f"- source: {md_code(m.source_path)}")
            details.append(f"- summary: {md_text(summary)}")
            if m.note:
                details.append("- note:")
                details.append("")
                details.extend(_quote(m.note))
            details.append("")
        lines.append("")
        lines.extend(details)
    else:
        lines.append("No marked events.")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n", len(marks)


def export_marks(case: Case, store: Store, path: str | Path, *, overwrite: bool = False) -> int:
    """Write the marks report to `path`; returns the number of marks in it."""
    check_target(Path(path), overwrite)
    text, n = marks_report(case, store)

    def fill(fh: Any) -> int:
        fh.write(text)
        return n

    return write_atomically(path, fill, overwrite=overwrite)


# -- copying an event as text -------------------------------------------------------------------


def event_text(se: StoredEvent, source_path: str = "") -> str:
    """An event as readable text (System fields, then EventData), control characters escaped
    so a paste cannot drive a terminal."""
    ev = se.event
    system: list[tuple[str, object]] = [
        ("TimeCreated", iso_from_filetime(ev.filetime) or "-"),
        ("EventID", ev.event_id),
        ("EventRecordID", ev.record_id),
        ("Computer", ev.computer),
        ("Channel", ev.channel),
        ("Provider", ev.provider),
        ("Level", ev.level),
        ("Task", ev.task),
        ("Opcode", ev.opcode),
        ("Keywords", ev.keywords),
        ("ProcessID", ev.pid),
        ("ThreadID", ev.tid),
        ("UserID", ev.user_sid),
    ]
    if source_path:
        system.append(("Source", source_path))
    out = io.StringIO()
    out.write(f"Event {ev.event_id} (record {ev.record_id}) on {printable(ev.computer)}\n")
    out.write("System:\n")
    for name, value in system:
        if value is None or value == "":
            continue
        out.write(f"  {name}: {printable(str(value))}\n")
    if ev.data:
        out.write("EventData:\n")
        for name, value in ev.data:
            out.write(f"  {printable(name)}: {printable(value)}\n")
    return out.getvalue()


def default_name(kind: str, fmt: str, when: _dt.datetime | None = None) -> str:
    """A file name that does not collide between exports made a second apart."""
    stamp = (when or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"evtx-{kind}-{stamp}{EXTENSIONS.get(fmt, '.' + fmt)}"
