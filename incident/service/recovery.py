"""Resume from the database after the queue lost messages (a broker restart, a lost topic).

The database is the system of record: an incident not yet enriched has its event published
again, and every notice still pending gets its job again. Duplicates are harmless: the enricher
skips processed events and the dispatcher's claims skip settled notices.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import Incident, Notice
from incident.domain.model import IncidentStatus, NoticeStatus
from incident.service.enrich import Publisher, queue_pending
from incident.service.intake import incident_event


def resume_from_database(
    engine: Engine, publisher: Publisher, *, incidents_topic: str, notices_topic: str
) -> tuple[int, int]:
    """Returns (incident events republished, notice jobs republished)."""
    with Session(engine) as session:
        raised = session.exec(
            select(Incident).where(Incident.status == IncidentStatus.RAISED.value)
        ).all()
        with_pending = session.exec(
            select(Incident).where(
                Incident.status == IncidentStatus.ENRICHED.value,
                col(Incident.id).in_(
                    select(Notice.incident_id)
                    .where(Notice.status == NoticeStatus.PENDING.value)
                    .distinct()
                ),
            )
        ).all()
    events = (
        publisher.publish_all(
            incidents_topic, [(incident.id, incident_event(incident)) for incident in raised]
        )
        if raised
        else 0
    )
    jobs = sum(
        queue_pending(engine, incident, publisher, notices_topic) for incident in with_pending
    )
    return events, jobs
