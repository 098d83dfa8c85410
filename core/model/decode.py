"""Human text for raw Windows event values: what `%%1937`, `S-1-16-12288` or `0x1410` mean.

Windows writes many values as codes that an analyst must otherwise look up: message-table
references (`%%1936`, `%%4416`), SIDs, integrity-label SIDs, logon ids, access masks, hex pids.
These pure functions turn one raw value into a short explanation, so the findings engine and
the UI's detail pane say the same thing. `decode_value` returns None when it has nothing to add
(the UI then shows the raw value alone); it never raises on attacker-controlled input and
bounds the work it does on long values.

`FIELD_HELP` / `FIELD_HELP_JA` describe each field of events 4688 and 4690, from Microsoft's
documentation pages (the Japanese seeds in `../shared/seeds`, translated).
"""

from __future__ import annotations

import re

from core.model.values import HANDLE_FIELDS, LOGON_FIELDS, PID_FIELDS, as_int, hex_and_dec

# -- token elevation and integrity ------------------------------------------------------------

#: TokenElevationType of 4688 (message ids in msobjs.dll).
TOKEN_ELEVATION: dict[str, str] = {
    "%%1936": (
        "Type 1: full token, no privileges removed or groups disabled "
        "(UAC off, built-in Administrator, service or LocalSystem account)"
    ),
    "%%1937": (
        "Type 2: elevated token, no privileges removed or groups disabled "
        "(UAC on and the program was run as administrator, or always requires it)"
    ),
    "%%1938": "Type 3: limited token, administrative privileges removed and admin groups disabled (UAC on)",
}

#: Mandatory (integrity) label RIDs, S-1-16-<rid>.
MANDATORY_LABELS: dict[int, str] = {
    0x0000: "Untrusted",
    0x1000: "Low",
    0x2000: "Medium",
    0x2100: "Medium Plus",
    0x3000: "High",
    0x4000: "System",
    0x5000: "Protected Process",
    0x7000: "Secure Process",
}

_LABEL_RE = re.compile(r"\s*S-1-16-(\d{1,10})\s*\Z", re.IGNORECASE)


def label_rid(value: str | None) -> int | None:
    """The RID of a mandatory-label SID (`S-1-16-12288` -> 12288), else None."""
    if not value:
        return None
    m = _LABEL_RE.match(value)
    return int(m.group(1)) if m else None


def decode_label(value: str) -> str | None:
    """`S-1-16-12288` -> `High integrity (0x3000)`; unknown RIDs are still shown in hex."""
    rid = label_rid(value)
    if rid is None:
        return None
    name = MANDATORY_LABELS.get(rid)
    if name is None:
        return f"mandatory label, unknown level (0x{rid:x})"
    return f"{name} integrity (0x{rid:x})" if rid < 0x5000 else f"{name} (0x{rid:x})"


# -- SIDs -------------------------------------------------------------------------------------

#: Well-known SIDs (fixed, the same on every machine).
WELL_KNOWN_SIDS: dict[str, str] = {
    "S-1-0-0": "NULL SID (nobody)",
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL (users logged on locally)",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-3-1": "CREATOR GROUP",
    "S-1-5-1": "DIALUP",
    "S-1-5-2": "NETWORK",
    "S-1-5-3": "BATCH",
    "S-1-5-4": "INTERACTIVE",
    "S-1-5-6": "SERVICE",
    "S-1-5-7": "ANONYMOUS LOGON",
    "S-1-5-9": "ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-10": "SELF (principal self)",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-12": "RESTRICTED",
    "S-1-5-13": "TERMINAL SERVER USER",
    "S-1-5-14": "REMOTE INTERACTIVE LOGON",
    "S-1-5-15": "This Organization",
    "S-1-5-17": "IUSR (IIS)",
    "S-1-5-18": "SYSTEM (LocalSystem)",
    "S-1-5-19": "LOCAL SERVICE",
    "S-1-5-20": "NETWORK SERVICE",
    "S-1-5-32-544": "BUILTIN\\Administrators",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-546": "BUILTIN\\Guests",
    "S-1-5-32-547": "BUILTIN\\Power Users",
    "S-1-5-32-548": "BUILTIN\\Account Operators",
    "S-1-5-32-549": "BUILTIN\\Server Operators",
    "S-1-5-32-550": "BUILTIN\\Print Operators",
    "S-1-5-32-551": "BUILTIN\\Backup Operators",
    "S-1-5-32-552": "BUILTIN\\Replicator",
    "S-1-5-32-555": "BUILTIN\\Remote Desktop Users",
    "S-1-5-32-562": "BUILTIN\\Distributed COM Users",
    "S-1-5-32-573": "BUILTIN\\Event Log Readers",
    "S-1-5-32-578": "BUILTIN\\Hyper-V Administrators",
    "S-1-5-32-580": "BUILTIN\\Remote Management Users",
    "S-1-5-64-10": "NTLM Authentication",
    "S-1-5-64-14": "SChannel Authentication",
    "S-1-5-64-21": "Digest Authentication",
    "S-1-5-113": "Local account",
    "S-1-5-114": "Local account and member of Administrators",
    "S-1-18-1": "Authentication authority asserted identity",
    "S-1-18-2": "Service asserted identity",
}

