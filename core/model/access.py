"""What access a mask or a `%%NNNN` list grants: generic and per-object-type rights, and the
message-table ids of msobjs.dll that Security events use for them."""

from __future__ import annotations

import re

# -- access rights ----------------------------------------------------------------------------

GENERIC_RIGHTS: tuple[tuple[int, str], ...] = (
    (0x80000000, "GENERIC_READ"),
    (0x40000000, "GENERIC_WRITE"),
    (0x20000000, "GENERIC_EXECUTE"),
    (0x10000000, "GENERIC_ALL"),
    (0x02000000, "MAXIMUM_ALLOWED"),
    (0x01000000, "ACCESS_SYSTEM_SECURITY"),
    (0x00100000, "SYNCHRONIZE"),
    (0x00080000, "WRITE_OWNER"),
    (0x00040000, "WRITE_DAC"),
    (0x00020000, "READ_CONTROL"),
    (0x00010000, "DELETE"),
)

#: Object-specific rights (the low 16 bits), by the ObjectType of 4656/4663/4658.
SPECIFIC_RIGHTS: dict[str, tuple[tuple[int, str], ...]] = {
    "file": (
        (0x1, "ReadData/ListDirectory"),
        (0x2, "WriteData/AddFile"),
        (0x4, "AppendData/AddSubdirectory"),
        (0x8, "ReadEA"),
        (0x10, "WriteEA"),
        (0x20, "Execute/Traverse"),
        (0x40, "DeleteChild"),
        (0x80, "ReadAttributes"),
        (0x100, "WriteAttributes"),
    ),
    "process": (
        (0x1, "PROCESS_TERMINATE"),
        (0x2, "PROCESS_CREATE_THREAD"),
        (0x4, "PROCESS_SET_SESSIONID"),
        (0x8, "PROCESS_VM_OPERATION"),
        (0x10, "PROCESS_VM_READ"),
        (0x20, "PROCESS_VM_WRITE"),
        (0x40, "PROCESS_DUP_HANDLE"),
        (0x80, "PROCESS_CREATE_PROCESS"),
        (0x100, "PROCESS_SET_QUOTA"),
        (0x200, "PROCESS_SET_INFORMATION"),
        (0x400, "PROCESS_QUERY_INFORMATION"),
        (0x800, "PROCESS_SUSPEND_RESUME"),
        (0x1000, "PROCESS_QUERY_LIMITED_INFORMATION"),
        (0x2000, "PROCESS_SET_LIMITED_INFORMATION"),
    ),
    "thread": (
        (0x1, "THREAD_TERMINATE"),
        (0x2, "THREAD_SUSPEND_RESUME"),
        (0x8, "THREAD_GET_CONTEXT"),
        (0x10, "THREAD_SET_CONTEXT"),
        (0x20, "THREAD_SET_INFORMATION"),
        (0x40, "THREAD_QUERY_INFORMATION"),
        (0x80, "THREAD_SET_THREAD_TOKEN"),
        (0x100, "THREAD_IMPERSONATE"),
        (0x200, "THREAD_DIRECT_IMPERSONATION"),
        (0x400, "THREAD_SET_LIMITED_INFORMATION"),
        (0x800, "THREAD_QUERY_LIMITED_INFORMATION"),
    ),
    "key": (
        (0x1, "KEY_QUERY_VALUE"),
        (0x2, "KEY_SET_VALUE"),
        (0x4, "KEY_CREATE_SUB_KEY"),
        (0x8, "KEY_ENUMERATE_SUB_KEYS"),
        (0x10, "KEY_NOTIFY"),
        (0x20, "KEY_CREATE_LINK"),
        (0x100, "KEY_WOW64_64KEY"),
        (0x200, "KEY_WOW64_32KEY"),
    ),
    "token": (
        (0x1, "TOKEN_ASSIGN_PRIMARY"),
        (0x2, "TOKEN_DUPLICATE"),
        (0x4, "TOKEN_IMPERSONATE"),
        (0x8, "TOKEN_QUERY"),
        (0x10, "TOKEN_QUERY_SOURCE"),
        (0x20, "TOKEN_ADJUST_PRIVILEGES"),
        (0x40, "TOKEN_ADJUST_GROUPS"),
        (0x80, "TOKEN_ADJUST_DEFAULT"),
        (0x100, "TOKEN_ADJUST_SESSIONID"),
    ),
}
#: Object types that share another type's specific rights.
_RIGHTS_ALIASES = {"directory": "file", "pipe": "file", "namedpipe": "file", "registry": "key"}


