"""The Event XML loader: Event Viewer's "Save as XML", `wevtutil qe /f:xml`, a single `<Event>`.

(About 600 lines: the scanner (comments, CDATA and PIs inside an event skipped), the retries
and the raw-text lookup count the same fragments; split, each would repeat how the others count.)

Those three layouts differ in what surrounds the events: an `<Events>` root, no root at all
(wevtutil concatenates `<Event>` elements, so the file is not well-formed XML), or the event
itself as the root; possibly a BOM (wevtutil writes UTF-16), an XML declaration, and
`<RenderingInfo>` inside each event. So instead of parsing the file as one document, a small
scanner cuts the decoded text into one fragment per `<Event>...</Event>` and lxml parses each
fragment on its own. That gives us, at once:

* streaming with bounded memory (the scanner holds at most one chunk plus one event, and an
  event larger than `MAX_EVENT_CHARS` is skipped and reported, never buffered whole);
* a malformed or truncated event costs only itself: it becomes a ParseIssue whose `offset` is
  its 1-based position, and the scan goes on with the next `<Event`;
* hostile XML cannot expand: a `<!DOCTYPE>` is skipped by the scanner and never reaches lxml
  (reported once as a ParseIssue), so its entities are never defined, an event that uses one
  (`&xxe;`, `&lol9;`) fails to parse and is reported, and the parser itself has entity
  resolution, DTD loading and network access off (`parsers.xml_to_event.safe_parser`).

Elements nested past lxml's depth limit (256, "Excessive depth"; XML_PARSE_HUGE stays off)
cost only the field holding them: the event is parsed again with that content replaced by a
stand-in that says so, and a parse issue names the field (`parsers.xml_depth`).

Control characters: XML 1.0 forbids most C0 characters even as character references, yet
Windows renders attacker-supplied strings (command lines) that hold them (ESC, BEL), and
exports contain them raw or as `&#x1b;`. lxml rightly rejects such an event; we then retry it
once with every forbidden C0 character (raw or referenced) swapped for a private-use stand-in
and swap them back in the decoded values, so the event loads with its real characters (NUL
becomes U+FFFD). Rendering them safely is the UI's job.

Positions (`record_number`, `locator`, ParseIssue `offset`) count every `<Event>` fragment
met, good or bad, from 1, so `event_xml(path, locator)` finds the same fragment again.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Generator, Iterator
from typing import NamedTuple

from lxml import etree

from core.model.event import Event, InputError, ParseIssue
from parsers.textio import UNDECODABLE, decoded_chunks, open_input, read_chunks
from parsers.xml_depth import LXML_TOO_DEEP, MAX_DEPTH, cut_deep
from parsers.xml_to_event import event_from_element, safe_parser

#: Largest single event we buffer (characters). Real events are a few KiB; 8 Mi characters is
#: far beyond any legitimate one and bounds what a hostile file can make us hold.
MAX_EVENT_CHARS = 8 * 1024 * 1024

_NAME_PREFIX = r"(?:[A-Za-z_][\w.\-]{0,31}:)?"
_EVENT_OPEN = re.compile(r"<" + _NAME_PREFIX + r"Event(?=[\s/>])")
_EVENT_EDGE = re.compile(r"<(/?)" + _NAME_PREFIX + r"Event(?=[\s/>])")
#: Inside an event: an `<Event>`/`</Event>` edge (group 1: the `/`), or the opener of a construct
#: whose text is not markup (group 2: a comment, CDATA section or PI, stepped over whole).
_EVENT_BODY = re.compile(r"<(?:(/?)" + _NAME_PREFIX + r"Event(?=[\s/>])|(!--|!\[CDATA\[|\?))")
_OPAQUE_END = {"!--": "-->", "![CDATA[": "]]>", "?": "?>"}
#: In a start tag: its end, or a quote that opens an attribute value (which may hold `>`).
_TAG_TOKEN = re.compile(r"[\"'>]")
_VALUE_END = {'"': re.compile('["<]'), "'": re.compile("['<]")}
#: A run of complete tags that are no `<Event` (or `<Events`) opener, comment, CDATA, PI or declaration, with
#: the text between them: stepped over in one regex step (each would be a "tag" construct);
#: possessive, so a run of a million keeps no backtracking state.
_TAG_RUN = re.compile(r"(?:<(?![!?]|" + _NAME_PREFIX + r"Events?(?=[\s/>]))[^<>]*>[^<]*)++")
_ROOT_OPEN = re.compile(r"<" + _NAME_PREFIX + r"Events(?=[\s/>])")
_DECL_END = re.compile(r"[\[>]")
_SUBSET_END = re.compile(r"\]\s*>")
#: How far back a regex search restarts after more text arrives (a token split by a chunk end).
_OVERLAP = 64
#: Kinds of construct that never hold an event (comments, PIs and CDATA may: commented out).
_NO_EVENT_INSIDE = frozenset({"tag", "decl", "subset"})
#: Per kind of construct, a lookahead (after its `<`) that says the text opens one of that kind.
#: `<Event` and `<!DOCTYPE` openers belong to no kind: they yield fragments, never skipped.
_KIND_OPENERS = {
    "tag": r"(?![!?]|" + _NAME_PREFIX + r"Event(?=[\s/>]))",
    "comment": r"!--",
    "cdata": r"!\[CDATA\[",
    "pi": r"\?",
    "decl": r"!(?!--|\[CDATA\[|[Dd][Oo][Cc][Tt][Yy][Pp][Ee])",
    "subset": r"!\[(?!CDATA\[)",
}


@functools.lru_cache(maxsize=64)
def _skip_pattern(kinds: frozenset[str]) -> re.Pattern[str]:
    """The next `<` that opens none of these kinds of construct."""
    return re.compile("<(?!" + "|".join(f"(?:{_KIND_OPENERS[k]})" for k in sorted(kinds)) + ")")


_MASK_BASE = 0x10FF00  # Supplementary Private Use Area-B: never meaningful in event data.
#: Stand-in (`_MASK_BASE + 0x20`) for a character no XML can carry and no string should (NUL, a
#: lone UTF-16 surrogate, U+FFFE/U+FFFF, beyond U+10FFFF; undecodable bytes are decoded to it):
#: it becomes U+FFFD and is reported.
_BAD = UNDECODABLE
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,16}));")
_CTRL_RAW = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_UNMASK = {_MASK_BASE + n: chr(n) for n in range(1, 32)}
_UNMASK[_MASK_BASE + 0x20] = "\ufffd"


def _masked_char(n: int) -> str | None:
    """The stand-in for code point `n`, or None when XML takes it as it is."""
    if n == 0 or 0xD800 <= n <= 0xDFFF or n in (0xFFFE, 0xFFFF) or n > 0x10FFFF:
        return _BAD
    if n < 0x20 and n not in (0x09, 0x0A, 0x0D):
        return chr(_MASK_BASE + n)
    return None


class Fragment(NamedTuple):
    """One thing the scanner found: `kind` is `event` (complete `<Event>` text), `truncated`
    (an event cut short by the end of input or by the next `<Event`), `oversize` (an event over
    `MAX_EVENT_CHARS`, text dropped) or `doctype` (a document type declaration, skipped)."""

    kind: str
    text: str


class _Buffer:
    """Decoded text with a moving anchor `pos`; indexes handed out are relative to `pos`, so
    dropping consumed text on refill is invisible to callers.

    Every search remembers how far it found no match (`_clear`, absolute offsets), and a later
    search for the same needle from inside that stretch starts at its end. Without it each
    `<` of a hostile file (`<<<<`, `<!--<!--`, `<?<?` with no terminator) rescanned up to
    `limit` characters: 8.5 MB of `<` took 51 s. With it every character is scanned a bounded
    number of times, whatever the input."""

    def __init__(self, chunks: Iterator[str], limit: int) -> None:
        self.chunks = chunks
        self.limit = limit
        self.buf = ""
        self.pos = 0
        self.base = 0  # absolute offset of buf[0] in the decoded text
        self.eof = False
        self._clear: dict[object, tuple[int, int]] = {}

    def fill(self) -> bool:
        """Append the next chunk (dropping text before `pos`); False at end of input."""
        if self.eof:
            return False
        for text in self.chunks:
            self.buf = self.buf[self.pos :] + text
            self.base += self.pos
            self.pos = 0
            return True
        self.eof = True
        return False

    def avail(self) -> int:
        return len(self.buf) - self.pos

    def ensure(self, n: int) -> None:
        """Make at least `n` characters available after `pos` unless the input ends."""
        while self.avail() < n and self.fill():
            pass

    def _resume(self, key: object, first: int) -> int:
        """Absolute offset to search `key` from, for a search asked from `first`."""
        known = self._clear.get(key)
        if known is not None and known[0] <= first < known[1]:
            return known[1]
        return first

    def find(self, needle: str, start: int) -> int:
        """Relative index of `needle` at or after `start`; -1 at end of input, -2 when the
        construct at `pos` grows past the limit first."""
        first = self.base + self.pos + start
        at = self._resume(needle, first)
        while True:
            j = self.buf.find(needle, at - self.base)
            if j >= 0:
                self._clear[needle] = (first, self.base + j)
                return j - self.pos
            at = max(at, self.base + len(self.buf) - len(needle) + 1)
            self._clear[needle] = (first, at)
            if self.avail() > self.limit:
                return -2
            if not self.fill():
                return -1

    def search(self, pattern: re.Pattern[str], start: int) -> re.Match[str] | int:
        """Like `find` for a regex; returns the match (absolute indexes into `buf`, valid
        until the next fill) or -1 / -2. A match may need text past the end of `buf`, so a
        failed search is only known clear up to `_OVERLAP` characters before that end."""
        first = self.base + self.pos + start
        at = self._resume(pattern, first)
        while True:
            m = pattern.search(self.buf, at - self.base)
            if m is not None:
                self._clear[pattern] = (first, self.base + m.start())
                return m
            at = max(at, self.base + len(self.buf) - _OVERLAP)
            self._clear[pattern] = (first, at)
            if self.avail() > self.limit:
                return -2
            if not self.fill():
                return -1


class _Scan:
    """State the caller reads after the scan: did the text look like an event log at all?"""

    def __init__(self) -> None:
        self.saw_root = False
        self.fragments = 0


def iter_fragments(chunks: Iterator[str], limit: int | None = None, scan: _Scan | None = None) -> Iterator[Fragment]:
    """Cut decoded text into `<Event>` fragments, skipping everything between them
    (declarations, comments, the `<Events>` root, whitespace). `limit` defaults to
    `MAX_EVENT_CHARS`.

    A construct with no terminator within `limit` is stepped over by one character and the
    scan goes on (an event after a stray `<` still loads). Every opener of the same kind in the
    stretch already known to lack that terminator would end the same way, so they are skipped
    in one regex step (`_SKIP_SAME`) instead of one Python iteration each."""
    scan = scan if scan is not None else _Scan()
    b = _Buffer(chunks, limit if limit is not None else MAX_EVENT_CHARS)
    dead: dict[str, int] = {}  # kind -> absolute offset before which its openers dead-end
    while True:
        if dead:
            _skip_dead(b, dead)
        j = b.buf.find("<", b.pos)
        if j < 0:
            b.pos = len(b.buf)
            if not b.fill():
                return
            continue
        b.pos = j
        b.ensure(24)
        buf, p = b.buf, b.pos
        if _EVENT_OPEN.match(buf, p):
            scan.fragments += 1
            yield _event_fragment(b)
            continue
        if buf.startswith("<!--", p):
            end, skip, kind = b.find("-->", 4), 3, "comment"
        elif buf.startswith("<![CDATA[", p):
            end, skip, kind = b.find("]]>", 9), 3, "cdata"
        elif buf.startswith("<!", p):
            if buf[p : p + 9].upper() == "<!DOCTYPE":
                yield Fragment("doctype", "")
            (end, kind), skip = _declaration_end(b), 0
        elif buf.startswith("<?", p):
            end, skip, kind = b.find("?>", 2), 2, "pi"
        else:
            if _ROOT_OPEN.match(buf, p):
                scan.saw_root = True
            else:
                run = _TAG_RUN.match(buf, p)
                if run is not None:  # (an oversize event's inside: 10 MB of `<x>` took 12 s a tag at a time)
                    b.pos = run.end()
                    continue
            end, skip, kind = b.find(">", 1), 1, "tag"
        if end >= 0 and kind in _NO_EVENT_INSIDE:
            # A stray `<` or `<!` must not swallow the `<Event ...>` its search for `>` ran into.
            m = _EVENT_OPEN.search(b.buf, b.pos + 1, b.pos + end + skip + 1)
            if m is not None:
                b.pos = m.start()
                continue
        if end == -1:
            return
        if end == -2:
            # Unterminated within the limit: step over one character. Openers of the same kind
            # before `bufend - limit` meet the same cached dead end without reading more (see
            # _Buffer.find), so `_skip_dead` steps over them all at once.
            b.pos += 1
            dead[kind] = b.base + len(b.buf) - b.limit - 1
        else:
            b.pos += end + skip


def _skip_dead(b: _Buffer, dead: dict[str, int]) -> None:
    """Move `b.pos` past every opener of a dead-ended kind (see `iter_fragments`)."""
    here = b.base + b.pos
    for kind in [k for k, stop in dead.items() if stop <= here]:
        del dead[kind]
    if not dead:
        return
    stop = min(dead.values()) - b.base
    m = _skip_pattern(frozenset(dead)).search(b.buf, b.pos, stop + _OVERLAP)
    b.pos = m.start() if m is not None and m.start() < stop else stop


def _declaration_end(b: _Buffer) -> tuple[int, str]:
    """(relative index just past a `<!...>` declaration, internal subset `[...]` included;
    which dead end it met when it returns -2: no `[` or `>`, or no `]>` after a `[`)."""
    m = b.search(_DECL_END, 2)
    if isinstance(m, int):
        return m, "decl"
    if m.group() == ">":
        return m.end() - b.pos, "decl"
    m2 = b.search(_SUBSET_END, m.end() - b.pos)
    if isinstance(m2, int):
        return m2, "subset"
    return m2.end() - b.pos, "subset"


def _tag_end(b: _Buffer, start: int) -> int:
    """Relative index of the `>` that ends the start tag at `b.pos`, looking from `start`: a
    `>` inside a quoted attribute value (`<Event q="/>">`) does not end it. -1 / -2 as `find`.
    Every step searches forward from the last, so the tag's text is read once."""
    at = start
    while True:
        m = b.search(_TAG_TOKEN, at)
        if isinstance(m, int):
            return m
        if m.group() == ">":
            return m.start() - b.pos
        q = b.search(_VALUE_END[m.group()], m.end() - b.pos)  # the value's closing quote
        if isinstance(q, int):
            return q
        if q.group() == "<":  # no value holds `<`: a stray quote; the first `>` ends the tag
            return b.find(">", start)
        at = q.end() - b.pos


