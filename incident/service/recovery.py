"""Resume from the database after the queue lost messages (a broker restart, a lost topic).

The database is the system of record: an incident not yet enriched has its event published
again (they are few). Pending notices are not republished here all at once: the periodic sweep
(`incident.service.sweep`) requeues those nobody has touched for a while, at a bounded cost.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import Incident
from incident.domain.model import IncidentStatus
from incident.service.enrich import Publisher
from incident.service.intake import incident_event


def resume_from_database(engine: Engine, publisher: Publisher, *, incidents_topic: str) -> int:
    """Returns the number of incident events republished."""
    with Session(engine) as session:
        raised = session.exec(
            select(Incident).where(Incident.status == IncidentStatus.RAISED.value)
        ).all()
    if not raised:
        return 0
    return publisher.publish_all(
        incidents_topic, [(incident.id, incident_event(incident)) for incident in raised]
    )
