"""How Windows renders values, and how we compare and show them.

PIDs, handle IDs and logon IDs come as `0x0000000000000c8c` (HexInt64), `0x00000c8c`
(HexInt32), `0xc8c` (Windows' own rendering, JSON exports) or plain decimal `3212` (SizeT).
They are the same number and must compare equal, so the store keeps an integer beside every
value that parses as one.
"""

from __future__ import annotations

import re

from core.model.storable import INT64_MAX, INT64_MIN, int_text

_HEX = re.compile(r"\s*0[xX]([0-9a-fA-F]{1,16})\s*\Z")
_DEC = re.compile(r"\s*(-?[0-9]{1,20})\s*\Z")


def as_int(value: str | None) -> int | None:
    """The integer a rendered value stands for (`0x...` hex or plain decimal), else None.

    Windows logs ids as unsigned 64-bit values, in hex or in decimal: both renderings of one
    value are one number. Unsigned values past 2**63 map into SQLite's signed range (the store
    keeps 64-bit integers), `0xffffffffffffffff` and `18446744073709551615` to -1 alike; what
    fits neither 64-bit range is None (no pid, handle or logon id is).
    """
    if value is None:
        return None
    m = _HEX.match(value)
    if m:
        n = int(m.group(1), 16)
        return n - (1 << 64) if n >= (1 << 63) else n
    m = _DEC.match(value)
    if m:
        n = int(m.group(1))
        if -(1 << 63) <= n < (1 << 63):
            return n
        if (1 << 63) <= n < (1 << 64):  # the unsigned value, as its hex rendering maps
            return n - (1 << 64)
    return None


def hex_id(value: int) -> str:
    """An id (pid, handle, logon id) as Windows prints it, `0x1dac`; a negative one as the unsigned
    64-bit value it stands for (`as_int` maps those into SQLite's signed range), as the table shows it."""
    return f"0x{value & 0xFFFF_FFFF_FFFF_FFFF:x}"


_WIDE_HEX = re.compile(r"\s*(-?)0[xX]([0-9a-fA-F]{1,32})\s*\Z")
_WIDE_DEC = re.compile(r"\s*(-?[0-9]{1,40})\s*\Z")


def column_param(value: str) -> int | str | None:
    """What an integer column is compared with for the query value `value`: its int, or for
    a number outside the signed 64-bit range the text such a value is stored as
    (`core.model.storable.int_text`), so `record:18446744073709551621` finds the record it names;
    None when `value` is not an integer."""
    m = _WIDE_HEX.match(value)
    if m:
        n = int(m.group(2), 16) * (-1 if m.group(1) else 1)
    else:
        m = _WIDE_DEC.match(value)
        if not m:
            return None
        n = int(m.group(1))
    return n if INT64_MIN <= n <= INT64_MAX else int_text(n)


def hex_and_dec(value: int) -> str:
    """Both forms, as analysts want them: `0xc8c (3212)`."""
    if value < 0:
        value += 1 << 64
    return f"0x{value:x} ({value})"


#: Channels whose System `Execution ProcessID` is the service writing the log, on every event (the
#: Security log: lsass, which audits; Sysmon: its own service), never the process an event is
#: about: the `pid:` alias leaves that header out there, or `pid:` of lsass would find the whole
#: Security log. (`processid:`, the header's own name, still matches it.)
LOGGER_PID_CHANNELS: tuple[str, ...] = ("Security", "Microsoft-Windows-Sysmon/Operational")

#: EventData field names that hold a process id (the `pid:` alias searches all of them).
PID_FIELDS: tuple[str, ...] = (
    "ProcessId",
    "NewProcessId",
    "SourceProcessId",
    "TargetProcessId",
    "ParentProcessId",
    "ClientProcessId",
    "CallerProcessId",
)

#: EventData field names that hold a handle id (the `handle:` alias).
HANDLE_FIELDS: tuple[str, ...] = ("HandleId", "SourceHandleId", "TargetHandleId")

#: EventData field names that hold a logon id (the `logon:` alias).
LOGON_FIELDS: tuple[str, ...] = ("SubjectLogonId", "TargetLogonId", "LogonId", "TargetLinkedLogonId")

#: EventData field names that name a user (the `user:` alias).
USER_FIELDS: tuple[str, ...] = ("SubjectUserName", "TargetUserName", "AccountName", "User", "UserName")

#: EventData field names that hold a process image, its own or its parent's (the `image:` and
#: `parent:` aliases split them: `core.query.compile.OWN_IMAGE_FIELDS`).
IMAGE_FIELDS: tuple[str, ...] = ("NewProcessName", "ProcessName", "ParentProcessName", "Image", "Application")

#: EventData field names that hold a command line, own or parent's (`cmd:` / `parentcmd:`).
CMD_FIELDS: tuple[str, ...] = ("CommandLine", "ProcessCommandLine", "ParentCommandLine")