def _event_fragment(b: _Buffer) -> Fragment:
    """The fragment of the event starting at `b.pos`; advances `b.pos` past it. Comments, CDATA
    sections and processing instructions inside the event are stepped over whole: an `<Event>`
    or `</Event>` written in one is text, not an edge (it once cost that event and the next)."""
    gt = _tag_end(b, 1)
    if gt == -2:
        b.pos += 1
        return Fragment("oversize", "")
    if gt == -1:
        text = b.buf[b.pos :]
        b.pos = len(b.buf)
        return Fragment("truncated", text)
    if b.buf[b.pos + gt - 1] == "/":  # <Event .../>
        text = b.buf[b.pos : b.pos + gt + 1]
        b.pos += gt + 1
        return Fragment("event", text)
    at = gt + 1
    while True:
        m = b.search(_EVENT_BODY, at)
        if isinstance(m, int):
            break
        opaque = m.group(2)
        if opaque is None:
            break
        end = b.find(_OPAQUE_END[opaque], m.end() - b.pos)
        if end < 0:
            m = end
            break
        at = end + len(_OPAQUE_END[opaque])
    if m == -2:
        b.pos += 1
        return Fragment("oversize", "")
    if m == -1:
        text = b.buf[b.pos :]
        b.pos = len(b.buf)
        return Fragment("truncated", text)
    assert isinstance(m, re.Match)
    start = m.start() - b.pos
    if m.group(1) != "/":  # the next <Event> opens before this one closed
        text = b.buf[b.pos : b.pos + start]
        b.pos += start
        return Fragment("truncated", text)
    close = b.find(">", m.end() - b.pos)
    if close < 0:
        text = b.buf[b.pos :] if close == -1 else ""
        b.pos = len(b.buf) if close == -1 else b.pos + 1
        return Fragment("truncated" if close == -1 else "oversize", text)
    text = b.buf[b.pos : b.pos + close + 1]
    b.pos += close + 1
    return Fragment("event", text)


