"""A message that can never be processed is parked on the dead-letter topic with its reason and
recorded; it never blocks the notices behind it."""

from __future__ import annotations

from sqlmodel import Session, select

from incident.adapters.kafka_bus import MessageConsumer, MessageProducer
from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AuditEvent
from incident.entrypoints.workers import wait_until
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, wait_settled, workers
from tests.support.smtp import RecordingSMTPServer


def test_malformed_jobs_and_unknown_incidents_go_to_the_dead_letter_topic(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    kafka = settings.kafka
    rows = people(5)
    with runtime(settings) as rt:
        producer = MessageProducer(kafka, rt.bootstrap_servers)
        producer.publish_all(kafka.notices_topic, [("x", {"person_id": "no incident id"})])
        producer.publish_all(
            kafka.incidents_topic,
            [
                (
                    "INC-NOPE",
                    {
                        "type": "IncidentRaised",
                        "event_id": "INC-NOPE:v1",
                        "incident_id": "INC-NOPE",
                        "notice_version": 1,
                    },
                )
            ],
        )
        producer.close()
        with workers(rt):
            seed(rt, rows)
            incident_id = raise_for(rt, [r["id"] for r in rows])
            counts = wait_settled(rt, incident_id, 5)
            assert wait_until(lambda: _poison_count(rt.engine) == 2, timeout=30)
        dead = MessageConsumer(
            kafka, rt.bootstrap_servers, group_id="dead-reader", topics=[kafka.dead_topic]
        )
        parked = []
        assert wait_until(
            lambda: bool(parked.extend(dead.poll(max_records=10))) or len(parked) >= 2, timeout=30
        )
        dead.close()
    assert counts.sent == 5
    reasons = sorted(record.json()["reason"] for record in parked)
    assert reasons[0] == "incident 'INC-NOPE' not found"
    assert reasons[1] == "not a notice job: missing field 'incident_id'"


def _poison_count(engine: object) -> int:
    with Session(engine) as session:  # type: ignore[call-overload]
        return len(
            session.exec(select(AuditEvent).where(AuditEvent.kind == "poison_message")).all()
        )
