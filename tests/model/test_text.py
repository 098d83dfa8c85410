"""What `printable` shows of attacker-controlled text: controls escaped, and the characters that
show as nothing (a name that looks like another) escaped too, each readable back as its code."""

from __future__ import annotations

import pytest

from core.model.text import md_text, one_line, printable, terminal_text

#: Characters a terminal draws as nothing (or reorders around): each made visible.
INVISIBLE = ["\u00ad", "\u061c", "\u115f", "\u1160", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",
             "\u2060", "\u2063", "\u2064", "\u3164", "\ufeff", "\uffa0", "\U000e0001", "\U000e0041", "\U000e007f"]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_an_invisible_character_in_a_name_is_shown(ch: str) -> None:
    """`ls<ZWSP>ass.exe` showed exactly as `lsass.exe` in the table, the tree and on a terminal."""
    name = f"ls{ch}ass.exe"
    shown = printable(name)
    assert shown != "lsass.exe" and ch not in shown
    code = ord(ch)
    escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    assert shown == f"ls{escape}ass.exe"
    assert ch not in terminal_text(name + "\n") and ch not in one_line(name, 40) and ch not in md_text(name)


def test_escapes_read_back_unambiguously() -> None:
    """A character past U+FFFF is `\\U` and eight digits: `\\ue0041` read as U+E004 and a `1`."""
    assert printable("a\U000e0041b") == "a\\U000e0041b"
    assert printable("\x1b[2J\u202e") == "\\x1b[2J\\u202e"


def test_visible_text_is_kept() -> None:
    """Letters of every script, combining marks, emoji and CJK are text, not escapes."""
    for text in ("C:\\Windows\\System32\\lsass.exe", "Ünïcödé", "Пользователь", "مدير", "管理者", "e\u0301", "🙂",
                 "a\tb"[:1]):
        assert printable(text) == text


def test_json_writes_them_as_its_own_escapes_the_same_data() -> None:
    """JSON output keeps the exact data and writes these characters as JSON escapes (a code point
    past U+FFFF as its surrogate pair), so no reader sees a difference and no terminal a raw one."""
    import json

    from core.model.text import json_safe

    value = "".join(INVISIBLE) + "\x1b\u202e\udcff"
    text = json_safe(json.dumps({"v": value}, ensure_ascii=False))
    assert json.loads(text) == {"v": value}
    assert not any(ch in text for ch in INVISIBLE) and "\\udb40\\udc41" in text