#: A character XML 1.0 forbids, as a reference or raw (`masked_spellings`).
_FORBIDDEN = re.compile(_CHAR_REF.pattern + "|" + _CTRL_RAW.pattern)
#: The stand-ins `_masked_char` gives.
STAND_INS = re.compile("[\U0010ff01-\U0010ff20]")


def masked_spellings(text: str) -> tuple[str, list[str]] | None:
    """`text` with each character XML 1.0 forbids (raw or as a reference) swapped for its
    stand-in, and the spellings swapped, in order (to put them back exactly after a parse:
    `parsers.xml_indent`); None when it holds none, or already holds a stand-in."""
    if STAND_INS.search(text):
        return None
    spellings: list[str] = []

    def swap(m: re.Match[str]) -> str:
        if m.group(0).startswith("&"):
            n = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        else:
            n = ord(m.group(0))
        stand_in = _masked_char(n)
        if stand_in is None:
            return m.group(0)
        spellings.append(m.group(0))
        return stand_in

    out = _FORBIDDEN.sub(swap, text)
    return (out, spellings) if spellings else None


def _mask_controls(text: str) -> str | None:
    """`text` with the characters XML 1.0 forbids (raw or as references) swapped for
    private-use stand-ins, or None when it holds none (then the parse error has another cause)."""

    def ref(m: re.Match[str]) -> str:
        n = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return _masked_char(n) or m.group(0)

    def raw(m: re.Match[str]) -> str:
        return _masked_char(ord(m.group())) or m.group()

    out = _CTRL_RAW.sub(raw, _CHAR_REF.sub(ref, text))
    return None if out == text else out


