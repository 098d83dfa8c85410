"""The status line at 80 columns keeps the parse-issue count visible while a log loads."""

from __future__ import annotations

from tests.apputil import DEMO, opened, screen_text, sync
from tui.app import EvtxApp
from tui.status import LoadState


@sync
async def test_status_line_shows_parse_issues_while_loading_at_80_columns() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (80, 24)) as pilot:
        # As the app is while a big log with damaged chunks is still being read.
        app.loader.state = LoadState(records=1_234_567, bytes_done=50_000_000, bytes_total=105_000_000,
                                   elapsed=20.0, active=True)
        app.issue_count = 1_234
        app.error_count = 1
        app._refresh_status()
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "1,234 parse issues" in text
        assert "esc stops" in text
