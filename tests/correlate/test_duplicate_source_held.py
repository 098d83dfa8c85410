"""A 4690's source handle when the value is reopened soon after: the handle that held the value
at the 4690 (its own 4658 logged after it) is the source, not the nearer later open."""

from __future__ import annotations

from tests.correlate.events import correlate, d4690, h4656, h4658, load, p4688


def test_a_handle_closed_after_the_4690_is_its_source_over_a_nearer_reopen_of_the_value() -> None:
    app = r"C:\Tools\app.exe"
    events = load(
        p4688(1, 0.0, "0x600", app, "0x4"),
        h4656(2, 0.1, "0x600", "0x44", r"\REGISTRY\HELD", app),
        d4690(3, 0.8, "0x600", "0x44", "0x4", "0x90"),
        h4658(4, 0.85, "0x600", "0x44", app),
        h4656(5, 0.9, "0x600", "0x44", r"\REGISTRY\LATER", app),
        h4658(6, 1.5, "0x600", "0x44", app),
    )
    c = correlate(events, 3)
    sh = c.source_handle
    assert sh is not None and sh.handle is not None
    assert sh.handle.opened is not None and sh.handle.opened.record_id == 2
    assert sh.confidence == "exact" and sh.reason == "opened by 4656 record 2, still open at this 4690"
    assert sh.handle.object_name == r"\REGISTRY\HELD"
    th = c.target_handle
    assert th is not None and th.handle is not None and th.handle.object_name == r"\REGISTRY\HELD"
