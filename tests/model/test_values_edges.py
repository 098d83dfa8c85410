"""`as_int` at the edges of 64 bits: a value is the same number in hex and in decimal.

Windows logs pids, handles and logon ids as unsigned 64-bit values; the store keeps signed ones,
so hex past 2**63 wraps (`0xffffffffffffffff` is -1). The same value written in decimal
(`18446744073709551615`, as a JSON export or a SizeT rendering gives it) read as no number: a
4656 naming it said "the event names no process to own the handle"."""

from __future__ import annotations

import pytest

from core.correlate.event_fields import as_int as remembered
from core.model.values import as_int, hex_id
from tests.correlate.events import correlate, h4656, load, p4688

TOP = (1 << 64) - 1


@pytest.mark.parametrize(("hex_text", "dec_text"), [
    ("0xffffffffffffffff", str(TOP)),
    ("0x8000000000000000", str(1 << 63)),
    ("0x7fffffffffffffff", str((1 << 63) - 1)),
    ("0xfffffffffffffffb", str(TOP - 4)),
    ("0x0000000000000c8c", "3212"),
])
def test_hex_and_decimal_renderings_of_one_value_are_one_number(hex_text: str, dec_text: str) -> None:
    assert as_int(hex_text) is not None
    assert as_int(dec_text) == as_int(hex_text)
    assert remembered(dec_text) == remembered(hex_text)  # the scan's memoised reader agrees
    assert hex_id(as_int(dec_text) or 0) == hex(int(dec_text))


@pytest.mark.parametrize("text", ["-1", "-9223372036854775808"])
def test_negative_decimals_in_range_stay_as_they_are(text: str) -> None:
    assert as_int(text) == int(text)


@pytest.mark.parametrize("text", [
    str(1 << 64),                   # one past 64 bits
    "99999999999999999999",         # 20 digits, above 2**64
    "-9223372036854775809",         # below the signed range
    "-18446744073709551615",        # a negative unsigned value is no id
    "0x1ffffffffffffffff",          # 17 hex digits
    "123456789012345678901",        # 21 digits
    "18446744073709551615x",
    "1.5",
    "",
    "-",
    "0x",
])
def test_values_beyond_64_bits_and_garbage_are_no_number(text: str) -> None:
    assert as_int(text) is None


def test_a_pid_in_decimal_past_2_63_owns_its_handle() -> None:
    """The 4688 names the process in hex, the 4656 in decimal: one process, owning the handle."""
    events = load(
        p4688(1, 0.0, "0xffffffffffffffff", r"C:\t\neg.exe", "0x4"),
        h4656(2, 1.0, str(TOP), "0x14", r"\REGISTRY\N2", r"C:\t\neg.exe"),
    )
    c = correlate(events, 2)
    assert c.source_process is not None and c.source_process.process is not None
    assert c.source_process.process.created is not None and c.source_process.process.created.record_id == 1
    assert c.source_handle is not None and c.source_handle.handle is not None
    assert c.source_handle.confidence == "exact" and c.source_handle.reason == "opened by this 4656"
