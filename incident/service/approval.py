"""Two-person approval: a draft incident goes out only once an approver who is not its reporter
approves it. Approving records who, when and which content version (notice_version and the
SHA-256 of the content sections), and writes an `IncidentApproved` outbox row in the same
transaction: the enricher then publishes the jobs of the notices it stored for the draft. Until
then the enricher publishes no job of a draft and the dispatchers skip any job of one
(incident.service.planning), so the gate holds in the engine, not only in the CLI or API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.db import lock_for_update
from incident.adapters.operator_tables import IncidentApproval
from incident.adapters.tables import AuditEvent, Incident, Outbox
from incident.domain.model import IncidentStatus
from incident.errors import InvalidInput, NotFound
from incident.service.intake import approval_event, content_digest

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Approval:
    incident_id: str
    version: int
    content_sha256: str
    by: str
    at: datetime
    waived: bool = False
    reason: str | None = None


def same_person(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def approve_incident(
    engine: Engine, incident_id: str, *, by: str, topic: str, now: datetime
) -> Approval:
    """Approve the draft's current content version; refuses its reporter, an empty name and
    an incident that is not a draft (InvalidInput naming field, value and rule)."""
    if not by.strip() or len(by) > 100:
        raise InvalidInput("by", by, "the approver's name, 1 to 100 characters")
    with Session(engine) as session:
        incident = session.exec(
            lock_for_update(session, select(Incident).where(Incident.id == incident_id))
        ).first()
        if incident is None:
            raise NotFound("incident", incident_id)
        if incident.status != IncidentStatus.DRAFT.value:
            rule = f"it is {incident.status}, not a draft awaiting approval"
            raise InvalidInput("incident_id", incident_id, rule)
        if same_person(by, incident.reported_by):
            rule = "the reporter cannot approve their own incident: a second person must"
            raise InvalidInput("by", by, rule)
        approval = Approval(
            incident_id, incident.notice_version, content_digest(incident), by.strip(), now
        )
        session.add(
            IncidentApproval(
                incident_id=incident_id,
                version=approval.version,
                content_sha256=approval.content_sha256,
                decided_by=approval.by,
                decided_at=now,
            )
        )
        session.add(
            AuditEvent(
                incident_id=incident_id,
                kind="incident_approved",
                at=now,
                detail={
                    "by": approval.by,
                    "reported_by": incident.reported_by,
                    "version": approval.version,
                    "content_sha256": approval.content_sha256,
                },
            )
        )
        incident.status = IncidentStatus.RAISED.value
        session.add(incident)
        session.add(Outbox(topic=topic, key=incident_id, payload=approval_event(incident)))
        session.commit()
    log.info("incident_approved", incident_id=incident_id, version=approval.version)
    return approval


def approvals(engine: Engine, incident_id: str) -> list[Approval]:
    with Session(engine) as session:
        rows = session.exec(
            select(IncidentApproval)
            .where(IncidentApproval.incident_id == incident_id)
            .order_by(col(IncidentApproval.version))
        ).all()
    return [
        Approval(
            r.incident_id,
            r.version,
            r.content_sha256,
            r.decided_by,
            r.decided_at,
            r.waived,
            r.reason,
        )
        for r in rows
    ]
