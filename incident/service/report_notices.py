"""What the notices to individuals were, as a credit-bureau report states them: their timing,
their distribution and their content (e.g. N.Y. GBL 899-aa(8)(b), Fla. Stat. 501.171(5)).

`notices_told` reads the delivery records of the persons of one jurisdiction; the `*_of_notices`
functions are pure and answer None while nothing was sent (the report then stays blocked, and
is built again once people are told).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Incident, Notice
from incident.domain.model import AddresseeKind, NoticeStatus

TOLD = ("sent", "delivered", "confirmed")


@dataclass(frozen=True, slots=True)
class NoticesTold:
    """The person notices of one jurisdiction: when they went out and over which channels."""

    first: datetime | None = None
    last: datetime | None = None
    by_channel: Mapping[str, int] = field(default_factory=dict)  # persons told, per channel
    pending: int = 0  # notices not sent yet
    unreachable: int = 0


def notices_told(session: Session, incident: Incident, jurisdiction: str) -> NoticesTold:
    """Delivery records of the persons living in `jurisdiction` (or a subdivision of it)."""
    place = col(AffectedPerson.jurisdiction)
    where = None
    if jurisdiction:
        where = or_(place == jurisdiction, place.startswith(f"{jurisdiction}-"))
    person = and_(
        col(AffectedPerson.incident_id) == col(DeliveryAttempt.incident_id),
        col(AffectedPerson.person_id) == col(DeliveryAttempt.person_id),
    )
    sent = col(DeliveryAttempt.sent_at)
    query = (
        select(DeliveryAttempt.channel, func.count(func.distinct(DeliveryAttempt.person_id)),
               func.min(sent), func.max(sent))
        .join(AffectedPerson, person)
        .where(
            DeliveryAttempt.incident_id == incident.id,
            DeliveryAttempt.addressee_kind == AddresseeKind.PERSON.value,
            DeliveryAttempt.notice_version == incident.notice_version,
            col(DeliveryAttempt.status).in_(TOLD),
            sent.is_not(None),
        )
        .group_by(col(DeliveryAttempt.channel))
    )  # fmt: skip
    if where is not None:
        query = query.where(where)
    rows = session.exec(query).all()
    firsts = [r[2] for r in rows if r[2] is not None]
    lasts = [r[3] for r in rows if r[3] is not None]
    counts = _statuses(session, incident, where)
    return NoticesTold(
        first=min(firsts, default=None),
        last=max(lasts, default=None),
        by_channel={channel: int(n) for channel, n, _, _ in sorted(rows)},
        pending=counts.get(NoticeStatus.PENDING.value, 0),
        unreachable=counts.get(NoticeStatus.UNREACHABLE.value, 0),
    )


def _statuses(session: Session, incident: Incident, where: Any) -> dict[str, int]:
    person = and_(
        col(AffectedPerson.incident_id) == col(Notice.incident_id),
        col(AffectedPerson.person_id) == col(Notice.person_id),
    )
    query = (
        select(Notice.status, func.count())
        .join(AffectedPerson, person)
        .where(
            Notice.incident_id == incident.id,
            Notice.addressee_kind == AddresseeKind.PERSON.value,
            Notice.version == incident.notice_version,
        )
        .group_by(col(Notice.status))
    )
    if where is not None:
        query = query.where(where)
    return {status: int(n) for status, n in session.exec(query).all()}


def timing_of_notices(told: NoticesTold | None) -> dict[str, Any] | None:
    if told is None or told.first is None or told.last is None:
        return None
    return {
        "first_sent_at": told.first.isoformat(),
        "last_sent_at": told.last.isoformat(),
        "still_pending": told.pending,
    }


def distribution_of_notices(told: NoticesTold | None) -> dict[str, Any] | None:
    if told is None or not told.by_channel:
        return None
    return {
        "persons_told_by_channel": dict(told.by_channel),
        "still_pending": told.pending,
        "unreachable_substitute_notice": told.unreachable,
    }


def _en(texts: Mapping[str, str]) -> str:
    return texts.get("en", "").strip()


def content_of_notices(incident: Incident) -> dict[str, Any] | None:
    """The elements every notice to an individual carried (the English text prevails)."""
    measures = "\n\n".join(
        t for t in (_en(incident.measures_taken), _en(incident.measures_planned)) if t
    )
    content: dict[str, Any] = {
        "what_happened": _en(incident.description),
        "information_involved": sorted(incident.categories),
        "possible_consequences": _en(incident.impact),
        "what_we_are_doing": measures,
        "what_you_can_do": _en(incident.advice),
        "remedies_offered": _en(incident.remedies),
        "contact": {k: v for k, v in incident.contact.items() if v},
    }
    content = {k: v for k, v in content.items() if v}
    return content if "what_happened" in content else None
