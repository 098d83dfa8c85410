"""The query language's reference, as the user reads it: `?`/F1 in the filter bar and
`evtx-explorer query --help-query`. Built from the compiler's own tables (aliases and their
field names), so it cannot drift from what the language does.
"""

from __future__ import annotations

from collections.abc import Collection

from core.query.compile import ALIAS_FIELDS

_HEAD = """\
QUERY LANGUAGE

  4688 user:dadmin image:*rundll32* -host:DC01 after:2015-11-12T02:00 "free text"

Terms (adjacent terms must all match)
  4688                 EventID; 4624,4625 is a list
  word, "two words"    free text: a substring of any EventData value, computer, channel,
                       provider or user SID (case-insensitive)
  name:value           the EventData field `name` (or the System field so named) equals
                       value, whole and case-insensitive; numbers compare as numbers
                       (pid:0xc8c = pid:3212 = pid:0x0000000000000c8c)
  name:"a value"       a value with spaces; inside quotes \\" is a quote, \\\\ a backslash
  name:(a OR b)        any of the values: user:(alice OR bob), id:(4624 OR 4625)
  name:*glob?          * any run of characters, ? one character;
                       [*] [?] [[] a literal *, ? or [

Operators
  a b, a AND b         both
  a OR b               either
  NOT a, -name:value   negation; also -(a OR b), -"text", -4689
  -enc, -w hidden      a dash before a plain word is part of the word: these search for the
                       command-line flags `-enc` and `-w`, they do not exclude anything
                       (write NOT enc to exclude a word)
  ( ... )              grouping; NOT binds tighter than AND, AND tighter than OR

Fields and aliases
  id, eventid          EventID (lists allowed)       record   EventRecordID
  host, computer       computer (host:dc01 also matches DC01.corp.local)
  channel, provider    the System channel / provider name
  usersid              the System user SID            level, task, opcode, keywords, version
  file, source         the input's path or file name (file:security.evtx)
  after:, before:      UTC time: 2015-11-12, 2015-11-12T02:00, 2015-11-12T02:00:05Z
                       (after is inclusive, before exclusive)
"""

_EXAMPLES = """\
Examples
  4625 logon:0x3e7 -user:SYSTEM
  4688 cmd:*-enc*                  PowerShell encoded commands
  4688 -enc                        the same, as free text
  image:*\\powershell.exe parent:*\\winword.exe
  id:(4624 OR 4625) user:(alice OR bob) after:2015-11-12 before:2015-11-13
  channel:Microsoft-Windows-Sysmon/Operational 1 -image:*\\svchost.exe

An unknown field name is an error naming the nearest known ones (usr:alice: did you mean user?).
"""


def query_reference(fields: Collection[str] = ()) -> str:
    """The reference text (plain text, lines under 100 characters). `fields`: the store's
    EventData field names, listed at the end when given (what `name:value` can name here)."""
    lines = [_HEAD.rstrip("\n")]
    for alias, names in ALIAS_FIELDS.items():
        lines.extend(_wrapped(f"  {alias + ':':<21}", list(names), ", "))
    lines.append("  pid: and user: also match the System process id (outside Security and Sysmon, where it")
    lines.append("  is the logging service's) and user SID; `stack --by pid` stacks what pid: matches, as hex,")
    lines.append("  `--by processid` the System process id (and a field named ProcessId)")
    lines.append("")
    lines.append(_EXAMPLES.rstrip("\n"))
    if fields:
        lines.append("")
        lines.append("EventData fields in these logs")
        lines.extend(_wrapped("  ", sorted(fields, key=str.lower), "  "))
    return "\n".join(lines) + "\n"


def _wrapped(head: str, items: list[str], sep: str, width: int = 96) -> list[str]:
    """`items` joined by `sep` after `head`, continued under it past `width` characters."""
    lines: list[str] = []
    row = head
    for item in items:
        if row.strip() and len(row) + len(item) > width:
            lines.append(row.rstrip(sep.strip() + " ") if sep.strip() else row.rstrip())
            row = " " * len(head)
        row += item + sep
    lines.append(row.rstrip().removesuffix(sep.strip()) if sep.strip() else row.rstrip())
    return lines
