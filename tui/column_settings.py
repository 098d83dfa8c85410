"""The event table's column choices (which columns, in which order, how wide, sorted by what)
and their file: pure data, no widgets, so the rules are tested without an app.

Kept per user as `columns.json` in the user config directory (`EVTX_EXPLORER_CONFIG_DIR`
overrides it, as for `rules.toml`). The file is read defensively: a damaged file gives the
defaults and a one-line notice, never a crash; unknown column names are dropped (a newer or
hand-edited file must not break the table). It is written atomically (temp file + replace).

Columns are keyed as the table keys them (`time`, `eid`, `computer`, ...); an EventData field
column is `field:` + the field's lower-cased name, as the store keeps names (`field:commandline`).
Its header is the name as the events spell it (`CommandLine`: `ColumnSettings.titles`, kept in
the file too): the picker lists the events' spellings (`core.store.field_spellings`), and a
column without one (a file from before) is spelled when a log opens (`tui.columns`).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.model.small_files import read_small
from core.query.sort import FIELD, SYSTEM_SORTS, Sort

APP_NAME = "evtx-explorer"
FILE_NAME = "columns.json"
FIELD_PREFIX = "field:"
MAX_FILE_BYTES = 256 * 1024
MAX_FIELD_COLUMNS = 32
MAX_NAME_CHARS = 128
MIN_WIDTH, MAX_WIDTH, STEP = 3, 120, 2
FIELD_WIDTH = 20


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A System column: its header, default width, alignment, and blank cells after it."""

    title: str
    width: int
    right: bool = False
    gap: int = 1


#: Every System column the table can show, in the default order.
SYSTEM_COLUMNS: dict[str, ColumnSpec] = {
    "mark": ColumnSpec("", 1, gap=0),
    "finding": ColumnSpec("", 1),
    "time": ColumnSpec("Time (UTC)", 19),
    "source": ColumnSpec("Source", 12),
    "record": ColumnSpec("Record", 7, True),
    "eid": ColumnSpec("EvID", 5, True),
    "computer": ColumnSpec("Computer", 14),
    "user": ColumnSpec("User", 12),
    "image": ColumnSpec("Image", 14),
    "summary": ColumnSpec("Summary", 0),
    "channel": ColumnSpec("Channel", 16),
    "provider": ColumnSpec("Provider", 20),
    "level": ColumnSpec("Level", 5, True),
}
#: What the columns dialog calls them (the marker columns have no header).
LABELS = {"mark": "Mark (*)", "finding": "Finding (! + .)", "time": "Time", "eid": "EventID"}
DEFAULT_ORDER = tuple(SYSTEM_COLUMNS)
DEFAULT_HIDDEN = frozenset({"channel", "provider", "level"})


def field_key(name: str) -> str:
    return FIELD_PREFIX + name.lower()


def field_of(key: str) -> str | None:
    """The EventData field a column key names, or None for a System column."""
    return key[len(FIELD_PREFIX):] if key.startswith(FIELD_PREFIX) else None


def label(key: str) -> str:
    """A column's name, a field column's as its key holds it (lower-cased): the table and the
    dialog say `ColumnSettings.label`, the events' spelling once known."""
    name = field_of(key)
    if name is not None:
        return name
    return LABELS.get(key, SYSTEM_COLUMNS[key].title)


def default_width(key: str, wide: bool = False) -> int:
    if key == "time":
        return 23 if wide else 19
    return FIELD_WIDTH if field_of(key) is not None else SYSTEM_COLUMNS[key].width


def _valid_field(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS and name.isprintable()
            and name == name.strip())


def _spelling(key: str, name: object) -> bool:
    """Whether `name` is a spelling of field column `key`'s name (a usable field name)."""
    return _valid_field(name) and isinstance(name, str) and FIELD_PREFIX + name.lower() == key


