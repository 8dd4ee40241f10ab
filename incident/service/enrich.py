"""Enrichment: resolve an incident's scope against the directory, store who is affected, who
receives each notice and which of their contact points are usable, then queue one notice job
per person (ids only) on the `notices` topic, chunk by chunk as the scope is read.

Two steps run side by side: the consumer's thread reads and decides chunk n+1 (directory rows,
guardians, contact points and their verdicts, jurisdiction, categories, risk) while a writer
thread (`in_order.InOrder`) merges, stores and publishes chunk n, so the database and Python
each work while the other does. Contact points carry the verdict of their checks from when they
were written (`people import`, the live directory's sync); only points never checked are
checked here, and only the problems found are written back.

Every person is decided on their own: a malformed directory row becomes an AffectedPerson with
the problem recorded, never an exception that stops the incident (or the service).

Several accounts of one human (`incident.domain.dedupe`) get one notice. Where to find them:
a SQL pass over everything stored, once all chunks are in, would see every duplicate, but no
notice could be published before the last chunk (13 minutes at 1M people), and notices already
queued could not be taken back. So dedupe is done as the scope streams: within each chunk, then
against the people already stored for this incident, through a key index the run keeps in the
database (`_KeyIndex`: a temporary table of contact digests -> representative, indexed, one
query per chunk; nothing in this process's memory grows with the directory). The cost: a
duplicate found in a later chunk joins a notice that may be on its way; it is merged only while
that notice is still pending, else it keeps a notice of its own (told twice rather than not
told), and the representative is then the earlier account rather than the smallest id. A
dispatcher that planned the earlier notice just before the merge committed sends it without the
late account (the window between planning and claiming one notice).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, Protocol

import structlog
from sqlalchemy import Column, MetaData, String, Table, Text, bindparam, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, func, select

from channels.base import ContactCheck
from incident.adapters import bulk
from incident.adapters.bulk import among
from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.directory_source import DirectorySource, LocalDirectory, people_by_id
from incident.adapters.tables import (
    AffectedPerson,
    AuditEvent,
    ContactPoint,
    Incident,
    Notice,
    ProcessedEvent,
)
from incident.domain.audience import AudienceDecision, DirectoryEntry, decide_audience
from incident.domain.contacts import StoredContact, check_points, kind_problems
from incident.domain.dedupe import (
    ACCOUNTS,
    LINKING_KINDS,
    MERGED_INTO,
    Group,
    accounts_of,
    contact_key,
    group_people,
)
from incident.domain.directory_rows import PersonRecord
from incident.domain.jurisdiction import is_valid_jurisdiction, region_code
from incident.domain.messages import job_message
from incident.domain.model import DataCategory, IncidentStatus, NoticeStatus
from incident.errors import ConfigError, NotFound
from incident.service.directory import load_contacts, sync_scope
from incident.service.in_order import InOrder
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
    merged: int = 0  # accounts told in another account's notice (same human)
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


def _entry(p: PersonRecord) -> DirectoryEntry:
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


def _decide(
    person: PersonRecord,
    guardians: Mapping[str, PersonRecord],
    *,
    now: datetime,
    ages: Mapping[str, int],
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


@dataclass
class _Decided:
    """One chunk, decided: what to store and publish (handed to the writer thread)."""

    decisions: list[AudienceDecision]
    rows: dict[str, dict[str, Any]]  # AffectedPerson rows by person id
    keys: dict[str, list[tuple[str, str]]]  # linking contact digests by person id
    changed: list[tuple[int, str | None]]  # contact points whose problem changed


def _decide_chunk(
    incident: Incident,
    reader: Session,
    people: list[PersonRecord],
    ctx: EnrichContext,
    report: _Report,
    directory_problems: Mapping[str, str],
) -> _Decided:
    guardians = people_by_id(reader, {p.guardian_id for p in people if p.guardian_id})
    decisions = [_decide(p, guardians, now=ctx.now, ages=ctx.majority_ages) for p in people]
    report.malformed += sum(1 for d in decisions if "directory" in d.problems)
    known = {p.id: p for p in people} | guardians
    # Only the kinds the channels in use check: those are also the only ones that link accounts.
    contacts = load_contacts(reader, {d.recipient_id for d in decisions}, ctx.checks.keys())
    checked: dict[int, str | None] = {}
    rows: dict[str, dict[str, Any]] = {}
    keys: dict[str, list[tuple[str, str]]] = {}
    for d, person in zip(decisions, people, strict=True):
        points = contacts.get(d.recipient_id, [])
        recipient = known.get(d.recipient_id)
        found = check_points(points, ctx.checks, recipient.country if recipient else None)
        checked.update(found)
        problems = {**kind_problems(ctx.checks.keys(), points, found), **d.problems}
        if d.person_id in directory_problems:
            said = [problems.get("directory"), directory_problems[d.person_id]]
            problems["directory"] = "; ".join(filter(None, said))[:500]
        rows[d.person_id] = _affected_row(incident, d, person, problems, ctx)
        if d.recipient_id == d.person_id:  # a guardian's notice names the child: not merged
            keys[d.person_id] = _linking_keys(points, found)  # only points checked just now
    stored = {p.id: p.problem for pts in contacts.values() for p in pts}
    changed = [(pid, why) for pid, why in checked.items() if stored.get(pid) != why]
    return _Decided(decisions, rows, keys, changed)


def _write_chunk(
    engine: Engine,
    incident: Incident,
    ctx: EnrichContext,
    report: _Report,
    index: _KeyIndex,
    chunk: _Decided,
) -> None:
    """Merge, store and publish one decided chunk (in the writer thread, chunks in order)."""
    rows = chunk.rows
    with Session(engine) as writer:
        if engine.dialect.name == "postgresql":
            # A chunk's commit need not wait for its WAL to reach the disk: the incident is
            # marked enriched by a synchronous commit, which flushes every chunk's before it,
            # and after a crash that lost a chunk the event is processed again (the notices of
            # jobs already published are then written again, under the same keys).
            writer.execute(text("SET LOCAL synchronous_commit = off"))
        merged = _merge(writer, incident, rows, chunk.keys, index, ctx.now)
        _record_point_problems(writer, chunk.changed, ctx.now)
        insert_ignoring_duplicates(writer, AffectedPerson, list(rows.values()))
        told = [d for d in chunk.decisions if d.person_id not in merged]
        notices = [_notice_row(incident, d, ctx.now) for d in told]
        insert_ignoring_duplicates(writer, Notice, notices)
        writer.commit()
    report.affected += len(chunk.decisions)
    report.merged += len(merged)
    for row in rows.values():
        level = str(row["risk"])
        report.risk[level] = report.risk.get(level, 0) + 1
    if incident.status == IncidentStatus.DRAFT.value:
        return  # not approved: its approval publishes the jobs of the notices stored now
    report.queued += ctx.publisher.publish_all(
        ctx.notices_topic, [(d.person_id, _job(incident, d.person_id)) for d in told]
    )


def _affected_row(
    incident: Incident,
    d: AudienceDecision,
    person: PersonRecord,
    problems: dict[str, str],
    ctx: EnrichContext,
) -> dict[str, Any]:
    exposed = sorted(person.categories or incident.categories)
    return {
        "incident_id": incident.id,
        "person_id": d.person_id,
        "jurisdiction": d.jurisdiction,
        "categories": exposed,
        "risk": (ctx.risk or load_risk_rules()).level(exposed),
        "is_minor": d.is_minor,
        "recipient_id": d.recipient_id,
        "contact_problems": problems,
    }


def _linking_keys(
    points: Sequence[StoredContact], found: Mapping[int, str | None]
) -> list[tuple[str, str]]:
    """Digests of the usable email addresses and phone numbers that a channel in use checked just
    now (`found`): a point with a problem, or one no channel in use vouches for, proves nothing
    about who owns it."""
    out = []
    for p in points:
        if p.kind in LINKING_KINDS and p.id in found and found[p.id] is None:
            key = contact_key(p.kind, p.value)
            if key is not None:
                out.append((p.kind, key))
    return out


_MERGE_KEYS = Table(
    "bn_merge_keys",
    MetaData(),
    Column("k", String(32), primary_key=True),
    Column("p", Text),
    prefixes=["TEMPORARY"],
)


class _KeyIndex:
    """This run's contact digests -> representative: a temporary table on a connection of its
    own (primary key on the digest), so a later chunk finds an earlier chunk's accounts with
    one indexed query. A re-run (after a crash) rebuilds it: the scan order is the same."""

    def __init__(self, engine: Engine) -> None:
        self.conn: Connection = engine.connect()
        schema = "temp" if engine.dialect.name == "sqlite" else "pg_temp"
        self.drop = text(f"DROP TABLE IF EXISTS {schema}.bn_merge_keys")
        self.conn.execute(self.drop)  # a pooled connection may still have one
        _MERGE_KEYS.create(self.conn)
        self.conn.commit()
        self._adder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich-keys")
        self._adding: Future[None] | None = None

    def owners(self, keys: Collection[str]) -> dict[str, str]:
        self._wait()
        if not keys:
            return {}
        table = _MERGE_KEYS
        query = sa_select(table.c.k, table.c.p).where(among(table.c.k, keys, self.conn.dialect))
        return {k: p for k, p in self.conn.execute(query)}

    def add(self, pairs: Sequence[dict[str, str]]) -> None:
        """Add in the background (while the chunk's rows are stored); the next `owners` waits
        for it, so a later chunk always sees this one's keys."""
        self._wait()
        if pairs:
            self._adding = self._adder.submit(self._add, list(pairs))

    def _add(self, pairs: list[dict[str, str]]) -> None:
        bulk.insert_ignoring_duplicates(self.conn, _MERGE_KEYS, pairs)
        self.conn.commit()

    def _wait(self) -> None:
        if self._adding is not None:
            adding, self._adding = self._adding, None
            adding.result()  # raises what the add raised

    def close(self) -> None:
        """Drop the table and give the connection back, even when the last add failed (that
        error is raised after)."""
        try:
            self._wait()
        finally:
            self._adder.shutdown()
            try:
                self.conn.rollback()
                self.conn.execute(self.drop)
                self.conn.commit()
            finally:
                self.conn.close()


def _merge(
    writer: Session,
    incident: Incident,
    rows: dict[str, dict[str, Any]],
    keys: Mapping[str, list[tuple[str, str]]],
    index: _KeyIndex,
    now: datetime,
) -> set[str]:
    """Group the chunk's accounts (and join groups stored by earlier chunks whose notice is
    still pending); mark the rows; record the merges. The ids merged into another notice."""
    groups = group_people(keys)
    grouped = {m for g in groups for m in g.members}
    units = groups + [
        Group(pid, (pid,), frozenset(k for _, k in ks), ())
        for pid, ks in keys.items()
        if pid not in grouped and ks
    ]
    owners = index.owners({k for u in units for k in u.keys})
    earlier = {u.representative: min({owners[k] for k in u.keys if k in owners}) for u in units
               if any(k in owners for k in u.keys)}  # fmt: skip
    pending = _pending_reps(writer, incident, set(earlier.values()))
    merged: set[str] = set()
    records: list[dict[str, Any]] = []
    late: dict[str, list[str]] = {}
    for unit in units:
        rep = earlier.get(unit.representative)
        if rep in pending:
            late.setdefault(rep, []).extend(unit.members)
        elif len(unit.members) > 1:
            rep = unit.representative
            rows[rep]["contact_problems"][ACCOUNTS] = "\n".join(unit.members)
        else:
            rep = unit.representative
        for member in unit.members:
            if member != rep:
                rows[member]["contact_problems"][MERGED_INTO] = rep
                rows[member]["recipient_id"] = rows.get(rep, {}).get("recipient_id", rep)
                merged.add(member)
        if len(unit.members) > 1 or rep != unit.representative:
            records.append({"representative": rep, "merged": [m for m in unit.members
                            if m != rep], "by": list(unit.kinds) or ["cross-chunk"]})  # fmt: skip
    final = {u.representative: earlier.get(u.representative, "") for u in units}
    final = {u: r if r in pending else u for u, r in final.items()}
    index.add([{"k": k, "p": final[u.representative]} for u in units for k in u.keys])
    _add_accounts(writer, incident, pending, late)
    if records:
        writer.add(AuditEvent(incident_id=incident.id, kind="recipients_merged",
                              at=now, detail={"groups": records}))  # fmt: skip
    return merged


def _pending_reps(writer: Session, incident: Incident, reps: set[str]) -> set[str]:
    """Which of these earlier representatives' notices are still pending (can take more)."""
    if not reps:
        return set()
    query = select(Notice.addressee_id).where(
        Notice.incident_id == incident.id,
        Notice.addressee_kind == "person",
        Notice.version == incident.notice_version,
        Notice.status == NoticeStatus.PENDING.value,
        among(col(Notice.addressee_id), reps, writer.get_bind().dialect),
    )
    return set(writer.exec(query).all())


def _add_accounts(
    writer: Session, incident: Incident, pending: set[str], late: Mapping[str, list[str]]
) -> None:
    """Add late accounts to the lists of notices stored by earlier chunks."""
    if not late:
        return
    table = AffectedPerson.__table__  # type: ignore[attr-defined]
    stored = writer.execute(
        select(table.c.person_id, table.c.contact_problems).where(
            table.c.incident_id == incident.id, table.c.person_id.in_(list(late))
        )
    ).all()
    changes = []
    for rep, problems in stored:
        accounts = {*(accounts_of(problems) or (rep,)), *late[rep]} - {rep}
        listed = "\n".join([rep, *sorted(accounts)])
        changes.append({"pid": rep, "cp": {**problems, ACCOUNTS: listed}})
    writer.execute(
        update(table)
        .where(table.c.incident_id == incident.id, table.c.person_id == bindparam("pid"))
        .values(contact_problems=bindparam("cp")),
        changes,
    )


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
    return job_message(incident.id, addressee_id, incident.notice_version, kind)[1]


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


def queue_approved(
    engine: Engine, incident: Incident, event_id: str, ctx: EnrichContext
) -> EnrichmentResult | None:
    """A draft was approved: publish the jobs of its pending notices (stored by its enrichment).
    None when the draft was never enriched: the caller enriches it now, publishing as it goes."""
    if incident.status == IncidentStatus.DRAFT.value:  # an approval event without an approval
        log.warning("incident_not_approved", incident_id=incident.id)
        return EnrichmentResult(incident.id, 0, 0, already_processed=True)
    raised = f"{incident.id}:v{incident.notice_version}"
    with Session(engine) as session:
        if session.get(ProcessedEvent, (CONSUMER, raised)) is None:
            return None
    queued = queue_pending(engine, incident, ctx.publisher, ctx.notices_topic)
    with Session(engine) as session:
        stored = session.get(Incident, incident.id)
        assert stored is not None
        stored.status = IncidentStatus.ENRICHED.value
        session.add(stored)
        session.add(ProcessedEvent(consumer=CONSUMER, event_id=event_id, processed_at=ctx.now))
        affected = session.exec(
            select(func.count())
            .select_from(AffectedPerson)
            .where(AffectedPerson.incident_id == incident.id)
        ).one()
        session.commit()
    log.info("approved_notices_queued", queued=queued)
    return EnrichmentResult(incident.id, int(affected), queued)


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
    if event.get("type") == "IncidentApproved":
        queued = queue_approved(engine, incident, event_id, ctx)
        if queued is not None:
            return queued
    report = _Report()
    directory_problems: dict[str, str] = {}
    if ctx.directory is not None:
        directory_problems = sync_scope(engine, ctx.directory, incident.scope, ctx.checks)
    index = _KeyIndex(engine)
    # Chunk n is written and published while chunk n+1 is read and decided.
    write = partial(_write_chunk, engine, incident, ctx, report, index)
    writes: InOrder[_Decided] = InOrder(write, name="enrich-writer")
    try:
        with Session(engine) as reader:
            local = LocalDirectory(reader, default=frozenset(incident.categories), misses=report)
            for people in local.people_in_scope(incident.scope):
                decided = _decide_chunk(incident, reader, people, ctx, report, directory_problems)
                reader.rollback()  # end the read transaction: the next chunk sees fresh rows
                writes.submit(decided)
                ctx.tick()
        writes.finish()
    except BaseException:
        writes.abort()
        raise
    finally:
        index.close()
    with Session(engine) as session:
        stored = session.get(Incident, incident_id)
        assert stored is not None
        if stored.status != IncidentStatus.DRAFT.value:  # a draft stays one until approved
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
        "merged_accounts": report.merged,
        "not_in_directory": report.missing_count,
        "not_in_directory_ids": report.missing,
        "unmatched_records": report.unmatched_records,
        "unmatched_record_keys": report.unmatched_record_keys,
        "filters_matching_nobody": report.empty_filters,
        "risk": dict(sorted(report.risk.items())),
    }
