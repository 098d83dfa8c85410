"""Human text for raw Windows event values: what `%%1937`, `S-1-16-12288` or `0x1410` mean.

Windows writes many values as codes that an analyst must otherwise look up: message-table
references (`%%1936`, `%%4416`), SIDs, integrity-label SIDs, logon ids, access masks, hex pids.
These pure functions turn one raw value into a short explanation, so the findings engine and
the UI's detail pane say the same thing. `decode_value` returns None when it has nothing to add
(the UI then shows the raw value alone); it never raises on attacker-controlled input and
bounds the work it does on long values.

The tables live beside it by subject: `sids` (who), `access` (what rights), `command_line`
(obfuscated payloads), `field_help` (what a field of 4688/4690 means).
"""

from __future__ import annotations

import re

from core.model.access import decode_access_mask, decode_messages
from core.model.command_line import MAX_SHOWN, decoded_command_line
from core.model.sids import LOGON_TYPES, TOKEN_ELEVATION, WELL_KNOWN_LOGON_IDS, decode_label, decode_sid
from core.model.values import HANDLE_FIELDS, LOGON_FIELDS, PID_FIELDS, as_int, hex_and_dec

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
        return f"decoded from {how}{more}: {payload[:MAX_SHOWN]}"
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


def decoding_shown(value: str, decoded: str | None) -> tuple[str, str] | None:
    """How the decoding of `value` reads after it: ("", rest) when the decoded text starts with
    the value itself, so only what it adds is shown (`0x2c4` decodes to `0x2c4 (708)`: show
    `0x2c4 (708)`, not `0x2c4 = 0x2c4 (708)`); ("=", decoded) when it says something else; None
    when it adds nothing (no decoding, or the value again)."""
    if not decoded or decoded == value:
        return None
    raw = value.strip()
    if raw and decoded.startswith(raw) and decoded[len(raw):len(raw) + 1] in (" ", ":", "("):
        return "", decoded[len(raw):]
    return "=", decoded