#: Relative ids of well-known accounts and groups in a domain or local machine (S-1-5-21-x-y-z-RID).
WELL_KNOWN_RIDS: dict[int, str] = {
    500: "built-in Administrator account",
    501: "built-in Guest account",
    502: "krbtgt (Kerberos service account)",
    503: "DefaultAccount",
    504: "WDAGUtilityAccount",
    512: "Domain Admins",
    513: "Domain Users",
    514: "Domain Guests",
    515: "Domain Computers",
    516: "Domain Controllers",
    517: "Cert Publishers",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    521: "Read-only Domain Controllers",
    526: "Key Admins",
    527: "Enterprise Key Admins",
    553: "RAS and IAS Servers",
}

_SID_RE = re.compile(r"\s*(S-1-\d{1,14}(?:-\d{1,10}){0,15})\s*\Z", re.IGNORECASE)
_DOMAIN_SID_RE = re.compile(r"S-1-5-21-\d{1,10}-\d{1,10}-\d{1,10}-(\d{1,10})\Z", re.IGNORECASE)


def sid_rid(sid: str | None) -> int | None:
    """The RID of a domain or local account SID (S-1-5-21-a-b-c-RID), else None."""
    if not sid:
        return None
    m = _DOMAIN_SID_RE.match(sid.strip())
    return int(m.group(1)) if m else None


def decode_sid(value: str) -> str | None:
    """Name a SID when it is well known, by prefix (services, window manager) or by RID."""
    m = _SID_RE.match(value)
    if not m:
        return None
    sid = m.group(1).upper()
    if sid in WELL_KNOWN_SIDS:
        return WELL_KNOWN_SIDS[sid]
    label = decode_label(sid)
    if label is not None:
        return label
    if sid.startswith("S-1-5-80-"):
        return "service SID (NT SERVICE\\...)"
    if sid.startswith("S-1-5-90-0-"):
        return "Window Manager (DWM) virtual account"
    if sid.startswith("S-1-5-96-0-"):
        return "Font Driver Host (UMFD) virtual account"
    if sid.startswith("S-1-5-82-"):
        return "IIS application pool identity"
    if sid.startswith("S-1-5-83-"):
        return "Hyper-V virtual machine"
    rid = sid_rid(sid)
    if rid is not None:
        if rid in WELL_KNOWN_RIDS:
            return f"{WELL_KNOWN_RIDS[rid]} (RID {rid})"
        if rid >= 1000:
            return f"domain or local account (RID {rid})"
        return f"well-known domain RID {rid}"
    return None


# -- logons -----------------------------------------------------------------------------------

#: Logon ids that name a built-in session rather than a user logon (winnt.h `*_LUID`).
WELL_KNOWN_LOGON_IDS: dict[int, str] = {
    0x3E7: "SYSTEM session",
    0x3E5: "LOCAL SERVICE session",
    0x3E4: "NETWORK SERVICE session",
    0x3E6: "ANONYMOUS LOGON session",
    0x3E3: "IUSR session",
    0: "no logon session",
}

