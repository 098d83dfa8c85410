"""What the event table's reader (`tui.page_fetcher.PageFetcher`) posts to, in the tests that
drive it without an app: a target that queues every message (`Target`)."""

from __future__ import annotations

import queue
from typing import Any

from tui.page_fetcher import PageFetcher


class Target:
    """Collects what the fetcher posts (the table, in the app)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[PageFetcher.Fetched] = queue.Queue()

    def post_message(self, message: Any) -> bool:
        self.messages.put(message)
        return True
