"""The periodic sweep: pending notices nobody has touched for a while get their job again.

The database is the system of record and the queue only transport: when a broker lost its data,
or a dispatcher died holding delayed jobs in memory, the notices are still `pending` here. The
sweep republishes only those untouched for `older_than` and not held by a live claim or a
scheduled retry, and touches them, so each costs at most one job per period — never a
republish of everything on every start.

Escalation timers are rows too (attempts in status `scheduled`): a notice already `sent` or
`delivered` whose timer is due gets its job again the same way, so a step fires after a restart
(and a timer hours away never has to be held in a dispatcher's memory).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.tables import DeliveryAttempt, Incident, Notice
from incident.domain.escalation import SCHEDULED
from incident.domain.messages import job_message
from incident.domain.model import AttemptStatus, IncidentStatus, NoticeStatus
from incident.service.enrich import Publisher

PAGE = 5000


def sweep_stale(
    engine: Engine,
    publisher: Publisher,
    *,
    topic: str,
    now: datetime,
    older_than: timedelta,
    lease: timedelta,
) -> int:
    notices = Notice.__table__  # type: ignore[attr-defined]
    attempts = DeliveryAttempt.__table__  # type: ignore[attr-defined]
    incidents = Incident.__table__  # type: ignore[attr-defined]
    same_notice = and_(
        attempts.c.incident_id == notices.c.incident_id,
        attempts.c.addressee_id == notices.c.addressee_id,
        attempts.c.notice_version == notices.c.version,
    )
    columns = (
        notices.c.id,
        notices.c.incident_id,
        notices.c.addressee_id,
        notices.c.addressee_kind,
        notices.c.version,
    )
    current = and_(
        incidents.c.status.not_in([IncidentStatus.RAISED.value, IncidentStatus.DRAFT.value]),
        incidents.c.notice_version == notices.c.version,
        func.coalesce(notices.c.updated_at, notices.c.created_at) < now - older_than,
    )
    pending = (
        select(*columns)
        .join(incidents, incidents.c.id == notices.c.incident_id)
        .where(
            notices.c.status == NoticeStatus.PENDING.value,
            current,
            ~_held(notices, now, lease, timers=True),
        )
        .limit(PAGE)
    )
    # Escalation timers that are due, found from the timer rows (few) rather than the notices.
    open_ = [s.value for s in NoticeStatus if s is not NoticeStatus.UNREACHABLE]
    timers = (
        select(*columns)
        .distinct()
        .select_from(incidents)
        .join(attempts, attempts.c.incident_id == incidents.c.id)
        .join(notices, same_notice)
        .where(
            attempts.c.status == SCHEDULED,
            attempts.c.not_before <= now,
            notices.c.status.in_(open_),
            current,
            ~_held(notices, now, lease, timers=False),
        )
        .limit(PAGE)
    )
    total = 0
    with Session(engine) as session:
        rows = list(session.execute(pending).all())
        seen = {row[0] for row in rows}
        rows += [row for row in session.execute(timers).all() if row[0] not in seen]
        if not rows:
            return 0
        items = []
        for _nid, incident_id, addressee_id, kind, version in rows:
            items.append(job_message(incident_id, addressee_id, version, kind))
        total = publisher.publish_all(topic, items)
        session.execute(
            update(notices).where(notices.c.id == bindparam("nid")).values(updated_at=now),
            [{"nid": row[0]} for row in rows],
        )
        session.commit()
    return total


def _held(notices: Any, now: datetime, lease: timedelta, *, timers: bool) -> Any:
    """The notice has a live claim, a retry not due yet, or (`timers`) a timer not due yet."""
    other = DeliveryAttempt.__table__.alias("held")  # type: ignore[attr-defined]
    waiting = [
        and_(other.c.status == AttemptStatus.SENDING.value, other.c.claimed_at >= now - lease),
        and_(other.c.status == AttemptStatus.RETRY.value, other.c.not_before > now),
    ]
    if timers:
        waiting.append(and_(other.c.status == SCHEDULED, other.c.not_before > now))
    return exists().where(
        other.c.incident_id == notices.c.incident_id,
        other.c.addressee_id == notices.c.addressee_id,
        other.c.notice_version == notices.c.version,
        or_(*waiting),
    )