LOGON_TYPES: dict[int, str] = {
    0: "System (used only by the System account at boot)",
    2: "Interactive (at the keyboard)",
    3: "Network (e.g. a shared folder)",
    4: "Batch (scheduled task)",
    5: "Service (started by the Service Control Manager)",
    7: "Unlock (workstation unlocked)",
    8: "NetworkCleartext (password sent in clear, e.g. IIS basic auth)",
    9: "NewCredentials (runas /netonly: new credentials for outbound connections)",
    10: "RemoteInteractive (Remote Desktop / Terminal Services)",
    11: "CachedInteractive (cached domain credentials, no DC contacted)",
    12: "CachedRemoteInteractive",
    13: "CachedUnlock",
}

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


# -- command lines --------------------------------------------------------------------------

#: PowerShell accepts any prefix of -EncodedCommand (and -ec); the payload is base64 UTF-16LE.
_ENC_RE = re.compile(r"(?:^|\s)[-/](e|ec|en[a-z]*)\s+[\"']?([A-Za-z0-9+/]{8,}={0,2})", re.IGNORECASE)
#: Obfuscators spell scripts as lists of character codes: `[char[]](73,69,88)`, `((91 ,78,...`.
_CHARS_RE = re.compile(r"(?:\d{1,3}\s*,\s*){7,}\d{1,3}")
_MAX_CMD = 64 * 1024
_MAX_VIEWS = 16
_MAX_SHOWN = 2000


def decoded_command_line(value: str) -> list[tuple[str, str]]:
    """Payloads hidden in a command line, as (how it was decoded, decoded text).

    Looks for PowerShell -EncodedCommand base64 (UTF-16LE) and comma-separated character-code
    lists. Bounded: only the first 64 KiB of the value is scanned, and at most 16 payloads are
    returned, so a hostile command line cannot make this slow.
    """
    import base64
    import binascii

    text = value[:_MAX_CMD]
    views: list[tuple[str, str]] = []
    for m in _ENC_RE.finditer(text):
        flag = m.group(1).lower()
        if flag not in ("e", "ec") and not "encodedcommand".startswith(flag):
            continue
        payload = m.group(2)
        try:
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-16-le", errors="replace")
        if decoded:
            views.append(("-EncodedCommand base64", decoded))
        if len(views) >= _MAX_VIEWS:
            return views
    for m in _CHARS_RE.finditer(text):
        codes = [int(c) for c in re.findall(r"\d{1,3}", m.group(0))]
        decoded = "".join(chr(c) for c in codes if c in (9, 10, 13) or 32 <= c < 127)
        if len(decoded) >= 8:
            views.append(("character codes", decoded))
        if len(views) >= _MAX_VIEWS:
            break
    return views


# -- the entry point --------------------------------------------------------------------------

_MASK_FIELDS = {"accessmask", "desiredaccess", "grantedaccess", "accessgranted", "accessremoved"}
_LABEL_FIELDS = {"mandatorylabel", "integritylevel"}
_LOWER_PID = {n.lower() for n in PID_FIELDS}
_LOWER_HANDLE = {n.lower() for n in HANDLE_FIELDS}
_LOWER_LOGON = {n.lower() for n in LOGON_FIELDS}
_HEXISH = re.compile(r"\s*0[xX][0-9a-fA-F]{1,16}\s*\Z")


