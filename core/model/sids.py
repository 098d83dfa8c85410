"""Who a value names: token elevation types, integrity-label SIDs, well-known SIDs and RIDs,
logon ids and logon types, as Windows documents them (pure tables and parsers, bounded regexes)."""

from __future__ import annotations

import re

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
