"""Enrichment: resolve an incident's scope against the directory, store who is affected, who
receives each notice and which of their contact points are usable, then queue one notice job
per person (ids only) on the `notices` topic, chunk by chunk as the scope is read.

Every person is decided on their own: a malformed directory row becomes an AffectedPerson with
the problem recorded, never an exception that stops the incident (or the service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import and_, bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from channels.base import ContactCheck
from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.tables import (
    AffectedPerson,
    AuditEvent,
    ContactPoint,
    Incident,
    Notice,
    Person,
    ProcessedEvent,
)
from incident.domain.audience import AudienceDecision, DirectoryEntry, decide_audience
from incident.domain.contacts import check_points, kind_problems
from incident.domain.jurisdiction import is_valid_jurisdiction, jurisdiction_of, region_variants
from incident.domain.model import IncidentStatus, NoticeStatus
from incident.errors import NotFound
from incident.service.directory import load_contacts

log = structlog.get_logger()
CHUNK = 2000
CONSUMER = "enricher"
MISSING_LISTED = 1000  # ids listed in the report; all of them are counted


class Publisher(Protocol):
    def publish_all(self, topic: str, items: Any) -> int: ...


@dataclass(frozen=True, slots=True)
class EnrichmentResult:
    incident_id: str
    affected: int
    queued: int
    already_processed: bool = False
    not_in_directory: int = 0
    malformed: int = 0


@dataclass
class _Report:
    affected: int = 0
    queued: int = 0
    malformed: int = 0
    missing_count: int = 0
    missing: list[str] = field(default_factory=list)

    def missed(self, ids: Sequence[str]) -> None:
        self.missing_count += len(ids)
        self.missing.extend(ids[: max(0, MISSING_LISTED - len(self.missing))])


def _entry(p: Person) -> DirectoryEntry:
    return DirectoryEntry(p.id, p.country, p.region, p.is_minor, p.birth_date, p.guardian_id)


def _place_filter(scope: Mapping[str, Any]) -> Any:
    """Countries, and regions matched however the directory stores them: `US-CA` or `CA`."""
    clauses: list[Any] = [col(Person.country).in_(scope.get("countries", []))]
    for region in scope.get("regions", []):
        country = region.split("-", 1)[0]
        clauses.append(
            and_(col(Person.country) == country, col(Person.region).in_(region_variants(region)))
        )
    return or_(*clauses)


def _people_in_scope(
    session: Session, scope: Mapping[str, Any], report: _Report
) -> Iterator[list[Person]]:
    """Chunks of directory rows, so a million people never sit in memory at once."""
    if "people" in scope:
        ids: Sequence[str] = list(dict.fromkeys(scope["people"]))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            rows = list(session.exec(select(Person).where(col(Person.id).in_(chunk))).all())
            found = {p.id for p in rows}
            report.missed([pid for pid in chunk if pid not in found])
            yield rows
        return
    where = _place_filter(scope)
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


def _by_id(session: Session, ids: set[str]) -> dict[str, Person]:
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids))).all()}


def _decide(
    person: Person, guardians: Mapping[str, Person], *, now: datetime, ages: Mapping[str, int]
) -> AudienceDecision:
    """One person's decision; a malformed row is recorded as a problem of that person."""
    guardian = guardians.get(person.guardian_id) if person.guardian_id else None
    try:
        place = jurisdiction_of(person.country, person.region)
        if not (is_valid_jurisdiction(person.country) and is_valid_jurisdiction(place)):
            raise ValueError(f"country/region {place!r} is not an ISO 3166 code")
        return decide_audience(
            _entry(person),
            _entry(guardian) if guardian is not None else None,
            today=now.date(),
            majority_ages=ages,
        )
    except Exception as exc:
        reason = f"directory row unusable: {type(exc).__name__}: {exc}"[:300]
        # Unknown place: told by whatever channel still works, and flagged for a person to see.
        return AudienceDecision(person.id, "ZZ", False, person.id, {"directory": reason})


@dataclass(frozen=True)
class EnrichContext:
    publisher: Publisher
    notices_topic: str
    checks: Mapping[str, ContactCheck]
    majority_ages: Mapping[str, int]
    now: datetime
    tick: Callable[[], None] = lambda: None  # called between chunks (consumer keep-alive)


