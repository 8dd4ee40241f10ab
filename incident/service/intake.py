"""Intake: store a validated incident and its outbox row in one transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.documents import load_document
from incident.adapters.tables import AuditEvent, Incident, Outbox
from incident.domain.events import IncidentRaised
from incident.domain.incident_spec import IncidentSpec, parse_incident_spec
from incident.domain.model import IncidentStatus
from incident.service import bus


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


def raise_incident(engine: Engine, spec: IncidentSpec, *, topic: str, now: datetime) -> str:
    """Incident + Outbox + AuditEvent commit together or not at all; returns the incident id."""
    incident = incident_row(
        spec, incident_id=new_incident_id(now), status=IncidentStatus.RAISED.value, now=now
    )
    incident_id = incident.id
    with Session(engine) as session:
        session.add(incident)
        session.add(Outbox(topic=topic, key=incident.id, payload=incident_event(incident)))
        session.add(
            AuditEvent(
                incident_id=incident.id,
                kind="incident_raised",
                at=now,
                detail={"severity": incident.severity},
            )
        )
        session.flush()
        bus.handle(session, [IncidentRaised(incident_id)], now=now)  # the clocks start here
        session.commit()
    return incident_id
