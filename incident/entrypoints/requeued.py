"""Publishing the jobs of people a receipt moved on, from a command run outside `serve`."""

from __future__ import annotations

from incident.domain.messages import encode_job
from incident.domain.model import NoticeJob
from incident.settings import Settings


def publish_moved_on(settings: Settings, jobs: list[NoticeJob], what: str) -> str:
    """Publish the jobs; a line saying what happened. Without a broker, or when publishing fails,
    the notices stay pending in the database and the service's sweep republishes them."""
    if not jobs:
        return ""
    pending = f"{len(jobs)} {what} notice(s) left pending; the service's sweep republishes them"
    if not settings.kafka.bootstrap_servers:
        return f"no broker configured (kafka.bootstrap_servers): {pending}"
    from incident.adapters.kafka_bus import MessageProducer

    try:
        producer = MessageProducer(settings.kafka, settings.kafka.bootstrap_servers)
        try:
            producer.publish_all(settings.kafka.notices_topic, [encode_job(j) for j in jobs])
        finally:
            producer.close()
    except Exception as exc:  # stored already: publishing only saves waiting for the sweep
        return f"publishing failed ({type(exc).__name__}: {exc}): {pending}"
    return f"{len(jobs)} person(s) moved on to their next channel"