def _known(key: object) -> bool:
    """A column key this version knows (an EventData field column: any sane field name)."""
    return isinstance(key, str) and (key in SYSTEM_COLUMNS or (
        key.startswith(FIELD_PREFIX) and _valid_field(key[len(FIELD_PREFIX):])))


def sort_of(key: str, descending: bool) -> Sort | None:
    """The store's sort for column `key`, or None when the column is computed per event in
    Python (User, Image, Summary, the markers): no SQL can order a million events by it."""
    name = field_of(key)
    if name is not None:
        return Sort(FIELD, name, descending)
    return Sort(key, None, descending) if key in SYSTEM_SORTS else None


@dataclass
class ColumnSettings:
    """The user's choices; `widths` holds only the widths the user changed."""

    order: list[str] = field(default_factory=lambda: list(DEFAULT_ORDER))
    hidden: set[str] = field(default_factory=lambda: set(DEFAULT_HIDDEN))
    widths: dict[str, int] = field(default_factory=dict)
    sort_key: str | None = None
    descending: bool = False
    #: Field column key -> the field's name as the events spell it (`CommandLine`), once known.
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def layout_default(self) -> bool:
        """Whether the columns are the defaults (the table then lays them out exactly as it
        always has, dropping the less useful ones as the terminal narrows)."""
        return list(self.order) == list(DEFAULT_ORDER) and self.hidden == DEFAULT_HIDDEN and not self.widths

    @property
    def sort(self) -> Sort | None:
        """The store's sort; None for none and for time ascending, the table's own order."""
        if self.sort_key is None or (self.sort_key == "time" and not self.descending):
            return None
        return sort_of(self.sort_key, self.descending)

    def label(self, key: str) -> str:
        """Column `key`'s name, a field's as the events spell it once known (log text: the
        caller makes it printable)."""
        return self.titles.get(key) or label(key)

    def spell(self, key: str, name: str) -> bool:
        """Keep `name` (an event's EventData name) as field column `key`'s header; whether it
        was new. The first spelling met stays (a log holding two spellings shows one)."""
        if key in self.titles or not _spelling(key, name):
            return False
        self.titles[key] = name
        return True

    def visible(self) -> list[str]:
        return [k for k in self.order if k not in self.hidden]

    def toggle(self, key: str) -> None:
        if key in self.hidden:
            self.hidden.discard(key)
        else:
            self.hidden.add(key)

    def move(self, key: str, delta: int) -> None:
        at = self.order.index(key)
        to = max(0, min(len(self.order) - 1, at + delta))
        self.order.insert(to, self.order.pop(at))

    def resize(self, key: str, delta: int, wide: bool = False) -> int:
        """Make `key` `delta` steps wider (negative: narrower); returns the new width."""
        width = self.widths.get(key, default_width(key, wide)) + delta * STEP
        self.widths[key] = max(MIN_WIDTH, min(MAX_WIDTH, width))
        return self.widths[key]

    def add_field(self, name: str) -> str | None:
        """Show EventData field `name` as a column (before the Summary); its key, or None when
        the name is not a usable field name or too many fields are shown already."""
        key = field_key(name)
        if key not in self.order:
            if not _valid_field(name) or self.full:
                return None
            at = self.order.index("summary") if "summary" in self.order else len(self.order)
            self.order.insert(at, key)
        self.hidden.discard(key)
        self.spell(key, name)  # (as the picker lists it: the events' spelling)
        return key

    @property
    def full(self) -> bool:
        """Whether MAX_FIELD_COLUMNS field columns are there already."""
        return sum(1 for k in self.order if field_of(k) is not None) >= MAX_FIELD_COLUMNS

    def remove_field(self, key: str) -> bool:
        if field_of(key) is None or key not in self.order:
            return False
        self.order.remove(key)
        self.hidden.discard(key)
        self.widths.pop(key, None)
        self.titles.pop(key, None)
        if self.sort_key == key:
            self.sort_key = None
        return True

    def set_sort(self, key: str) -> Sort | None:
        """Sort by `key` ascending, or flip it when it is the sort already; None (and no
        change) for a column that cannot be sorted."""
        if sort_of(key, False) is None:
            return None
        if self.sort_key == key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, False
        return self.sort

    def clear_sort(self) -> None:
        self.sort_key, self.descending = None, False

    # -- the file ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        return {
            "version": 1,
            "order": list(self.order),
            "hidden": sorted(self.hidden),
            "widths": dict(self.widths),
            "sort": None if self.sort_key is None else {"column": self.sort_key, "descending": self.descending},
            "titles": {k: v for k, v in self.titles.items() if k in self.order},
        }

    @classmethod
    def from_json(cls, raw: object) -> ColumnSettings:
        """Settings from a parsed file; unknown names and bad values are dropped (ValueError
        only when the file is not a settings object at all)."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        order_raw = raw.get("order")
        order: list[str] = []
        titles: dict[str, str] = {}
        for key in order_raw if isinstance(order_raw, list) else []:
            if isinstance(key, str) and field_of(key.lower()) is not None:
                if _spelling(key.lower(), field_of(key)) and key != key.lower():
                    titles.setdefault(key.lower(), key[len(FIELD_PREFIX):])  # a hand-written `field:CommandLine`
                key = key.lower()
            if _known(key) and key not in order and len(order) < len(SYSTEM_COLUMNS) + MAX_FIELD_COLUMNS:
                order.append(key)
        # System columns the file does not name (a newer version's) go where the defaults put
        # them, shown or hidden as by default.
        unnamed = {k for k in DEFAULT_ORDER if k not in order}
        for i, key in enumerate(DEFAULT_ORDER):
            if key in unnamed:
                order.insert(min(i, len(order)), key)
        hidden_raw = raw.get("hidden")
        hidden = {k for k in hidden_raw if k in order} if isinstance(hidden_raw, list) else set(DEFAULT_HIDDEN)
        hidden |= unnamed & DEFAULT_HIDDEN
        widths_raw = raw.get("widths")
        widths = {k: max(MIN_WIDTH, min(MAX_WIDTH, v)) for k, v in widths_raw.items()
                  if k in order and type(v) is int} if isinstance(widths_raw, dict) else {}
        titles_raw = raw.get("titles")
        if isinstance(titles_raw, dict):
            titles.update({k: v for k, v in titles_raw.items() if k in order and _spelling(k, v)})
        settings = cls(order, hidden, widths, titles={k: v for k, v in titles.items() if k in order})
        sort = raw.get("sort")
        if isinstance(sort, dict) and sort.get("column") in order and sort_of(sort["column"], False) is not None:
            settings.sort_key, settings.descending = sort["column"], sort.get("descending") is True
        return settings


def config_dir() -> Path:
    """The user config dir (`EVTX_EXPLORER_CONFIG_DIR` overrides it, as for the rules file)."""
    override = os.environ.get("EVTX_EXPLORER_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def load(path: Path | None = None) -> tuple[ColumnSettings, str | None]:
    """The saved settings and a one-line notice when the file was damaged (then: defaults)."""
    path = path if path is not None else settings_path()
    try:  # (a regular file only: a named pipe there would hang the app's start)
        text = read_small(path, MAX_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        return ColumnSettings(), None
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            return ColumnSettings(), f"{FILE_NAME} is too large: default columns"
        return ColumnSettings(), f"{FILE_NAME} unreadable ({type(exc).__name__}): default columns"
    except UnicodeDecodeError as exc:
        return ColumnSettings(), f"{FILE_NAME} unreadable ({type(exc).__name__}): default columns"
    try:
        return ColumnSettings.from_json(json.loads(text)), None
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        return ColumnSettings(), f"{FILE_NAME} is damaged ({reason}): default columns"


def save(settings: ColumnSettings, path: Path | None = None) -> None:
    """Write the settings atomically (OSError when the config dir cannot be written)."""
    path = path if path is not None else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".columns-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings.to_json(), fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