_TEXT_FIELDS = ("keywords", "channel", "provider", "computer", "user_sid")


def _unmask(event: Event) -> tuple[Event, list[str]]:
    """The event with the real characters back in every text field (System attributes such
    as `Security/@UserID` included: the store keeps exact data, display escapes it), and the
    names of the fields that held a character no string should (now U+FFFD)."""
    bad: list[str] = []
    changes: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if value is not None:
            changes[name] = value.translate(_UNMASK)
            if _BAD in value:
                bad.append(name)
    data = []
    for k, v in event.data:
        key = k.translate(_UNMASK)
        data.append((key, v.translate(_UNMASK)))
        if _BAD in k or _BAD in v:
            bad.append(key)
    return dataclasses.replace(event, data=tuple(data), **changes), list(dict.fromkeys(bad))  # type: ignore[arg-type]


def _syntax_reason(exc: Exception) -> str:
    msg = str(exc).split(" (<string>", 1)[0].replace("\n", " ")
    if "Entity '" in msg and "not defined" in msg:
        msg += " (entities are never expanded)"
    return f"invalid XML: {msg}"[:300]


def parse_fragment(
    text: str,
    parser: etree.XMLParser,
    *,
    source: int,
    path: str,
    position: int,
    label: str = "",
    replaced: list[ParseIssue] | None = None,
) -> Event | ParseIssue:
    """One `<Event>` fragment -> Event, or a ParseIssue at `position` saying why not.

    A value holding a character no string should hold costs only that character: it
    becomes U+FFFD and a ParseIssue naming the field is appended to `replaced`; so does a
    System integer too long to hold (`parsers.integers`), which is left out."""
    masked = UNDECODABLE in text  # bytes the encoding could not decode (`parsers.textio`)
    deep: list[str] = []  # fields whose elements nested too deep for lxml were cut (`xml_depth`)
    tried_mask = False
    while True:  # at most three parses: as it is, then cut, masked, in the order lxml asks
        try:
            root = etree.fromstring(text, parser)
            break
        except (etree.XMLSyntaxError, ValueError) as exc:
            if not deep and LXML_TOO_DEEP in str(exc):
                cut = cut_deep(text)
                if cut is not None:
                    text, deep = cut
                    continue
            fixed = None if tried_mask else _mask_controls(text)
            tried_mask = True
            if fixed is None:
                return ParseIssue(source, path, f"{label}event {position}: {_syntax_reason(exc)}", None, position)
            text, masked = fixed, True
    dropped: list[str] = []
    notes: list[str] = []  # (an unreadable time text, kept as a field: `parsers.time_text`)
    try:
        event = event_from_element(root, source=source, record_number=position, locator=position, dropped=dropped,
                                   notes=notes)
    except ValueError as exc:
        return ParseIssue(source, path, f"{label}event {position}: not an event: {exc}", None, position)
    event, bad = _unmask(event) if masked else (event, [])
    invalid = "invalid character (NUL, lone surrogate, non-character or undecodable bytes)"
    for names, what, outcome in ((bad, invalid, "replaced with U+FFFD"), (dropped, "integer too long", "dropped")):
        if names and replaced is not None:
            reason = f"{label}event {position}: {what} in {', '.join(names)}"
            replaced.append(ParseIssue(source, path, f"{reason[:270]}; {outcome}", None, position))
    if deep and replaced is not None:
        reason = f"{label}event {position}: value nested deeper than {MAX_DEPTH} levels in {', '.join(deep)}"
        replaced.append(ParseIssue(source, path, reason[:260] + "; not read (a stand-in says so)", None, position))
    if replaced is not None:
        replaced.extend(ParseIssue(source, path, f"{label}event {position}: {note}"[:300], None, position)
                        for note in notes)
    return event