def _store_chunk(
    engine: Engine,
    incident: Incident,
    reader: Session,
    people: list[Person],
    ctx: EnrichContext,
    report: _Report,
) -> None:
    guardians = _by_id(reader, {p.guardian_id for p in people if p.guardian_id})
    decisions = [_decide(p, guardians, now=ctx.now, ages=ctx.majority_ages) for p in people]
    report.malformed += sum(1 for d in decisions if "directory" in d.problems)
    people_by_id = {p.id: p for p in people} | guardians
    contacts = load_contacts(reader, {d.recipient_id for d in decisions}, ctx.checks.keys())
    checked: dict[int, str | None] = {}
    affected_rows = []
    for d in decisions:
        points = contacts.get(d.recipient_id, [])
        recipient = people_by_id.get(d.recipient_id)
        found = check_points(points, ctx.checks, recipient.country if recipient else None)
        checked.update(found)
        problems = {**kind_problems(ctx.checks.keys(), points, found), **d.problems}
        affected_rows.append(
            {
                "incident_id": incident.id,
                "person_id": d.person_id,
                "jurisdiction": d.jurisdiction,
                "categories": incident.categories,
                "is_minor": d.is_minor,
                "recipient_id": d.recipient_id,
                "contact_problems": problems,
            }
        )
    stored = {p.id: p.problem for pts in contacts.values() for p in pts}
    changed = [(pid, why) for pid, why in checked.items() if stored.get(pid) != why]
    with Session(engine) as writer:
        _record_point_problems(writer, changed, ctx.now)
        insert_ignoring_duplicates(writer, AffectedPerson, affected_rows)
        insert_ignoring_duplicates(
            writer, Notice, [_notice_row(incident, d, ctx.now) for d in decisions]
        )
        writer.commit()
    report.affected += len(decisions)
    report.queued += ctx.publisher.publish_all(
        ctx.notices_topic, [(d.person_id, _job(incident, d.person_id)) for d in decisions]
    )
    ctx.tick()


def _record_point_problems(
    session: Session, changed: list[tuple[int, str | None]], now: datetime
) -> None:
    if not changed:
        return
    table = ContactPoint.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == bindparam("pid"))
        .values(problem=bindparam("why"), checked_at=now),
        [{"pid": pid, "why": why} for pid, why in changed],
    )


def _notice_row(incident: Incident, d: AudienceDecision, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident.id,
        "addressee_kind": "person",
        "addressee_id": d.person_id,
        "person_id": d.person_id,
        "recipient_id": d.recipient_id,
        "version": incident.notice_version,
        "status": NoticeStatus.PENDING.value,
        "created_at": now,
    }


def _job(incident: Incident, addressee_id: str, kind: str = "person") -> dict[str, Any]:
    job: dict[str, Any] = {
        "incident_id": incident.id,
        "person_id": addressee_id,
        "notice_version": incident.notice_version,
    }
    if kind != "person":
        job["addressee_kind"] = kind
    return job


def queue_pending(engine: Engine, incident: Incident, publisher: Publisher, topic: str) -> int:
    """Publish a job for every notice still pending: after a crash this re-queues the rest."""
    queued = 0
    with Session(engine) as session:
        pending = session.exec(
            select(Notice.addressee_id, Notice.addressee_kind).where(
                Notice.incident_id == incident.id,
                Notice.version == incident.notice_version,
                Notice.status == NoticeStatus.PENDING.value,
            )
        ).partitions(10_000)
        for part in pending:
            queued += publisher.publish_all(
                topic, [(aid, _job(incident, aid, kind)) for aid, kind in part]
            )
    return queued


def enrich_incident(
    engine: Engine, event: Mapping[str, Any], ctx: EnrichContext
) -> EnrichmentResult:
    incident_id, event_id = str(event["incident_id"]), str(event["event_id"])
    with Session(engine) as session:
        if session.get(ProcessedEvent, (CONSUMER, event_id)) is not None:
            return EnrichmentResult(incident_id, 0, 0, already_processed=True)
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
    report = _Report()
    with Session(engine) as reader:
        for people in _people_in_scope(reader, incident.scope, report):
            _store_chunk(engine, incident, reader, people, ctx, report)
    with Session(engine) as session:
        stored = session.get(Incident, incident_id)
        assert stored is not None
        stored.status = IncidentStatus.ENRICHED.value
        session.add(stored)
        session.add(ProcessedEvent(consumer=CONSUMER, event_id=event_id, processed_at=ctx.now))
        session.add(
            AuditEvent(
                incident_id=incident_id,
                kind="incident_enriched",
                at=ctx.now,
                detail=_report_detail(report),
            )
        )
        session.commit()
    log.info(
        "incident_enriched",
        affected=report.affected,
        queued=report.queued,
        not_in_directory=report.missing_count,
        malformed=report.malformed,
    )
    return EnrichmentResult(
        incident_id,
        report.affected,
        report.queued,
        not_in_directory=report.missing_count,
        malformed=report.malformed,
    )


def _report_detail(report: _Report) -> dict[str, Any]:
    return {
        "affected": report.affected,
        "queued": report.queued,
        "malformed_rows": report.malformed,
        "not_in_directory": report.missing_count,
        "not_in_directory_ids": report.missing,
    }
