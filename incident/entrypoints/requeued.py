"""What a command run outside `serve` says about the people a receipt moved on."""

from __future__ import annotations

from incident.domain.model import NoticeJob
from incident.settings import Settings


def publish_moved_on(settings: Settings, jobs: list[NoticeJob], what: str) -> str:
    """A line saying what happened. The jobs were stored in the outbox with their receipts
    (incident.service.receipts): the service's relay publishes them within a second."""
    if not jobs:
        return ""
    where = "" if settings.kafka.bootstrap_servers else " once `serve` runs"
    return f"{len(jobs)} {what} person(s) queued for their next channel{where}"