def decode_value(
    field_name: str, value: str | None, event_id: int | None = None, *, object_type: str | None = None
) -> str | None:
    """Human text explaining `value` of `field_name` (in event `event_id`), or None.

    `object_type` (the ObjectType field of 4656/4663) makes access masks exact; without it the
    object-specific bits are listed for the common types.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or text == "-":
        return None
    name = field_name.strip().lower()

    if name == "tokenelevationtype" and text in TOKEN_ELEVATION:
        return TOKEN_ELEVATION[text]
    if name in _LABEL_FIELDS or text.upper().startswith("S-1-16-"):
        return decode_label(text)
    if name in ("commandline", "processcommandline", "parentcommandline"):
        views = decoded_command_line(text)
        if not views:
            return None
        how, payload = views[0]
        more = f" (+{len(views) - 1} more)" if len(views) > 1 else ""
        return f"decoded from {how}{more}: {payload[:_MAX_SHOWN]}"
    if name == "logontype":
        n = as_int(text)
        return LOGON_TYPES.get(n) if n is not None else None
    if name in _MASK_FIELDS:
        n = as_int(text)
        if n is None:
            return decode_messages(text)
        return f"{hex_and_dec(n)}: {decode_access_mask(n, object_type)}"
    if "%%" in text:
        return decode_messages(text)
    if name in _LOWER_LOGON:
        n = as_int(text)
        if n is None:
            return None
        known = WELL_KNOWN_LOGON_IDS.get(n)
        return f"{hex_and_dec(n)} {known}" if known else hex_and_dec(n)
    if text.upper().startswith("S-1-"):
        return decode_sid(text)
    if name in _LOWER_PID or name in _LOWER_HANDLE or _HEXISH.match(text):
        n = as_int(text)
        return hex_and_dec(n) if n is not None else None
    return None


# -- field descriptions -----------------------------------------------------------------------

_SUBJECT_HELP_4688 = {
    "SubjectUserSid": "Creator Subject security ID: SID of the account that requested the process creation.",
    "SubjectUserName": "Creator Subject account name: the account that requested the process creation.",
    "SubjectDomainName": (
        "Creator Subject account domain: NetBIOS or DNS domain name, NT AUTHORITY for well-known "
        "principals, or the computer's name for a local account."
    ),
    "SubjectLogonId": "Creator Subject logon ID (hex): links this event to the 4624 logon with the same ID.",
}

_SUBJECT_HELP_4690 = {
    "SubjectUserSid": "Subject security ID: SID of the account that tried to duplicate a handle to an object.",
    "SubjectUserName": "Subject account name: the account that tried to duplicate a handle to an object.",
    "SubjectDomainName": (
        "Subject account domain: NetBIOS or DNS domain name, NT AUTHORITY for well-known "
        "principals, or the computer's name for a local account."
    ),
    "SubjectLogonId": "Subject logon ID (hex): links this event to the 4624 logon with the same ID.",
}

#: Short English description of each field of 4688 and 4690, for the detail pane.
FIELD_HELP: dict[tuple[int, str], str] = {
    **{(4688, k): v for k, v in _SUBJECT_HELP_4688.items()},
    (4688, "TargetUserSid"): (
        "Target Subject security ID (version 2): SID of the account the new process runs as, when "
        "it is not the creator's logon."
    ),
    (4688, "TargetUserName"): "Target Subject account name (version 2): the account the new process runs as.",
    (4688, "TargetDomainName"): "Target Subject account domain (version 2): domain or computer name of the target.",
    (4688, "TargetLogonId"): "Target Subject logon ID (version 2, hex): links to the 4624 logon of the target.",
    (4688, "NewProcessId"): (
        "New Process ID (hex): PID of the new process; convert to decimal to compare with Task Manager. "
        "PIDs are reused."
    ),
    (4688, "NewProcessName"): "New Process Name: full path and name of the new process's executable.",
    (4688, "TokenElevationType"): (
        "Token Elevation Type: %%1936 Type 1 full token (UAC off, built-in admin, service); "
        "%%1937 Type 2 elevated (run as administrator); %%1938 Type 3 limited (UAC on, not elevated)."
    ),
    (4688, "MandatoryLabel"): (
        "Mandatory Label (version 2): SID of the integrity label given to the new process "
        "(S-1-16-4096 Low, 8192 Medium, 12288 High, 16384 System, 20480 Protected Process)."
    ),
    (4688, "ProcessId"): (
        "Creator Process ID (hex): PID of the process that started the new process (its parent); it "
        "matches the NewProcessId of the parent's own 4688."
    ),
    (4688, "ParentProcessName"): "Creator Process Name (version 2): full path and name of the parent's executable.",
    (4688, "CommandLine"): (
        "Process Command Line (versions 1, 2): the executable and its arguments; empty unless the "
        "'Include command line in process creation events' policy is enabled."
    ),
    **{(4690, k): v for k, v in _SUBJECT_HELP_4690.items()},
    (4690, "SourceHandleId"): (
        "Source Handle ID (hex): the handle that was duplicated; matches the HandleId of the 4656/4663 "
        "of the source process."
    ),
    (4690, "SourceProcessId"): (
        "Source Process ID (hex): PID of the process that had opened the source handle before it was "
        "duplicated (compare with a 4688 NewProcessId)."
    ),
    (4690, "TargetHandleId"): (
        "Target Handle ID (hex): the new handle, a copy of the source handle; later 4663/4658 events use it."
    ),
    (4690, "TargetProcessId"): (
        "Target Process ID (hex): PID of the process that received the new handle (compare with a 4688 NewProcessId)."
    ),
}

_SUBJECT_HELP_4688_JA = {
    "SubjectUserSid": "作成者サブジェクトのセキュリティID: 「プロセス作成」操作を要求したアカウントのSID。",
    "SubjectUserName": "作成者サブジェクトのアカウント名: 「プロセス作成」操作を要求したアカウントの名前。",
    "SubjectDomainName": (
        "作成者サブジェクトのアカウントドメイン: ドメイン名、NT AUTHORITY、またはローカルアカウントのコンピュータ名。"
    ),
    "SubjectLogonId": (
        "作成者サブジェクトのログオンID (16進数): 同じログオンIDを含む 4624 などのイベントと関連付けられます。"
    ),
}

#: The same descriptions in Japanese (from the seed pages).
FIELD_HELP_JA: dict[tuple[int, str], str] = {
    **{(4688, k): v for k, v in _SUBJECT_HELP_4688_JA.items()},
    (4688, "TargetUserSid"): "ターゲットサブジェクトのセキュリティID (バージョン2): ターゲットアカウントのSID。",
    (4688, "TargetUserName"): "ターゲットサブジェクトのアカウント名 (バージョン2): 対象アカウントの名前。",
    (
        4688,
        "TargetDomainName",
    ): "ターゲットサブジェクトのアカウントドメイン (バージョン2): 対象アカウントのドメインまたはコンピュータ名。",
    (4688, "TargetLogonId"): "ターゲットサブジェクトのログオンID (バージョン2, 16進数)。",
    (4688, "NewProcessId"): "新しいプロセスID (16進数): 10進数に変換するとタスクマネージャーの値と比較できます。",
    (4688, "NewProcessName"): "新しいプロセス名: 新しいプロセスの実行可能ファイルのフルパスと名前。",
    (4688, "TokenElevationType"): (
        "トークン昇格タイプ: %%1936 タイプ1 (完全なトークン、UAC無効など)、%%1937 タイプ2 (昇格、管理者として実行)、"
        "%%1938 タイプ3 (限定トークン)。"
    ),
    (4688, "MandatoryLabel"): "Mandatory Label (バージョン2): 新しいプロセスに割り当てられた整合性ラベルのSID。",
    (4688, "ProcessId"): "作成者プロセスID (16進数): 新しいプロセスを実行したプロセスのID。",
    (4688, "ParentProcessName"): "作成者プロセス名 (バージョン2): プロセスの実行ファイルのフルパスと名前。",
    (
        4688,
        "CommandLine",
    ): "プロセスコマンドライン (バージョン1, 2): 実行ファイルの名前と渡された引数。既定では空です。",
    (4690, "SubjectUserSid"): "セキュリティID: オブジェクトへのハンドルを複製しようとしたアカウントのSID。",
    (4690, "SubjectUserName"): "アカウント名: オブジェクトのハンドルを複製しようとしたアカウントの名前。",
    (4690, "SubjectDomainName"): "アカウントドメイン: サブジェクトのドメインまたはコンピュータ名。",
    (4690, "SubjectLogonId"): "ログオンID (16進数): 同じログオンIDを含むイベントと関連付けられます。",
    (4690, "SourceHandleId"): "ソースハンドルID (16進数): 複製されたハンドル。",
    (4690, "SourceProcessId"): "ソースプロセスID (16進数): 複製される前にソースハンドルを開いたプロセスのID。",
    (4690, "TargetHandleId"): "ターゲットハンドルID (16進数): 新しいハンドル (ソースハンドルのコピー)。",
    (4690, "TargetProcessId"): "ターゲットプロセスID (16進数): ターゲットハンドルを開いたプロセスのID。",
}


def field_help(event_id: int, field_name: str, lang: str = "en") -> str | None:
    """The description of `field_name` of `event_id` (case-insensitive name), or None."""
    table = FIELD_HELP_JA if lang == "ja" else FIELD_HELP
    low = field_name.lower()
    for (eid, name), text in table.items():
        if eid == event_id and name.lower() == low:
            return text
    return None