def decode_access_mask(mask: int, object_type: str | None = None) -> str:
    """A mask as the rights it grants: `0x1410` on a Process -> `PROCESS_VM_READ, ...`.

    Without an object type the low 16 bits are ambiguous (0x10 is VM_READ on a process and
    WriteEA on a file): they are shown once per common type so the reader can pick.
    """
    mask &= 0xFFFFFFFF
    names = [name for bit, name in GENERIC_RIGHTS if mask & bit]
    specific = mask & 0xFFFF
    if specific:
        kind = (object_type or "").strip().lower()
        kind = _RIGHTS_ALIASES.get(kind, kind)
        table = SPECIFIC_RIGHTS.get(kind)
        if table is not None:
            names += _bits(specific, table)
        else:
            alts = "; ".join(
                f"{k.capitalize()}: {', '.join(_bits(specific, SPECIFIC_RIGHTS[k]))}"
                for k in ("file", "process", "key")
            )
            names.append(f"specific 0x{specific:x} ({alts})")
    return ", ".join(names) if names else "no access"


#: PROCESS_ALL_ACCESS since Vista (0x1fffff) and before (0x1f0fff).
PROCESS_ALL_ACCESS = 0x1FFFFF
_PROCESS_ALL_ACCESS_XP = 0x1F0FFF
#: Rights that let the holder read another process's memory (credential dumping needs them)
#: and those that let it write or run code in it (injection).
PROCESS_READ_MEMORY = 0x10
PROCESS_WRITE_OR_RUN = 0x2 | 0x8 | 0x20  # CREATE_THREAD, VM_OPERATION, VM_WRITE
_GENERIC_ALL_OR_MAX = 0x10000000 | 0x02000000


def process_rights(mask: int) -> str:
    """A process handle's access as names: `0x1010` -> `PROCESS_VM_READ,
    PROCESS_QUERY_LIMITED_INFORMATION`; `0x1fffff` -> `PROCESS_ALL_ACCESS`."""
    mask &= 0xFFFFFFFF
    if mask & PROCESS_ALL_ACCESS == PROCESS_ALL_ACCESS:
        rest = mask & ~PROCESS_ALL_ACCESS
        return "PROCESS_ALL_ACCESS" + (f", {decode_access_mask(rest, 'process')}" if rest else "")
    if mask == _PROCESS_ALL_ACCESS_XP:
        return "PROCESS_ALL_ACCESS (pre-Vista value)"
    return decode_access_mask(mask, "process")


def reads_process_memory(mask: int) -> bool:
    """Whether a process handle with this access can read the process's memory."""
    return bool(mask & PROCESS_READ_MEMORY or mask & _GENERIC_ALL_OR_MAX)


def writes_process_memory(mask: int) -> bool:
    """Whether it can write the process's memory or start a thread in it."""
    return bool(mask & PROCESS_WRITE_OR_RUN or mask & _GENERIC_ALL_OR_MAX)


def _bits(value: int, table: tuple[tuple[int, str], ...]) -> list[str]:
    out = [name for bit, name in table if value & bit]
    known = 0
    for bit, _ in table:
        known |= bit
    rest = value & ~known
    if rest:
        out.append(f"0x{rest:x}")
    return out


