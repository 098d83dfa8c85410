"""Codes that Security events carry as numbers, in words: logon failure statuses, Kerberos result
codes and ticket options, encryption types, logon types, audit-policy and firewall message ids.

The one-line summaries (`core.model.summary`) say "bad password (0xc000006a)" rather than the
bare code an analyst would otherwise look up; the code stays beside the words so it can be
searched. Tables from Microsoft's documentation of events 4625, 4768, 4769, 4771, 4776, 4719
and 5156. Every function returns None (or the raw text) for a code it does not know.
"""

from __future__ import annotations

from core.model.access import decode_messages
from core.model.values import as_int

#: NTSTATUS values of failed logons (4625 Status/SubStatus, 4776 Status).
NT_STATUS: dict[int, str] = {
    0x0: "ok",
    0xC0000064: "unknown user",
    0xC000006A: "bad password",
    0xC000006D: "bad user name or password",
    0xC000006E: "account restriction",
    0xC000006F: "outside allowed hours",
    0xC0000070: "workstation not allowed",
    0xC0000071: "password expired",
    0xC0000072: "account disabled",
    0xC00000DC: "server in wrong state",
    0xC0000133: "clock skew with the DC",
    0xC000015B: "logon type not granted",
    0xC000018C: "trust relationship failed",
    0xC0000192: "Netlogon not started",
    0xC0000193: "account expired",
    0xC0000224: "password must change",
    0xC0000225: "Windows bug (not a risk)",
    0xC0000234: "account locked out",
    0xC00002EE: "error during logon",
    0xC0000413: "authentication firewall: not allowed",
}

#: Kerberos result codes (4768/4769/4771 Status, RFC 4120 KDC_ERR_*).
KERBEROS_STATUS: dict[int, str] = {
    0x0: "ok",
    0x3: "bad encryption type",
    0x6: "unknown user",
    0x7: "unknown service",
    0x9: "null key",
    0xC: "policy rejects request",
    0xD: "option not allowed",
    0xE: "encryption type not supported",
    0x10: "pre-auth data not supported",
    0x12: "account disabled, expired or locked",
    0x17: "password expired",
    0x18: "bad password (pre-auth failed)",
    0x19: "pre-auth required",
    0x1B: "server needs user-to-user",
    0x1F: "integrity check failed",
    0x20: "ticket expired",
    0x25: "clock skew",
    0x29: "ticket checksum mismatch",
    0x3C: "generic error",
}

#: Ticket option bits (4768/4769 TicketOptions), most significant bit = bit 0 (RFC 4120).
TICKET_OPTIONS: tuple[tuple[int, str], ...] = (
    (1, "Forwardable"),
    (2, "Forwarded"),
    (3, "Proxiable"),
    (4, "Proxy"),
    (5, "Allow-postdate"),
    (6, "Postdated"),
    (8, "Renewable"),
    (14, "Constrained-delegation"),
    (15, "Canonicalize"),
    (16, "Request-anonymous"),
    (26, "Disable-transited-check"),
    (27, "Renewable-ok"),
    (28, "Enc-tkt-in-skey"),
    (30, "Renew"),
    (31, "Validate"),
)

ENCRYPTION_TYPES: dict[int, str] = {
    0x1: "DES-CBC-CRC",
    0x3: "DES-CBC-MD5",
    0x11: "AES128",
    0x12: "AES256",
    0x17: "RC4",
    0x18: "RC4-EXP",
    0xFFFFFFFF: "failed",
}

#: Logon types, short (`core.model.sids.LOGON_TYPES` has the long explanations).
LOGON_TYPE_NAMES: dict[int, str] = {
    0: "System",
    2: "Interactive",
    3: "Network",
    4: "Batch",
    5: "Service",
    7: "Unlock",
    8: "NetworkCleartext",
    9: "NewCredentials",
    10: "RemoteInteractive",
    11: "CachedInteractive",
    12: "CachedRemoteInteractive",
    13: "CachedUnlock",
}

#: `%%` message ids of 4719 (audit policy), 4720 (dates), 5156 (firewall), service start types.
MESSAGES: dict[int, str] = {
    1793: "<value not set>",
    1794: "<never>",
    8272: "System",
    8273: "Logon/Logoff",
    8274: "Object Access",
    8275: "Privilege Use",
    8276: "Detailed Tracking",
    8277: "Policy Change",
    8278: "Account Management",
    8279: "DS Access",
    8280: "Account Logon",
    8448: "Success removed",
    8449: "Success added",
    8450: "Failure removed",
    8451: "Failure added",
    12288: "Security State Change",
    12289: "Security System Extension",
    12290: "System Integrity",
    12291: "IPsec Driver",
    12292: "Other System Events",
    12544: "Logon",
    12545: "Logoff",
    12546: "Account Lockout",
    12551: "Special Logon",
    12554: "Other Logon/Logoff Events",
    12800: "File System",
    12801: "Registry",
    12802: "Kernel Object",
    12803: "SAM",
    12804: "Other Object Access Events",
    12807: "Handle Manipulation",
    12808: "File Share",
    12810: "Filtering Platform Connection",
    12811: "Detailed File Share",
    13056: "Sensitive Privilege Use",
    13312: "Process Creation",
    13313: "Process Termination",
    13568: "Audit Policy Change",
    13824: "User Account Management",
    13825: "Computer Account Management",
    13826: "Security Group Management",
    14080: "Directory Service Access",
    14081: "Directory Service Changes",
    14336: "Credential Validation",
    14337: "Kerberos Service Ticket Operations",
    14339: "Kerberos Authentication Service",
    14592: "inbound",
    14593: "outbound",
}

IP_PROTOCOLS: dict[int, str] = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


def _code(value: str | None) -> int | None:
    n = as_int(value)
    return None if n is None else n & 0xFFFFFFFF


def status_text(value: str | None, table: dict[int, str] = NT_STATUS) -> str:
    """`bad password (0xc000006a)`; the bare short hex for an unknown code; '' for none."""
    n = _code(value)
    if n is None:
        return (value or "").strip()
    known = table.get(n)
    return f"{known} (0x{n:x})" if known else f"0x{n:x}"


def kerberos_status(value: str | None) -> str:
    return status_text(value, KERBEROS_STATUS)


def ticket_options(value: str | None) -> str:
    """`0x40810010` -> `Forwardable, Renewable, Canonicalize, Renewable-ok`; '' when none."""
    n = _code(value)
    if not n:
        return ""
    return ", ".join(name for bit, name in TICKET_OPTIONS if n & (1 << (31 - bit)))


def encryption_type(value: str | None) -> str:
    n = _code(value)
    if n is None:
        return ""
    return ENCRYPTION_TYPES.get(n, f"0x{n:x}")


def logon_type(value: str | None) -> str:
    """`3` -> `3 Network`; '?' for none."""
    n = as_int(value)
    if n is None:
        return (value or "").strip() or "?"
    name = LOGON_TYPE_NAMES.get(n)
    return f"{n} {name}" if name else str(n)


def message(value: str | None) -> str:
    """`%%8449` -> `Success added` (several ids joined by `, `); other text as it is."""
    text = (value or "").strip()
    if "%%" not in text:
        return text
    parts = [p.strip() for p in text.replace("\n", " ").replace("\t", " ").split(",") if p.strip()]
    out: list[str] = []
    for part in parts[:16]:
        for token in part.split():
            n = as_int(token[2:]) if token.startswith("%%") else None
            if n is not None and n in MESSAGES:
                out.append(MESSAGES[n])
            elif token.startswith("%%"):
                out.append(decode_messages(token) or token)
            else:
                out.append(token)
    return ", ".join(out)