def iter_text_events(
    chunks: Iterator[str], path: str, source: int, *, start: int = 0, label: str = "", scan: _Scan | None = None
) -> Generator[Event | ParseIssue, None, int]:
    """Events of decoded Event XML text, positions counted from `start + 1`.

    Returns the last position used, so a zip reader can continue the count in its next
    member. `label` prefixes ParseIssue reasons (the zip member's name).
    """
    parser = safe_parser()  # one per walk: lxml parsers must not be shared between threads
    position = start
    for frag in iter_fragments(chunks, scan=scan):
        if frag.kind == "doctype":
            yield ParseIssue(source, path, f"{label}DOCTYPE declaration ignored: DTDs and entities are never loaded")
            continue
        position += 1
        if frag.kind == "event":
            replaced: list[ParseIssue] = []
            item = parse_fragment(
                frag.text, parser, source=source, path=path, position=position, label=label, replaced=replaced
            )
            yield from replaced
            yield item
        elif frag.kind == "truncated":
            yield ParseIssue(source, path, f"{label}event {position}: unterminated <Event> element", None, position)
        else:
            yield ParseIssue(
                source,
                path,
                f"{label}event {position}: larger than {MAX_EVENT_CHARS} characters; skipped",
                None,
                position,
            )
    return position


def _open_checked(path: str) -> None:
    """Raise InputError (one line naming the file) unless `path` opens and is not empty."""
    try:
        with open_input(path) as fh:
            if not fh.read(1):
                raise InputError(f"{path}: empty file (no content), not an event log")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


