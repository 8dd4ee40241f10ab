"""Outbox relay: publish committed outbox rows to Kafka, then mark them published."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import Outbox
from incident.errors import ConfigError


class Publisher(Protocol):
    def publish_all(self, topic: str, items: list[tuple[str, dict[str, object]]]) -> int: ...


def relay_outbox(
    engine: Engine,
    publisher: Publisher,
    *,
    now: datetime,
    limit: int = 500,
    topics: Mapping[str, str] | None = None,
) -> int:
    """Publish up to `limit` unpublished rows; returns how many were published.

    `topics` resolves logical topic names (`@notices`, see job_outbox) to configured ones.
    A crash after publishing but before the commit republishes those rows: consumers
    deduplicate, so the effect stays exactly once.
    """
    with Session(engine) as session:
        rows = session.exec(
            select(Outbox)
            .where(col(Outbox.published_at).is_(None))
            .order_by(col(Outbox.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        by_topic: dict[str, list[Outbox]] = {}
        for row in rows:
            by_topic.setdefault(row.topic, []).append(row)
        for topic, topic_rows in by_topic.items():
            target = _resolved(topic, topics or {})
            publisher.publish_all(target, [(r.key, r.payload) for r in topic_rows])
        for row in rows:
            row.published_at = now
            session.add(row)
        session.commit()
        return len(rows)


def _resolved(topic: str, topics: Mapping[str, str]) -> str:
    if not topic.startswith("@"):
        return topic
    if topic not in topics:
        known = ", ".join(sorted(topics)) or "none"
        raise ConfigError("outbox", topic, "topic", f"no configured topic for it (known: {known})")
    return topics[topic]
