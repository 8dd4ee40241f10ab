"""SQLModel tables: the system of record. The same schema runs on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint, func, literal_column
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on both engines (SQLite would otherwise return naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} would be ambiguous; give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False), **kw)


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _instant(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "schema_info"
    id: int = Field(default=1, primary_key=True)
    version: int


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    id: str = Field(primary_key=True)
    title: str
    severity: str
    status: str = Field(index=True)
    # Localised texts: {"en": "...", "nl": "..."}; "en" is always present.
    description: dict[str, str] = _json()
    impact: dict[str, str] = _json()
    measures_taken: dict[str, str] = _json()
    measures_planned: dict[str, str] = _json()
    advice: dict[str, str] = _json()
    remedies: dict[str, str] = _json()
    categories: list[str] = _json_list()
    scope: dict[str, Any] = _json()
    flags: dict[str, bool] = _json()
    contact: dict[str, str] = _json()
    aware_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    discovered_at: datetime | None = _instant()
    occurred_at: datetime | None = _instant()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    notice_version: int = 1
    # controller | processor; a processor's controller (name, email, phone, ...) is told.
    role: str = Field(default="controller", sa_column_kwargs={"server_default": "controller"})
    controller: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # Who raised it (the CLI's --by, the API token's name): they cannot approve it themselves.
    reported_by: str | None = None


class Person(SQLModel, table=True):
    """The user directory the enricher reads. How to reach a person is in `ContactPoint` rows."""

    __tablename__ = "person"
    id: str = Field(primary_key=True)
    name: str
    locale: str = "en"
    country: str = Field(index=True)
    region: str | None = Field(default=None, index=True)
    birth_date: str | None = None  # ISO date; kept as text so both engines agree
    is_minor: bool = False
    guardian_id: str | None = Field(default=None, foreign_key="person.id")
    channel_preferences: list[str] = _json_list()
    # When the account was opened and last used: scopes may select people by them.
    created_at: datetime | None = _instant()
    last_active_at: datetime | None = _instant()


class ContactPoint(SQLModel, table=True):
    """One way to reach a person: an email address, a phone number, a postal address (fields in
    `details`), a Web Push subscription (keys in `details`)... A person has any number of each,
    tried in `preference` order. `problem` says why one is unusable; such a point is kept (it is
    evidence of what was on file) and routed around, never silently dropped."""

    __tablename__ = "contact_point"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", "value"),
        # Records files and dedupe find people by email or phone.
        Index("ix_contact_point_kind_value", "kind", "value"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(foreign_key="person.id", index=True)
    kind: str
    value: str
    details: dict[str, Any] = _json()
    preference: int = 0  # lower is tried first
    problem: str | None = None
    checked_at: datetime | None = _instant()


class AffectedPerson(SQLModel, table=True):
    __tablename__ = "affected_person"
    __table_args__ = (UniqueConstraint("incident_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique key (incident_id, person_id) serves every lookup by
    # incident, and each index is paid for on every row enrichment writes (migration 0006).
    incident_id: str = Field(foreign_key="incident.id")
    # Person ids in the records of an incident are plain identifiers, not foreign keys: the
    # directory is a copy of the platform's users that may erase a person, while what they
    # were told stays evidence; and a key check per row was the largest single cost of
    # enrichment on PostgreSQL (migration 0006).
    person_id: str
    jurisdiction: str
    categories: list[str] = _json_list()  # exactly what was exposed about this person
    risk: str | None = None  # high | medium | low, from config/risk.toml; None before 0003
    is_minor: bool = False
    # Who receives the notice: the person, or their guardian when the person is a minor.
    recipient_id: str
    # Why a contact kind cannot be used for this person, e.g. {"email": "missing"}, and other
    # findings of enrichment (a minor without a guardian): recorded once, read by planning.
    contact_problems: dict[str, str] = _json()


class Notice(SQLModel, table=True):
    """What one addressee is told about one incident: a person, the public or an authority."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint(
            "incident_id", "addressee_kind", "addressee_id", "version", name="uq_notice_addressee"
        ),
        Index("ix_notice_incident_status", "incident_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id")
    addressee_kind: str = "person"  # person | public | authority
    addressee_id: str  # the person id, "public", or the authority's id
    person_id: str | None = None  # plain identifiers, see AffectedPerson
    recipient_id: str | None = None
    version: int = 1
    status: str
    channel: str | None = None
    reason: str | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    updated_at: datetime | None = _instant()


