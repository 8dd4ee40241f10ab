"""The periodic sweep: pending notices nobody has touched for a while get their job again.

The database is the system of record and the queue only transport: when a broker lost its data,
or a dispatcher died holding delayed jobs in memory, the notices are still `pending` here. The
sweep republishes only those untouched for `older_than` and not held by a live claim or a
scheduled retry, and touches them, so each costs at most one job per period — never a
republish of everything on every start.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.tables import DeliveryAttempt, Incident, Notice
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
    busy = exists().where(
        attempts.c.incident_id == notices.c.incident_id,
        attempts.c.addressee_id == notices.c.addressee_id,
        attempts.c.notice_version == notices.c.version,
        or_(
            and_(
                attempts.c.status == AttemptStatus.SENDING.value,
                attempts.c.claimed_at >= now - lease,
            ),
            and_(attempts.c.status == AttemptStatus.RETRY.value, attempts.c.not_before > now),
        ),
    )
    query = (
        select(
            notices.c.id,
            notices.c.incident_id,
            notices.c.addressee_id,
            notices.c.addressee_kind,
            notices.c.version,
        )
        .join(incidents, incidents.c.id == notices.c.incident_id)
        .where(
            notices.c.status == NoticeStatus.PENDING.value,
            incidents.c.status != IncidentStatus.RAISED.value,
            incidents.c.notice_version == notices.c.version,
            func.coalesce(notices.c.updated_at, notices.c.created_at) < now - older_than,
            ~busy,
        )
        .limit(PAGE)
    )
    total = 0
    with Session(engine) as session:
        rows = session.execute(query).all()
        if not rows:
            return 0
        items = []
        for _nid, incident_id, addressee_id, kind, version in rows:
            job = {"incident_id": incident_id, "person_id": addressee_id, "notice_version": version}
            if kind != "person":
                job["addressee_kind"] = kind
            items.append((addressee_id, job))
        total = publisher.publish_all(topic, items)
        session.execute(
            update(notices).where(notices.c.id == bindparam("nid")).values(updated_at=now),
            [{"nid": row[0]} for row in rows],
        )
        session.commit()
    return total
