"""Obligations become met when the notices that fulfil them are recorded.

- individuals: once no person's notice of the incident is pending and at least one person was
  told, at the time the last person was told (the unreachable go to the public notice);
- authority, credit bureaus, controller: when the report filed for that obligation (its notice's
  addressee is the obligation's key) is sent through the regulator channel;
- public / media: when the incident's public notice is sent.

Each obligation met is stamped with the time and an audit row naming the record that met it
and whether it was on time. Runs where the incident settles, under the incident's row lock that
`refresh_obligations` takes first (one lock order for every writer of obligations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, DeliveryAttempt, Notice
from incident.domain.model import AddresseeKind, NoticeStatus
from incident.service.obligations import open_obligations
from incident.service.report_filing import FILED_RECIPIENTS

TOLD = ("sent", "delivered", "confirmed")
PUBLIC_RECIPIENTS = ("public", "media")


def mark_met_obligations(session: Session, incident_id: str, *, now: datetime) -> int:
    """Mark every open obligation the recorded notices fulfil; returns how many were marked."""
    rows = [r for r in open_obligations(session, incident_id=incident_id) if r.status == "open"]
    marked = 0
    for row in rows:
        met = _met_by(session, row)
        if met is None:
            continue
        at, record = met
        row.status, row.met_at = "met", at
        session.add(row)
        on_time = None if row.due is None else at <= row.due
        session.add(
            AuditEvent(
                incident_id=incident_id,
                kind="obligation_met",
                at=now,
                detail={"key": row.key, "met_at": at.isoformat(), "met_by": record,
                        "on_time": on_time},
            )
        )  # fmt: skip
        marked += 1
    return marked


def _met_by(session: Session, row: ObligationRecord) -> tuple[datetime, str] | None:
    if row.recipient == "individuals":
        return _people_told(session, row.incident_id)
    if row.recipient in FILED_RECIPIENTS:
        return _notice_sent(session, row.incident_id, AddresseeKind.AUTHORITY.value, row.key)
    if row.recipient in PUBLIC_RECIPIENTS:
        return _notice_sent(session, row.incident_id, AddresseeKind.PUBLIC.value, None)
    return None  # registers: kept by the organisation, nothing is sent


def _people_told(session: Session, incident_id: str) -> tuple[datetime, str] | None:
    pending = session.exec(
        select(Notice.id)
        .where(
            Notice.incident_id == incident_id,
            Notice.addressee_kind == AddresseeKind.PERSON.value,
            Notice.status == NoticeStatus.PENDING.value,
        )
        .limit(1)
    ).first()
    if pending is not None:
        return None
    told, last = session.exec(
        select(func.count(), func.max(DeliveryAttempt.sent_at)).where(
            DeliveryAttempt.incident_id == incident_id,
            col(DeliveryAttempt.status).in_(TOLD),
            col(DeliveryAttempt.addressee_kind) == AddresseeKind.PERSON.value,
        )
    ).one()
    if not told or last is None:
        return None
    return last, f"{told} person notices delivered, the last at {last.isoformat()}"


def _notice_sent(
    session: Session, incident_id: str, kind: str, addressee: str | None
) -> tuple[datetime, str] | None:
    query = select(DeliveryAttempt.sent_at, DeliveryAttempt.idempotency_key).where(
        DeliveryAttempt.incident_id == incident_id,
        col(DeliveryAttempt.addressee_kind) == kind,
        col(DeliveryAttempt.status).in_(TOLD),
        col(DeliveryAttempt.sent_at).is_not(None),
    )
    if addressee is not None:
        query = query.where(DeliveryAttempt.addressee_id == addressee)
    first = session.exec(query.order_by(col(DeliveryAttempt.sent_at)).limit(1)).first()
    if first is None or first[0] is None:
        return None
    return first[0], f"delivery {first[1]}"