def iter_events(path: str, source: int = 0) -> Iterator[Event | ParseIssue]:
    """Stream the events of an Event XML file (any of the three layouts).

    Raises InputError at once when the file cannot be opened or is empty, and at the end of
    the walk when the file held no `<Event>` and no `<Events>` root (it was not an event log).
    """
    _open_checked(path)
    return _iter_file(path, source)


def _iter_file(path: str, source: int) -> Iterator[Event | ParseIssue]:
    scan = _Scan()
    try:
        with open_input(path) as fh:
            chunks = decoded_chunks(read_chunks(fh), mark_undecodable=True)
            yield from iter_text_events(chunks, path, source, scan=scan)
    except OSError as exc:
        raise InputError(f"{path}: read error: {exc.strerror or exc}") from None
    if scan.fragments == 0 and not scan.saw_root:
        raise InputError(f"{path}: no <Event> element found, not an Event XML log")


def fragment_at(chunks: Iterator[str], locator: int, start: int = 0) -> tuple[str | None, int]:
    """(raw text of the fragment at position `locator`, last position seen) in decoded text
    whose positions start after `start`; the text is None when the position is not there."""
    position = start
    for frag in iter_fragments(chunks):
        if frag.kind == "doctype":
            continue
        position += 1
        if position == locator:
            if frag.kind == "oversize":
                return f"<!-- event {locator} is larger than {MAX_EVENT_CHARS} characters -->", position
            return frag.text, position
    return None, position


def event_xml(path: str, locator: int) -> str:
    """The raw XML text of the event at 1-based position `locator` (for the raw XML tab).

    Walks the file again (bounded memory); raises ValueError when there is no such event.
    """
    try:
        with open_input(path) as fh:
            text, _ = fragment_at(decoded_chunks(read_chunks(fh)), locator)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if text is None:
        raise ValueError(f"{path}: no event at position {locator}")
    return text
