"""User story: a security engineer raises an incident and every affected person is told, once,
in their language, by email. Real broker, real databases, real SMTP server with STARTTLS + AUTH."""

from __future__ import annotations

import threading

from markupsafe import escape
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Notice, Outbox
from incident.entrypoints.workers import run_all, wait_until
from incident.service.dispatch import BatchResult
from incident.service.obligations import open_obligations
from tests.e2e.harness import (
    make_settings,
    parsed,
    people,
    raise_for,
    runtime,
    seed,
    wait_settled,
    workers,
)
from tests.e2e.headings import HEADINGS
from tests.support.smtp import RecordingSMTPServer


def test_an_incident_affecting_200_people_yields_exactly_200_emails_with_the_four_elements(
    database_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(database_url, kafka_broker, smtp_server)
    rows = people(200)
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        counts = wait_settled(rt, incident_id, 200)
        with Session(rt.engine) as s:
            attempts = s.exec(
                select(DeliveryAttempt).where(DeliveryAttempt.addressee_kind == "person")
            ).all()
    assert counts.sent == 200
    assert [a.status for a in attempts] == ["sent"] * 200
    messages = parsed(smtp_server)
    assert len(messages) == 200
    assert len({m["To"] for m in messages}) == 200
    locale_of = {r["email"]: r["locale"] for r in rows}
    for message in messages:
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for heading in HEADINGS[locale_of[message["To"]]]:
            assert heading in text, (message["To"], heading)
            assert escape(heading) in html, (message["To"], heading)
        assert message["Auto-Submitted"] == "auto-generated"
        assert incident_id in text


def test_redelivering_every_kafka_message_sends_no_second_email(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    rows = people(200)
    with runtime(settings) as rt:
        with workers(rt):
            seed(rt, rows)
            incident_id = raise_for(rt, [r["id"] for r in rows])
            wait_settled(rt, incident_id, 200)
        # Fresh consumer groups read both topics from the start, and the outbox publishes the
        # incident again: every message of the run is delivered a second time.
        with Session(rt.engine) as s:
            for row in s.exec(select(Outbox)).all():
                row.published_at = None
                s.add(row)
            s.commit()
        kafka = settings.kafka.model_copy(
            update={
                "enricher_group": settings.kafka.enricher_group + ".again",
                "dispatcher_group": settings.kafka.dispatcher_group + ".again",
            }
        )
        rt.settings = settings.model_copy(update={"kafka": kafka})
        seen: list[BatchResult] = []
        stop = threading.Event()
        threads = run_all(rt, stop, on_batch=seen.append)
        try:
            assert wait_until(lambda: sum(r.skipped for r in seen) >= 200, timeout=60)
            with Session(rt.engine) as s:
                outbox = s.exec(select(Outbox)).all()
            assert all(row.published_at is not None for row in outbox)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    # (The public notice and the regulator reports this incident also calls for may still be
    # on their way: they are not emails, and their own keys keep them single too.)
    assert len(smtp_server.messages) == 200
    with Session(rt.engine) as s:
        tries = s.exec(select(DeliveryAttempt.tries).where(DeliveryAttempt.channel == "email"))
        assert set(tries.all()) == {1}


def test_a_person_without_an_email_address_is_recorded_as_not_reachable_by_email(
    database_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(database_url, kafka_broker, smtp_server)
    rows = people(3) + people(2, prefix="q", email=False)
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        counts = wait_settled(rt, incident_id, 5)
        with Session(rt.engine) as s:
            unreachable = s.exec(select(Notice).where(Notice.status == "unreachable")).all()
            problems = {a.person_id: a.contact_problems for a in s.exec(select(AffectedPerson))}
            obligations = {
                (o.regime, o.recipient) for o in open_obligations(s, incident_id=incident_id)
            }
    assert (counts.sent, counts.unreachable) == (3, 2)
    assert {n.person_id for n in unreachable} == {"q0000", "q0001"}
    assert all(n.reason == "email: email missing" for n in unreachable)
    assert problems["q0000"] == {"email": "missing"}
    assert len(smtp_server.messages) == 3
    # Obligations were computed from the stored people: Dutch residents, high risk.
    assert {
        ("gdpr", "authority"),
        ("gdpr", "individuals"),
        ("policy", "individuals"),
    } <= obligations


def test_a_refused_address_is_recorded_and_a_deferred_one_is_retried_until_sent(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    rows = people(4)
    smtp_server.refuse("p0001@example.com")
    smtp_server.defer("p0002@example.com", times=2)
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        counts = wait_settled(rt, incident_id, 4)
        with Session(rt.engine) as s:
            attempts = {a.person_id: a for a in s.exec(select(DeliveryAttempt))}
            refused = s.exec(select(Notice).where(Notice.person_id == "p0001")).one()
    assert (counts.sent, counts.unreachable) == (3, 1)
    assert attempts["p0001"].status == "failed"
    assert refused.reason == "email: failed"
    assert (attempts["p0002"].status, attempts["p0002"].tries) == ("sent", 3)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "p0000@example.com",
        "p0002@example.com",
        "p0003@example.com",
    ]
