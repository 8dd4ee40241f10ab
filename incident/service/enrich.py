"""Enrichment: resolve an incident's scope against the directory, store who is affected, who
receives each notice and which of their contact points are usable, then queue one notice job
per person (ids only) on the `notices` topic, chunk by chunk as the scope is read.

Every person is decided on their own: a malformed directory row becomes an AffectedPerson with
the problem recorded, never an exception that stops the incident (or the service).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.base import ContactCheck
from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.directory_source import DirectorySource, LocalDirectory
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
from incident.domain.directory_rows import PersonRecord
from incident.domain.jurisdiction import is_valid_jurisdiction, region_code
from incident.domain.model import DataCategory, IncidentStatus, NoticeStatus
from incident.errors import ConfigError, NotFound
from incident.service.directory import load_contacts, sync_scope
from incident.settings import config_dir

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
    """What enrichment found. Every key of the scope matching nobody is counted; the first
    MISSING_LISTED of each kind are listed (ids, records `email:...`, filters)."""

    affected: int = 0
    queued: int = 0
    malformed: int = 0
    missing_count: int = 0
    missing: list[str] = field(default_factory=list)
    unmatched_records: int = 0
    unmatched_record_keys: list[str] = field(default_factory=list)
    empty_filters: list[str] = field(default_factory=list)
    risk: dict[str, int] = field(default_factory=dict)

    def missed(self, keys: Sequence[str], kind: str = "id") -> None:
        if kind == "filter":
            self.empty_filters.extend(keys)
            return
        if kind == "id":
            self.missing_count += len(keys)
            listed = self.missing
        else:
            self.unmatched_records += len(keys)
            listed = self.unmatched_record_keys
        listed.extend(keys[: max(0, MISSING_LISTED - len(listed))])


def _entry(p: Person | PersonRecord) -> DirectoryEntry:
    return DirectoryEntry(p.id, p.country, p.region, p.is_minor, p.birth_date, p.guardian_id)


@dataclass(frozen=True)
class RiskRules:
    """config/risk.toml: a level per data category; a person's risk is the highest level among
    the categories exposed for them, `default` for a category the table does not name."""

    levels: Mapping[str, str]
    default: str = "medium"

    def level(self, categories: Sequence[str]) -> str:
        found = [self.levels.get(c, self.default) for c in categories] or ["low"]
        return max(found, key=RISK_ORDER.index)


RISK_ORDER = ("low", "medium", "high")


@lru_cache(maxsize=1)
def load_risk_rules() -> RiskRules:
    path = config_dir() / "risk.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    levels, default = data.get("levels", {}), data.get("default", "medium")
    known = {c.value for c in DataCategory}
    for name, level in [*levels.items(), ("default", default)]:
        if level not in RISK_ORDER or (name != "default" and name not in known):
            rule = f"category must be one of {sorted(known)}, level one of {list(RISK_ORDER)}"
            raise ConfigError(str(path), "levels", name, rule)
    return RiskRules(dict(levels), default)


def _by_id(session: Session, ids: set[str]) -> dict[str, Person]:
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids))).all()}


def _decide(
    person: PersonRecord, guardians: Mapping[str, Person], *, now: datetime, ages: Mapping[str, int]
) -> AudienceDecision:
    """One person's decision; a malformed row is recorded as a problem of that person."""
    guardian = guardians.get(person.guardian_id) if person.guardian_id else None
    try:
        place = region_code(person.country, person.region) or person.country
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
    # A live directory (settings `[directory]`): the rows in scope are read from it and cached
    # into person/contact_point before the scope is resolved (`sync_scope`).
    directory: DirectorySource | None = None
    risk: RiskRules | None = None  # default: config/risk.toml


def _store_chunk(
    engine: Engine,
    incident: Incident,
    reader: Session,
    people: list[PersonRecord],
    ctx: EnrichContext,
    report: _Report,
    directory_problems: Mapping[str, str],
) -> None:
    guardians = _by_id(reader, {p.guardian_id for p in people if p.guardian_id})
    decisions = [_decide(p, guardians, now=ctx.now, ages=ctx.majority_ages) for p in people]
    report.malformed += sum(1 for d in decisions if "directory" in d.problems)
    people_by_id: dict[str, Person | PersonRecord] = {p.id: p for p in people}
    people_by_id |= guardians
    exposed = {p.id: sorted(p.categories or incident.categories) for p in people}
    risk = ctx.risk or load_risk_rules()
    contacts = load_contacts(reader, {d.recipient_id for d in decisions}, ctx.checks.keys())
    checked: dict[int, str | None] = {}
    affected_rows = []
    for d in decisions:
        points = contacts.get(d.recipient_id, [])
        recipient = people_by_id.get(d.recipient_id)
        found = check_points(points, ctx.checks, recipient.country if recipient else None)
        checked.update(found)
        problems = {**kind_problems(ctx.checks.keys(), points, found), **d.problems}
        if d.person_id in directory_problems:
            said = [problems.get("directory"), directory_problems[d.person_id]]
            problems["directory"] = "; ".join(filter(None, said))[:500]
        affected_rows.append(
            {
                "incident_id": incident.id,
                "person_id": d.person_id,
                "jurisdiction": d.jurisdiction,
                "categories": exposed[d.person_id],
                "risk": risk.level(exposed[d.person_id]),
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
    for row in affected_rows:
        level = str(row["risk"])
        report.risk[level] = report.risk.get(level, 0) + 1
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
    directory_problems: dict[str, str] = {}
    if ctx.directory is not None:
        directory_problems = sync_scope(engine, ctx.directory, incident.scope)
    with Session(engine) as reader:
        local = LocalDirectory(reader, default=frozenset(incident.categories), misses=report)
        for people in local.people_in_scope(incident.scope):
            _store_chunk(engine, incident, reader, people, ctx, report, directory_problems)
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
        "unmatched_records": report.unmatched_records,
        "unmatched_record_keys": report.unmatched_record_keys,
        "filters_matching_nobody": report.empty_filters,
        "risk": dict(sorted(report.risk.items())),
    }
