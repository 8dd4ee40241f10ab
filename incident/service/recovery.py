"""Resume from the database after the queue lost messages (a broker restart, a lost topic).

The database is the system of record: an incident not yet enriched has its event published
again (they are few). Pending notices are not republished here all at once: the periodic sweep
(`incident.service.sweep`) requeues those nobody has touched for a while, at a bounded cost.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.operator_tables import IncidentApproval
from incident.adapters.tables import Incident
from incident.domain.model import IncidentStatus
from incident.service.enrich import Publisher
from incident.service.intake import approval_event, incident_event

_NOT_ENRICHED = (IncidentStatus.RAISED.value, IncidentStatus.DRAFT.value)


def resume_from_database(engine: Engine, publisher: Publisher, *, incidents_topic: str) -> int:
    """Returns the number of incident events republished. A draft's event comes again (it is
    enriched, nothing sent); an approved one's approval too (events already handled are
    recognised and skipped by the enricher)."""
    with Session(engine) as session:
        raised = session.exec(select(Incident).where(col(Incident.status).in_(_NOT_ENRICHED))).all()
        approved = (
            set(
                session.exec(
                    select(IncidentApproval.incident_id).where(
                        col(IncidentApproval.incident_id).in_([i.id for i in raised]),
                        col(IncidentApproval.waived).is_(False),
                    )
                ).all()
            )
            if raised
            else set()
        )
    if not raised:
        return 0
    events = [(incident.id, incident_event(incident)) for incident in raised]
    events += [(i.id, approval_event(i)) for i in raised if i.id in approved]
    return publisher.publish_all(incidents_topic, events)
