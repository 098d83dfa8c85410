"""What an obfuscated command line says: `-enc` base64 payloads and char-code lists decoded,
with every step bounded (command lines are attacker-controlled and can be huge)."""

from __future__ import annotations

import re

# -- command lines --------------------------------------------------------------------------

#: PowerShell accepts any prefix of -EncodedCommand (and -ec); the payload is base64 UTF-16LE.
_ENC_RE = re.compile(r"(?:^|\s)[-/](e|ec|en[a-z]*)\s+[\"']?([A-Za-z0-9+/]{8,}={0,2})", re.IGNORECASE)
#: Obfuscators spell scripts as lists of character codes: `[char[]](73,69,88)`, `((91 ,78,...`.
_CHARS_RE = re.compile(r"(?:\d{1,3}\s*,\s*){7,}\d{1,3}")
_MAX_CMD = 64 * 1024
_MAX_VIEWS = 16
MAX_SHOWN = 2000


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
