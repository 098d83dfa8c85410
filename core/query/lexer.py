"""Tokens of the filter language (see `core.query.compile` for what they mean).

The lexer is where positions are born: every token keeps the 0-based offset of its first
character, so an error anywhere later can point the filter bar's caret at the culprit.

Word rules, chosen so that Windows paths and command lines can be typed unquoted:
- whitespace separates terms; `(` opens a group only at the start of a term, and `)` ends a
  word only when it does not close a `(` opened inside that same word, so `cmd:foo(1)` is one
  word while `(cmd:foo)` is a group;
- a word's first `:` splits `name:value` (the value may hold further colons: `after:02:00`),
  except in a drive path (`C:\\Windows\\...`), which is free text;
  `name:"quoted value"` allows spaces;
- `-` at the start of a term negates it when what follows is a `name:value` term, a group
  `(`, a "quoted text" or an EventID (list): `-host:DC01`, `-(a OR b)`, `-4689`. Before any
  other word it is part of the word, which is then free text: `-enc`, `-w hidden` and
  `--headless` search for those command-line flags (a silent negation returned nearly every
  event); `NOT enc` negates a plain word;
- `name:(a OR b OR c)` is a value list (KQL): the field matches any of the values; the
  values are words or "quoted", separated by `OR` (or spaces);
- `AND`/`OR`/`NOT` (any case) are operators when they stand alone and unquoted;
- inside quotes, `\\"` is a quote and `\\\\` a backslash; any other backslash is literal, so
  `"C:\\Windows\\System32"` needs no doubling.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

#: Longer queries are refused: nobody types them, and they would only make huge SQL.
MAX_QUERY_CHARS = 10_000


class QueryError(Exception):
    """A query that cannot be compiled; `position` is the 0-based offset of the culprit."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


class Kind(enum.Enum):
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    WORD = "word"  # bare word: an EventID (list) or free text
    TEXT = "text"  # "quoted free text"
    FIELD = "field"  # name:value


@dataclass(frozen=True, slots=True)
class Token:
    """One token. `text` is the raw source slice (for messages); `value` the decoded value
    (quotes and escapes removed); `name` the field name for FIELD tokens, as typed;
    `value_pos` where the value starts in the query; `values` the items of a value list
    `name:(a OR b)` (then `value` is empty), with `value_spots` their positions."""

    kind: Kind
    pos: int
    text: str
    value: str = ""
    name: str = ""
    value_pos: int = 0
    values: tuple[str, ...] = ()
    value_spots: tuple[int, ...] = ()


_SURROGATE = re.compile("[\ud800-\udfff]")
_KEYWORDS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens, or raise QueryError (unterminated quote, empty value, ...)."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS)
    bad = _SURROGATE.search(query)
    if bad:  # SQLite could not even take it as a parameter
        raise QueryError("invalid character", bad.start())
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(Token(Kind.LPAREN, i, c))
            i += 1
        elif c == ")":
            tokens.append(Token(Kind.RPAREN, i, c))
            i += 1
        elif c == "-":
            if i + 1 >= n or query[i + 1].isspace() or query[i + 1] == ")":
                raise QueryError("'-' must be followed by a term", i)
            if _dash_negates(query, i):
                tokens.append(Token(Kind.MINUS, i, c))
                i += 1
            else:  # `-enc`: a flag to search for, the dash included
                end = _word_end(query, i)
                word = query[i:end]
                tokens.append(Token(Kind.WORD, i, word, value=word, value_pos=i))
                i = end
        elif c == '"':
            value, end = _read_quoted(query, i)
            tokens.append(Token(Kind.TEXT, i, query[i:end], value=value, value_pos=i))
            i = end
        else:
            token, i = _read_word(query, i)
            tokens.append(token)
    return tokens


def _read_quoted(query: str, start: int) -> tuple[str, int]:
    """Decode the quoted string opening at `start`; return it and the offset after it."""
    out: list[str] = []
    j, n = start + 1, len(query)
    while j < n:
        ch = query[j]
        if ch == "\\" and j + 1 < n and query[j + 1] in '"\\':
            out.append(query[j + 1])
            j += 2
        elif ch == '"':
            return "".join(out), j + 1
        else:
            out.append(ch)
            j += 1
    raise QueryError("unterminated quote", start)


