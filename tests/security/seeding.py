"""Deliveries as the service stores them (keyed Message-IDs under the served app's secret)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import (
    ContactPoint,
    DeliveryAttempt,
    DeliveryEvent,
    Incident,
    Notice,
)
from incident.service.compose import message_id_for
from incident.service.confirmation import token_for
from incident.service.directory import save_people
from incident.service.keyed_ids import message_key_of
from tests.security.conftest import SECRET

DOMAIN = "example.org"


def seed_email_and_letter(engine: Engine, *, sent_days_ago: float = 1.0) -> tuple[str, str]:
    """Anna's email notice, sent `sent_days_ago`; her letter waiting as the plan's next step.
    Returns (the email's key, its confirmation token)."""
    sent = datetime.now(UTC) - timedelta(days=sent_days_ago)
    email, letter = "I1:p1:email:1", "I1:p1:letter:1"
    mkey = message_key_of(SECRET)
    with Session(engine) as s:
        save_people(s, [{"id": "p1", "name": "Anna", "email": "anna@example.net", "country": "NL"}])
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=sent))
        s.commit()
        s.add(Notice(incident_id="I1", addressee_id="p1", person_id="p1", recipient_id="p1",
                     status="sent", channel="email"))  # fmt: skip
        point = s.exec(select(ContactPoint)).one()
        for key, status in ((email, "sent"), (letter, "scheduled")):
            s.add(DeliveryAttempt(idempotency_key=key, incident_id="I1", addressee_id="p1",
                                  person_id="p1", channel=key.split(":")[2], notice_version=1,
                                  status=status, message_id=message_id_for(key, DOMAIN, mkey),
                                  worker_id="w", claimed_at=sent,
                                  sent_at=sent if status == "sent" else None,
                                  not_before=None if status == "sent" else sent + timedelta(days=2),
                                  contact_point_id=point.id))  # fmt: skip
        s.commit()
    return email, token_for(email, SECRET)


def state(engine: Engine) -> tuple[object, ...]:
    """What a confirmation would change: notice, attempts, number of events."""
    with Session(engine) as s:
        return (
            [n.status for n in s.exec(select(Notice))],
            sorted((a.idempotency_key, a.status) for a in s.exec(select(DeliveryAttempt))),
            len(s.exec(select(DeliveryEvent)).all()),
        )
