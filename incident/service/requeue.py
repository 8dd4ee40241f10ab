"""Operator repair: move notices back to pending after a misclassified outage or a corrected
contact point, with an audit row saying who asked and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from incident.adapters.tables import AuditEvent, ContactPoint, DeliveryAttempt, Incident, Notice
from incident.domain.model import REQUEUABLE, RETURNED, AttemptStatus, NoticeStatus
from incident.errors import InvalidInput, NotFound

# Problems a delivery verdict left on a contact point (validation problems are not cleared:
# the directory must be corrected for those, and enrichment checks them again).
_VERDICT_PREFIXES = ("refused:", "bounced", "undelivered", "failed")


@dataclass(frozen=True, slots=True)
class RequeueResult:
    notices: int
    attempts: int
    contact_points: int


def requeue(
    session: Session,
    incident_id: str,
    *,
    status: str,
    channel: str | None,
    reason: str,
    now: datetime,
) -> RequeueResult:
    """`status`: `unreachable` notices, or `failed` attempts (of notices not yet sent).
    The caller commits and then publishes the jobs (or leaves them to the sweep)."""
    if status not in REQUEUABLE:
        raise InvalidInput("--status", status, f"one of {', '.join(REQUEUABLE)}")
    if not reason.strip():
        raise InvalidInput("--reason", reason, "say why, for the audit trail")
    if session.get(Incident, incident_id) is None:
        raise NotFound("incident", incident_id)
    open_states = (
        [NoticeStatus.UNREACHABLE.value]
        if status == "unreachable"
        else [NoticeStatus.UNREACHABLE.value, NoticeStatus.PENDING.value]
    )
    notices = session.exec(
        select(Notice).where(Notice.incident_id == incident_id, col(Notice.status).in_(open_states))
    ).all()
    addressees = [n.addressee_id for n in notices]
    attempts_q = select(DeliveryAttempt).where(
        DeliveryAttempt.incident_id == incident_id,
        col(DeliveryAttempt.addressee_id).in_(addressees),
        col(DeliveryAttempt.status).in_([s.value for s in RETURNED]),
    )
    if channel:
        attempts_q = attempts_q.where(DeliveryAttempt.channel == channel)
    attempts = session.exec(attempts_q).all()
    for attempt in attempts:
        attempt.status, attempt.tries, attempt.not_before = AttemptStatus.RETRY.value, 0, None
        attempt.error = f"requeued by operator: {reason}"
        attempt.updated_at = now
        session.add(attempt)
    points = [a.contact_point_id for a in attempts if a.contact_point_id is not None]
    cleared = 0
    if points:
        table = ContactPoint.__table__  # type: ignore[attr-defined]
        cleared = session.execute(  # type: ignore[attr-defined]
            update(table)
            .where(
                table.c.id.in_(points),
                or_(*[table.c.problem.startswith(p) for p in _VERDICT_PREFIXES]),
            )
            .values(problem=None, checked_at=now)
        ).rowcount
    moved = 0
    for notice in notices:
        if notice.status == NoticeStatus.UNREACHABLE.value or status == "failed":
            moved += notice.status == NoticeStatus.UNREACHABLE.value
            notice.status, notice.reason, notice.updated_at = NoticeStatus.PENDING.value, None, now
            session.add(notice)
    session.add(
        AuditEvent(
            incident_id=incident_id,
            kind="notices_requeued",
            at=now,
            detail={
                "status": status,
                "channel": channel,
                "reason": reason,
                "notices": moved,
                "attempts": len(attempts),
                "contact_points_cleared": cleared,
            },
        )
    )
    return RequeueResult(moved, len(attempts), cleared)
