"""Enrichment: resolve an incident's scope against the directory, store who is affected and who
receives each notice, then queue one notice job per person (ids only) on the `notices` topic."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.tables import (
    AffectedPerson,
    AuditEvent,
    Incident,
    Notice,
    Person,
    ProcessedEvent,
)
from incident.domain.audience import ContactCheck, DirectoryEntry, decide_audience
from incident.domain.model import IncidentStatus, NoticeStatus
from incident.errors import NotFound
from incident.service.obligations import recompute_obligations

log = structlog.get_logger()
CHUNK = 2000
CONSUMER = "enricher"


class Publisher(Protocol):
    def publish_all(self, topic: str, items: Any) -> int: ...


@dataclass(frozen=True, slots=True)
class EnrichmentResult:
    incident_id: str
    affected: int
    queued: int
    already_processed: bool = False


def _entry(p: Person) -> DirectoryEntry:
    contacts = {
        "email": p.email,
        "phone": p.phone,
        "postal_address": "\n".join(p.postal_address.values()) or None,
    }
    return DirectoryEntry(
        p.id, p.country, p.region, p.is_minor, p.birth_date, p.guardian_id, contacts
    )


def _people_in_scope(session: Session, scope: Mapping[str, Any]) -> Iterator[list[Person]]:
    """Chunks of directory rows, so a million people never sit in memory at once."""
    if "people" in scope:
        ids: Sequence[str] = scope["people"]
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            yield list(session.exec(select(Person).where(col(Person.id).in_(chunk))).all())
        return
    where = or_(
        col(Person.country).in_(scope.get("countries", [])),
        col(Person.region).in_(scope.get("regions", [])),
    )
    last = ""
    while True:  # keyset pagination: stable and cheap on both engines
        rows = list(
            session.exec(
                select(Person)
                .where(where, col(Person.id) > last)
                .order_by(col(Person.id))
                .limit(CHUNK)
            ).all()
        )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _guardians(session: Session, people: list[Person]) -> dict[str, Person]:
    ids = {p.guardian_id for p in people if p.guardian_id}
    if not ids:
        return {}
    return {g.id: g for g in session.exec(select(Person).where(col(Person.id).in_(ids))).all()}


def _store_audience(
    engine: Engine,
    incident: Incident,
    *,
    checks: Mapping[str, ContactCheck],
    majority_ages: Mapping[str, int],
    now: datetime,
) -> int:
    affected = 0
    with Session(engine) as reader:
        for people in _people_in_scope(reader, incident.scope):
            guardians = _guardians(reader, people)
            decisions = [
                decide_audience(
                    _entry(p),
                    _entry(guardians[p.guardian_id]) if p.guardian_id in guardians else None,
                    today=now.date(),
                    majority_ages=majority_ages,
                    checks=checks,
                )
                for p in people
            ]
            with Session(engine) as writer:
                insert_ignoring_duplicates(
                    writer,
                    AffectedPerson,
                    [
                        {
                            "incident_id": incident.id,
                            "person_id": d.person_id,
                            "jurisdiction": d.jurisdiction,
                            "categories": incident.categories,
                            "is_minor": d.is_minor,
                            "recipient_id": d.recipient_id,
                            "contact_problems": d.contact_problems,
                        }
                        for d in decisions
                    ],
                )
                insert_ignoring_duplicates(
                    writer,
                    Notice,
                    [
                        {
                            "incident_id": incident.id,
                            "person_id": d.person_id,
                            "recipient_id": d.recipient_id,
                            "version": incident.notice_version,
                            "status": NoticeStatus.PENDING.value,
                            "created_at": now,
                        }
                        for d in decisions
                    ],
                )
                writer.commit()
            affected += len(decisions)
    return affected


def queue_pending(engine: Engine, incident: Incident, publisher: Publisher, topic: str) -> int:
    """Publish a job for every notice still pending: after a crash this re-queues the rest."""
    queued = 0
    with Session(engine) as session:
        pending = session.exec(
            select(Notice.person_id).where(
                Notice.incident_id == incident.id,
                Notice.version == incident.notice_version,
                Notice.status == NoticeStatus.PENDING.value,
            )
        ).partitions(10_000)
        for part in pending:
            queued += publisher.publish_all(
                topic,
                [
                    (
                        pid,
                        {
                            "incident_id": incident.id,
                            "person_id": pid,
                            "notice_version": incident.notice_version,
                        },
                    )
                    for pid in part
                ],
            )
    return queued


def enrich_incident(
    engine: Engine,
    event: Mapping[str, Any],
    *,
    publisher: Publisher,
    notices_topic: str,
    checks: Mapping[str, ContactCheck],
    majority_ages: Mapping[str, int],
    now: datetime,
) -> EnrichmentResult:
    incident_id, event_id = str(event["incident_id"]), str(event["event_id"])
    with Session(engine) as session:
        if session.get(ProcessedEvent, (CONSUMER, event_id)) is not None:
            return EnrichmentResult(incident_id, 0, 0, already_processed=True)
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
    affected = _store_audience(
        engine, incident, checks=checks, majority_ages=majority_ages, now=now
    )
    queued = queue_pending(engine, incident, publisher, notices_topic)
    with Session(engine) as session:
        stored = session.get(Incident, incident_id)
        assert stored is not None
        stored.status = IncidentStatus.ENRICHED.value
        session.add(stored)
        session.add(ProcessedEvent(consumer=CONSUMER, event_id=event_id, processed_at=now))
        session.add(
            AuditEvent(
                incident_id=incident_id,
                kind="incident_enriched",
                at=now,
                detail={"affected": affected, "queued": queued},
            )
        )
        recompute_obligations(session, incident_id, now=now)  # counts per jurisdiction known
        session.commit()
    log.info("incident_enriched", affected=affected, queued=queued)
    return EnrichmentResult(incident_id, affected, queued)
