"""Receipts after acceptance: each is a stored transition with its source; one that says the
notice came back moves the person on to their next channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import ContactPoint, DeliveryAttempt, Incident, Notice
from incident.domain.model import AttemptStatus, NoticeJob
from incident.service.directory import save_people
from incident.service.receipts import apply_receipt, history

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
KEY = "I1:p1:sms:1"


def seed(engine: Engine) -> None:
    with Session(engine) as s:
        save_people(s, [{"id": "p1", "name": "Anna", "phone": "+31612345678", "country": "NL"}])
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=NOW))
        s.commit()
        s.add(
            Notice(
                incident_id="I1",
                addressee_id="p1",
                person_id="p1",
                recipient_id="p1",
                status="sent",
                channel="sms",
            )
        )
        point = s.exec(select(ContactPoint)).one()
        s.add(
            DeliveryAttempt(
                idempotency_key=KEY,
                incident_id="I1",
                addressee_id="p1",
                person_id="p1",
                channel="sms",
                notice_version=1,
                status="sent",
                message_id="m",
                provider_id="SM123",
                worker_id="w",
                claimed_at=NOW,
                contact_point_id=point.id,
            )
        )
        s.commit()


def test_a_delivered_receipt_found_by_provider_id_marks_the_notice_delivered(
    engine: Engine,
) -> None:
    seed(engine)
    outcome = apply_receipt(
        engine,
        status=AttemptStatus.DELIVERED,
        source="provider_callback",
        provider_id="SM123",
        now=NOW + timedelta(seconds=5),
    )
    assert outcome.applied and outcome.requeue is None
    with Session(engine) as s:
        notice = s.exec(select(Notice)).one()
    assert notice.status == "delivered"
    [event] = history(engine, KEY)
    assert (event.status, event.source) == ("delivered", "provider_callback")


def test_an_undelivered_receipt_moves_the_person_to_the_next_channel(engine: Engine) -> None:
    seed(engine)
    outcome = apply_receipt(
        engine,
        status=AttemptStatus.UNDELIVERED,
        source="provider_callback",
        key=KEY,
        now=NOW,
        detail={"reason": "30003 unreachable handset"},
    )
    assert outcome.requeue == NoticeJob("I1", "p1", 1)
    with Session(engine) as s:
        notice = s.exec(select(Notice)).one()
        point = s.exec(select(ContactPoint)).one()
        attempt = s.get(DeliveryAttempt, KEY)
    assert notice.status == "pending" and point.problem is not None
    assert attempt is not None and attempt.status == "undelivered"


def test_a_late_delivered_after_confirmed_is_kept_as_history_but_changes_nothing(
    engine: Engine,
) -> None:
    seed(engine)
    apply_receipt(
        engine, status=AttemptStatus.CONFIRMED, source="confirmation_link", key=KEY, now=NOW
    )
    late = apply_receipt(
        engine,
        status=AttemptStatus.DELIVERED,
        source="provider_callback",
        key=KEY,
        now=NOW + timedelta(minutes=1),
    )
    assert not late.applied
    assert [e.status for e in history(engine, KEY)] == ["confirmed", "delivered"]
    with Session(engine) as s:
        assert s.exec(select(Notice)).one().status == "confirmed"