class DeliveryAttempt(SQLModel, table=True):
    """One notice over one channel. The key is claimed (`sending`) before the provider call."""

    __tablename__ = "delivery_attempt"
    # Bounce reports find their delivery by Message-ID, Twilio and the print house by provider
    # id, a confirmation link by the Message-ID's first 24 hex digits (LINK_PREFIX): all from
    # outside, unauthenticated until found, so none of them may scan the table (migration 0007).
    __table_args__ = (
        Index("ix_attempt_incident_status", "incident_id", "status"),
        Index("ix_attempt_message_id", "message_id"),
        Index("ix_attempt_provider_id", "provider_id"),
    )
    idempotency_key: str = Field(primary_key=True)
    incident_id: str = Field(foreign_key="incident.id")
    addressee_kind: str = "person"
    addressee_id: str
    person_id: str | None = None  # a plain identifier, see AffectedPerson
    channel: str
    contact_point_id: int | None = None  # which contact point it went to (receipts act on it)
    notice_version: int
    status: str
    message_id: str
    provider_id: str | None = None
    worker_id: str
    tries: int = 1
    error: str | None = None
    claimed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = _instant()
    not_before: datetime | None = _instant()  # a retry is not claimed again before this
    updated_at: datetime | None = _instant()


LINK_PREFIX = 24  # hex digits of the Message-ID a confirmation token carries


def message_id_prefix(column: Any = None) -> Any:
    """`substr(message_id, 1, 24)`, with literal bounds so the expression index matches."""
    target = DeliveryAttempt.__table__.c.message_id if column is None else column  # type: ignore[attr-defined]
    return func.substr(target, literal_column("1"), literal_column(str(LINK_PREFIX)))


Index("ix_attempt_message_prefix", message_id_prefix())


class DeliveryEvent(SQLModel, table=True):
    """Every state a delivery went through, with when and who said so: the dispatcher, a
    provider callback, a bounce report, a print-house return file, a confirmation link."""

    __tablename__ = "delivery_event"
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(index=True)
    status: str
    source: str
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    detail: dict[str, Any] = _json()


class Outbox(SQLModel, table=True):
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    topic: str
    key: str
    payload: dict[str, Any] = _json()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    published_at: datetime | None = _instant(index=True)


class ProcessedEvent(SQLModel, table=True):
    """Events a consumer group has fully handled; a re-delivery is recognised and skipped."""

    __tablename__ = "processed_event"
    consumer: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    processed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    """Append-only. `seq`, `prev_hash` and `hash` are set when the row is sealed into the hash
    chain (incident.service.audit), shortly after it is committed."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_event_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str | None = Field(default=None, index=True)
    kind: str
    detail: dict[str, Any] = _json()
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


class RegulatorReport(SQLModel, table=True):
    """One version of one report to an authority: what was filed (or is blocked), for which
    obligation, in which phase, and which earlier version it supersedes. Rows are never updated
    in place except for their status; each phase or correction is a new row."""

    __tablename__ = "regulator_report"
    __table_args__ = (
        UniqueConstraint("incident_id", "chain", "version", name="uq_regulator_report_version"),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    obligation_key: str  # rule/stage/jurisdiction of the obligation it fulfils
    chain: str  # rule/jurisdiction: the versions of one report to one authority
    kind: str  # the report structure (gdpr_art33, cac, us_state_ag, hhs, nis2_*, generic)
    phase: str  # initial | follow_up | final
    version: int
    name: str  # file stem: <chain>/v<version>-<phase>
    supersedes: str | None = None  # the name of the version this one replaces
    status: str  # blocked | ready | submitted
    missing: list[str] = _json_list()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class ReportItem(SQLModel, table=True):
    """A report item the incident record does not hold (root cause, indicators of compromise,
    the DPO's contact...), given by an operator; it unblocks a report that lacked it."""

    __tablename__ = "report_item"
    incident_id: str = Field(foreign_key="incident.id", primary_key=True)
    item: str = Field(primary_key=True)
    text: str
    recorded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class AlertSent(SQLModel, table=True):
    """One deadline alert to one of the incident's owners: an obligation, a point before its
    due time ("24h", "6h"...) or "missed", and the owner (by name: contact details stay in the
    settings). Claimed (`pending`) for every owner in one transaction, then `sending` while the
    channel call is in flight, then `sent` or `failed`; the key makes it exactly-once."""

    __tablename__ = "alert_sent"
    __table_args__ = (Index("ix_alert_sent_incident", "incident_id", "obligation_key"),)
    idempotency_key: str = Field(primary_key=True)  # alert:<incident>:<obligation>:<point>:<owner>
    incident_id: str = Field(foreign_key="incident.id")
    obligation_key: str
    point: str  # "24h", "6h", "1h"... or "missed"
    owner: str
    channel: str
    status: str  # pending | sending | sent | failed
    due: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    message_id: str
    tries: int = 0
    error: str | None = None
    claimed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = _instant()
