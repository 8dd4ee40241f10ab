"""Intake: store a validated incident and its outbox row in one transaction.

A raised incident is a `draft` until an approver who is not the reporter approves it
(incident.service.approval). A draft is enriched (who is affected, where, how to reach them)
so its obligations and deadline clocks are known and run, but no notice job is published and
dispatchers skip its jobs: nothing is sent to people. A severity in `[approval] waive` skips
the draft: the waiver is logged and recorded (`approval_waived`, an `incident_approval` row).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.documents import load_document
from incident.adapters.operator_tables import IncidentApproval
from incident.adapters.tables import AuditEvent, Incident, Outbox
from incident.domain.events import IncidentRaised
from incident.domain.incident_spec import IncidentSpec, parse_incident_spec
from incident.domain.model import IncidentStatus
from incident.service import bus
from incident.settings import ApprovalSettings

log = structlog.get_logger()
# What people are told: a change to any of these is a new content version to approve.
CONTENT_FIELDS = (
    "title",
    "severity",
    "description",
    "impact",
    "measures_taken",
    "measures_planned",
    "advice",
    "remedies",
    "categories",
    "scope",
    "flags",
    "contact",
)


def load_incident_file(path: Path) -> IncidentSpec:
    """Read YAML or JSON through the bounded loader and validate; errors name the problem."""
    return parse_incident_spec(load_document(path))


def new_incident_id(now: datetime) -> str:
    return f"INC-{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


def incident_event(incident: Incident) -> dict[str, Any]:
    """The `incidents` topic payload: ids only, never contact details or notice text."""
    return {
        "type": "IncidentRaised",
        "event_id": f"{incident.id}:v{incident.notice_version}",
        "incident_id": incident.id,
        "notice_version": incident.notice_version,
    }


def approval_event(incident: Incident) -> dict[str, Any]:
    """The `incidents` topic payload once a second person approved a draft: queue its notices."""
    return {
        "type": "IncidentApproved",
        "event_id": f"{incident.id}:v{incident.notice_version}:approved",
        "incident_id": incident.id,
        "notice_version": incident.notice_version,
    }


def incident_row(spec: IncidentSpec, *, incident_id: str, status: str, now: datetime) -> Incident:
    """The row an incident file becomes (stored by intake, or kept in memory by a preview)."""
    return Incident(
        id=incident_id,
        title=spec.title,
        severity=spec.severity.value,
        status=status,
        description=spec.description,
        impact=spec.impact,
        measures_taken=spec.measures_taken,
        measures_planned=spec.measures_planned,
        advice=spec.advice,
        remedies=spec.remedies,
        categories=[c.value for c in spec.categories],
        scope=spec.scope.model_dump(exclude_none=True),
        flags=spec.flags,
        contact=spec.contact.model_dump(exclude_none=True),
        aware_at=spec.aware_at,
        discovered_at=spec.discovered_at,
        occurred_at=spec.occurred_at,
        created_at=now,
        role=spec.role,
        controller=spec.controller.model_dump(exclude_none=True) if spec.controller else {},
    )


def waiver(approval: ApprovalSettings, severity: str) -> str | None:
    """Why this severity needs no second person, or None when it does."""
    if severity in approval.waive:
        return f"[approval] waive includes severity {severity!r}"
    return None


def content_digest(incident: Incident) -> str:
    """SHA-256 of the content sections people are told (canonical JSON): the version approved."""
    content = {name: getattr(incident, name) for name in CONTENT_FIELDS}
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def raise_incident(
    engine: Engine,
    spec: IncidentSpec,
    *,
    topic: str,
    now: datetime,
    reporter: str = "unknown",
    approval: ApprovalSettings | None = None,
) -> str:
    """Incident + AuditEvent (+ Outbox when approval is waived) commit together or not at all;
    returns the incident id. Without `approval` settings a second person must approve."""
    waived = waiver(approval or ApprovalSettings(), spec.severity.value)
    status = IncidentStatus.RAISED if waived else IncidentStatus.DRAFT
    incident = incident_row(spec, incident_id=new_incident_id(now), status=status.value, now=now)
    incident.reported_by = reporter
    incident_id = incident.id
    with Session(engine) as session:
        session.add(incident)
        session.flush()  # the incident row before the rows that refer to it
        session.add(
            AuditEvent(
                incident_id=incident.id,
                kind="incident_raised",
                at=now,
                detail={"severity": incident.severity, "by": reporter, "status": status.value},
            )
        )
        session.add(Outbox(topic=topic, key=incident.id, payload=incident_event(incident)))
        if waived:
            _waive(session, incident, waived, now=now)
        session.flush()
        bus.handle(session, [IncidentRaised(incident_id)], now=now)  # the clocks start here
        session.commit()
    return incident_id


def _waive(session: Session, incident: Incident, reason: str, *, now: datetime) -> None:
    log.warning("approval_waived", incident_id=incident.id, reason=reason)
    version, digest = incident.notice_version, content_digest(incident)
    session.add(
        IncidentApproval(
            incident_id=incident.id,
            version=version,
            content_sha256=digest,
            decided_by="setting",
            decided_at=now,
            waived=True,
            reason=reason,
        )
    )
    session.add(
        AuditEvent(
            incident_id=incident.id,
            kind="approval_waived",
            at=now,
            detail={"reason": reason, "version": version, "content_sha256": digest},
        )
    )