_ID_LIST = re.compile(r"[0-9]+(?:,[0-9]+)*\Z")


def _dash_negates(query: str, i: int) -> bool:
    """Whether the `-` at `i` negates the term after it (see the module docstring): the dashes
    of a run (`--x`) all belong to the same decision, made on what follows the run."""
    j = i
    while j < len(query) and query[j] == "-":
        j += 1
    if j >= len(query) or query[j].isspace() or query[j] in '()"':
        return True
    end = _word_end(query, j)
    word = query[j:end]
    colon = word.find(":")
    if colon > 0 and not (colon == 1 and word[0].isascii() and word[0].isalpha() and word[2:3] == "\\"):
        return True  # -name:value (a drive path `-C:\x` stays text)
    return bool(_ID_LIST.match(word))


def _word_end(query: str, i: int) -> int:
    """Offset where the unquoted word (or value) starting at `i` ends."""
    nest = 0
    n = len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            break
        if ch == "(":
            nest += 1
        elif ch == ")":
            if nest == 0:
                break
            nest -= 1
        i += 1
    return i


def _read_word(query: str, start: int) -> tuple[Token, int]:
    """Read a bare word, a keyword or a `name:value` term starting at `start`."""
    end = _word_end(query, start)
    colon = query.find(":", start, end)
    if colon < 0:
        word = query[start:end]
        kind = _KEYWORDS.get(word.upper(), Kind.WORD)
        return Token(kind, start, word, value=word, value_pos=start), end
    name = query[start:colon]
    if len(name) == 1 and name.isascii() and name.isalpha() and query.startswith("\\", colon + 1):
        # `C:\Windows\...` pasted unquoted is a path to search for, not a field named "c".
        word = query[start:end]
        return Token(Kind.WORD, start, word, value=word, value_pos=start), end
    if not name:
        raise QueryError("missing field name before ':'", start)
    vpos = colon + 1
    if vpos < len(query) and query[vpos] == "(":
        values, spots, end = _read_list(query, name, vpos)
        return Token(Kind.FIELD, start, query[start:end], name=name, value_pos=vpos, values=values,
                     value_spots=spots), end
    if vpos < len(query) and query[vpos] == '"':
        value, end = _read_quoted(query, vpos)
    else:
        end = _word_end(query, vpos)
        value = query[vpos:end]
        if not value:
            raise QueryError(f"missing value after '{name}:'", vpos)
    return Token(Kind.FIELD, start, query[start:end], value=value, name=name, value_pos=vpos), end


#: At most this many values in one `name:(a OR b ...)` list.
MAX_LIST_VALUES = 256


def _read_list(query: str, name: str, open_pos: int) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    """Read the value list `(a OR b OR "c d")` opening at `open_pos`: its values, their
    positions, and the offset after the `)`. Only OR (or spaces) may separate the values: a
    field holds one value, so `(a AND b)` could never match and is refused."""
    values: list[str] = []
    spots: list[int] = []
    i, n = open_pos + 1, len(query)
    expect_value = True
    while True:
        while i < n and query[i].isspace():
            i += 1
        if i >= n:
            raise QueryError(f"unclosed value list '{name}:('", open_pos)
        ch = query[i]
        if ch == ")":
            if not values:
                raise QueryError("empty value list", open_pos)
            if expect_value:
                raise QueryError("nothing after 'OR'", i)
            return tuple(values), tuple(spots), i + 1
        if ch == "(":
            raise QueryError("'(' inside a value list", i)
        if ch == '"':
            value, end = _read_quoted(query, i)
        else:
            end = i
            while end < n and not query[end].isspace() and query[end] not in "()":
                end += 1
            value = query[i:end]
            if value.upper() == "OR":
                if expect_value:
                    raise QueryError("'OR' without a value before it", i)
                expect_value = True
                i = end
                continue
            if value.upper() in ("AND", "NOT"):
                raise QueryError(f"only OR may join the values of '{name}:(...)'", i)
        if len(values) >= MAX_LIST_VALUES:
            raise QueryError(f"more than {MAX_LIST_VALUES} values in a list", i)
        values.append(value)
        spots.append(i)
        expect_value = False
        i = end
