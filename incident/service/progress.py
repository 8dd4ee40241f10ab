"""Where an incident's notices stand: counts by status, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import AffectedPerson, AuditEvent, DeliveryAttempt, Notice
from incident.domain.model import AttemptStatus


@dataclass(frozen=True, slots=True)
class NoticeCounts:
    affected: int
    pending: int
    sent: int
    unreachable: int
    failed_attempts: int = 0  # delivery attempts refused for good (the notice may still go out)

    @property
    def settled(self) -> int:
        return self.sent + self.unreachable

    @property
    def done(self) -> bool:
        return self.affected > 0 and self.pending == 0


def notice_counts(engine: Engine, incident_id: str) -> NoticeCounts:
    with Session(engine) as session:
        affected = session.exec(
            select(func.count())
            .select_from(AffectedPerson)
            .where(AffectedPerson.incident_id == incident_id)
        ).one()
        rows = session.exec(
            select(Notice.status, func.count())
            .where(Notice.incident_id == incident_id, Notice.addressee_kind == "person")
            .group_by(Notice.status)
        ).all()
        failed = session.exec(
            select(func.count())
            .select_from(DeliveryAttempt)
            .where(
                DeliveryAttempt.incident_id == incident_id,
                DeliveryAttempt.status == AttemptStatus.FAILED.value,
            )
        ).one()
    by_status = dict(rows)
    return NoticeCounts(
        affected,
        by_status.get("pending", 0),
        sum(by_status.get(s, 0) for s in ("sent", "delivered", "confirmed")),
        by_status.get("unreachable", 0),
        failed,
    )


def enrichment_report(engine: Engine, incident_id: str) -> dict[str, Any] | None:
    """What enrichment found: people affected, directory rows it could not use, and scope
    keys that matched nobody (counted, and the first of them listed)."""
    with Session(engine) as session:
        row = session.exec(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id, AuditEvent.kind == "incident_enriched")
            .order_by(col(AuditEvent.id).desc())
        ).first()
    return dict(row.detail) if row is not None else None


def sent_by_channel(engine: Engine, incident_id: str) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(
            select(Notice.channel, func.count())
            .where(
                Notice.incident_id == incident_id,
                col(Notice.status).in_(["sent", "delivered", "confirmed"]),
            )
            .group_by(Notice.channel)
        ).all()
    return {str(channel): n for channel, n in sorted(rows, key=lambda r: -r[1])}


# Attempt states that mean the provider accepted the message (whatever came back after).
ACCEPTED = frozenset({"sent", "delivered", "confirmed", "bounced", "undelivered"})
REFUSED = frozenset({"failed", "bounced", "undelivered"})  # recipient verdicts: next channel
SETTLED_OK = ("sent", "delivered", "confirmed")


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    """One channel's share of an incident's person notices."""

    sent: int = 0  # attempts the provider accepted
    delivered: int = 0  # ... and that arrived (delivered or confirmed)
    failed: int = 0  # recipient verdicts: refused, bounced, undelivered
    fallbacks: int = 0  # people told here after an earlier channel refused them
    confirmed: int = 0  # people who confirmed they got it


def channel_outcomes(engine: Engine, incident_id: str) -> dict[str, ChannelOutcome]:
    """Per channel: attempts sent, delivered, failed; fallbacks taken; confirmations."""
    with Session(engine) as session:
        attempts = session.exec(
            select(DeliveryAttempt.channel, DeliveryAttempt.status, DeliveryAttempt.addressee_id)
            .where(
                DeliveryAttempt.incident_id == incident_id,
                DeliveryAttempt.addressee_kind == "person",
            )
            .order_by(col(DeliveryAttempt.claimed_at))
        ).all()
        told = session.exec(
            select(Notice.addressee_id, Notice.channel).where(
                Notice.incident_id == incident_id,
                Notice.addressee_kind == "person",
                col(Notice.status).in_(SETTLED_OK),
            )
        ).all()
    tally: dict[str, dict[str, int]] = {}
    refused_on: dict[str, set[str]] = {}
    for channel, status, person in attempts:
        row = tally.setdefault(channel, {})
        for name, hit in (
            ("sent", status in ACCEPTED),
            ("delivered", status in ("delivered", "confirmed")),
            ("failed", status in REFUSED),
            ("confirmed", status == "confirmed"),
        ):
            row[name] = row.get(name, 0) + int(hit)
        if status in REFUSED:
            refused_on.setdefault(person, set()).add(channel)
    for person, got in told:
        if got is not None and refused_on.get(person, set()) - {got}:
            row = tally.setdefault(got, {})
            row["fallbacks"] = row.get("fallbacks", 0) + 1
    return {
        ch: ChannelOutcome(**row)
        for ch, row in sorted(tally.items(), key=lambda kv: -kv[1].get("sent", 0))
    }


@dataclass(frozen=True, slots=True)
class UnreachableGroup:
    reason: str
    count: int
    examples: tuple[str, ...]  # the first few person ids


def unreachable_reasons(
    engine: Engine, incident_id: str, *, shown: int = 5
) -> list[UnreachableGroup]:
    """The people left unreachable, grouped by the recorded reason, largest group first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Notice.reason, Notice.addressee_id)
            .where(
                Notice.incident_id == incident_id,
                Notice.addressee_kind == "person",
                Notice.status == "unreachable",
            )
            .order_by(col(Notice.addressee_id))
        ).all()
    groups: dict[str, list[str]] = {}
    for reason, person in rows:
        groups.setdefault(reason or "no reason recorded", []).append(person)
    return [
        UnreachableGroup(reason, len(ids), tuple(ids[:shown]))
        for reason, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


@dataclass(frozen=True, slots=True)
class AddresseeNotice:
    """The notice to the public or to one authority, and where it stands."""

    kind: str  # public | authority
    addressee_id: str
    status: str
    reason: str | None

    @property
    def blocked(self) -> bool:
        return self.status == "pending" and (self.reason or "").startswith("blocked")

    @property
    def settled(self) -> bool:
        return self.status != "pending" or self.blocked


def addressee_notices(engine: Engine, incident_id: str) -> list[AddresseeNotice]:
    """Notices of the incident to the public and to authorities, public first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Notice)
            .where(Notice.incident_id == incident_id, Notice.addressee_kind != "person")
            .order_by(col(Notice.addressee_kind).desc(), col(Notice.addressee_id))
        ).all()
    return [AddresseeNotice(n.addressee_kind, n.addressee_id, n.status, n.reason) for n in rows]
