"""A publisher that keeps what enrichment queued, for tests that call it without a broker."""

from __future__ import annotations

from typing import Any


class ListPublisher:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def publish_all(self, topic: str, items: Any) -> int:
        items = list(items)
        self.sent += items
        return len(items)