#: Message-table ids (`%%NNNN`) of msobjs.dll in 16-entry blocks: block base -> names of the
#: bits that are defined (the others render as "undefined access bit N").
_ACCESS_BLOCKS: dict[int, tuple[str, ...]] = {
    4352: tuple(f"Device access bit {i}" for i in range(9)),
    4368: ("Query directory", "Traverse", "Create object in directory", "Create sub-directory"),
    4384: ("Query event state", "Modify event state"),
    4416: (
        "ReadData (or ListDirectory)",
        "WriteData (or AddFile)",
        "AppendData (or AddSubdirectory or CreatePipeInstance)",
        "ReadEA",
        "WriteEA",
        "Execute/Traverse",
        "DeleteChild",
        "ReadAttributes",
        "WriteAttributes",
    ),
    4432: (
        "Query key value",
        "Set key value",
        "Create sub-key",
        "Enumerate sub-keys",
        "Notify about changes to keys",
        "Create Link",
    ),
    4448: ("Query mutant state",),
    4464: ("Communicate using port",),
    4480: (
        "Force process termination",
        "Create new thread in process",
        "Set process session ID",
        "Perform virtual memory operation",
        "Read from process memory",
        "Write to process memory",
        "Duplicate handle into or out of process",
        "Create a subprocess of process",
        "Set process quotas",
        "Set process information",
        "Query process information",
        "Set process termination port",
    ),
    4496: ("Control profile",),
    4512: (
        "Query section state",
        "Map section for write",
        "Map section for read",
        "Map section for execute",
        "Extend size",
    ),
    4528: ("Query semaphore state", "Modify semaphore state"),
    4544: ("Use symbolic link",),
    4560: (
        "Force thread termination",
        "Suspend or resume thread",
        "Send an alert to thread",
        "Get thread context",
        "Set thread context",
        "Set thread information",
        "Query thread information",
        "Assign a token to the thread",
        "Cause thread to directly impersonate another thread",
        "Directly impersonate this thread",
    ),
    4576: ("Query timer state", "Modify timer state"),
    4592: (
        "AssignAsPrimary",
        "Duplicate",
        "Impersonate",
        "Query",
        "QuerySource",
        "AdjustPrivileges",
        "AdjustGroups",
        "AdjustDefaultDacl",
        "AdjustSessionID",
    ),
    4608: ("Create instance of object type",),
    4864: ("Query state", "Modify state"),
    5120: ("Channel read message", "Channel write message", "Channel query information", "Channel set information"),
}

#: Single message ids met in Security events.
MESSAGE_IDS: dict[int, str] = {
    1537: "DELETE",
    1538: "READ_CONTROL",
    1539: "WRITE_DAC",
    1540: "WRITE_OWNER",
    1541: "SYNCHRONIZE",
    1542: "ACCESS_SYS_SEC",
    1543: "MAX_ALLOWED",
    1832: "Identification",
    1833: "Impersonation",
    1840: "Delegation",
    1842: "Yes",
    1843: "No",
    1936: "TokenElevationTypeDefault (Type 1, full token)",
    1937: "TokenElevationTypeFull (Type 2, elevated)",
    1938: "TokenElevationTypeLimited (Type 3, limited)",
}


def message_text(msg_id: int) -> str | None:
    """The text of one `%%NNNN` message id, or None when we do not know it."""
    if msg_id in MESSAGE_IDS:
        return MESSAGE_IDS[msg_id]
    if 1552 <= msg_id <= 1567:
        return f"Unknown specific access (bit {msg_id - 1552})"
    base = msg_id - (msg_id % 16)
    names = _ACCESS_BLOCKS.get(base)
    if names is None:
        return None
    bit = msg_id - base
    return names[bit] if bit < len(names) else f"Undefined access (no effect) bit {bit}"


_MSG_RE = re.compile(r"%%(\d{1,6})")
#: Longest value we translate message ids in (AccessList of a few dozen rights fits easily).
_MAX_SCAN = 8192
_MAX_ITEMS = 64


def decode_messages(value: str) -> str | None:
    """`%%4416 %%4423` -> `ReadData (or ListDirectory); ReadAttributes`; None if none known."""
    ids = _MSG_RE.findall(value[:_MAX_SCAN])[:_MAX_ITEMS]
    if not ids:
        return None
    texts = [message_text(int(i)) or f"%%{i}" for i in ids]
    if all(t.startswith("%%") for t in texts):
        return None
    return "; ".join(texts)
