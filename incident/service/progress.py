"""Where an incident's notices stand: counts by status, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import AffectedPerson, AuditEvent, DeliveryAttempt, Notice
from incident.domain.model import AttemptStatus


@dataclass(frozen=True, slots=True)
class NoticeCounts:
    affected: int
    pending: int
    sent: int
    unreachable: int
    failed_attempts: int = 0  # delivery attempts refused for good (the notice may still go out)

    @property
    def settled(self) -> int:
        return self.sent + self.unreachable

    @property
    def done(self) -> bool:
        return self.affected > 0 and self.pending == 0


def notice_counts(engine: Engine, incident_id: str) -> NoticeCounts:
    with Session(engine) as session:
        affected = session.exec(
            select(func.count())
            .select_from(AffectedPerson)
            .where(AffectedPerson.incident_id == incident_id)
        ).one()
        rows = session.exec(
            select(Notice.status, func.count())
            .where(Notice.incident_id == incident_id, Notice.addressee_kind == "person")
            .group_by(Notice.status)
        ).all()
        failed = session.exec(
            select(func.count())
            .select_from(DeliveryAttempt)
            .where(
                DeliveryAttempt.incident_id == incident_id,
                DeliveryAttempt.status == AttemptStatus.FAILED.value,
            )
        ).one()
    by_status = dict(rows)
    return NoticeCounts(
        affected,
        by_status.get("pending", 0),
        sum(by_status.get(s, 0) for s in ("sent", "delivered", "confirmed")),
        by_status.get("unreachable", 0),
        failed,
    )


def enrichment_report(engine: Engine, incident_id: str) -> dict[str, Any] | None:
    """What enrichment found: people affected, directory rows it could not use, and scope
    keys that matched nobody (counted, and the first of them listed)."""
    with Session(engine) as session:
        row = session.exec(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id, AuditEvent.kind == "incident_enriched")
            .order_by(col(AuditEvent.id).desc())
        ).first()
    return dict(row.detail) if row is not None else None


def sent_by_channel(engine: Engine, incident_id: str) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(
            select(Notice.channel, func.count())
            .where(
                Notice.incident_id == incident_id,
                col(Notice.status).in_(["sent", "delivered", "confirmed"]),
            )
            .group_by(Notice.channel)
        ).all()
    return {str(channel): n for channel, n in sorted(rows, key=lambda r: -r[1])}
