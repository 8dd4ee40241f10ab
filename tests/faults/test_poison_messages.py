"""Poison on the notices topic: each message that can never be processed is dead-lettered with
its reason and recorded, and the dispatcher goes on to deliver the real jobs behind it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AuditEvent
from incident.settings import Settings
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_nobody_unreachable,
    assert_running,
    service,
    settle,
    wait_for,
)
from tests.support.smtp import RecordingSMTPServer

Raw = tuple[bytes | None, bytes]


def _job(**fields: object) -> bytes:
    return json.dumps({"person_id": "p0000", "notice_version": 1, **fields}).encode()


def _publish_raw(settings: Settings, messages: list[Raw]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        for key, value in messages:
            producer.send(settings.kafka.notices_topic, key=key, value=value)
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=5)


def _poison_reasons(engine: Engine) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.kind == "poison_message")).all()
    return sorted(str(r.detail["reason"]) for r in rows)


def _poison_then_a_real_incident(
    database_url: str,
    broker: LocalBroker,
    smtp: RecordingSMTPServer,
    poison: list[Raw],
) -> list[str]:
    """Publish `poison` before any dispatcher runs, then raise a real incident for 10 people:
    they must all be told once, and the dead-letter reasons are returned."""
    settings = make_settings(database_url, broker, smtp)
    rows = people(10)
    with runtime(settings) as rt:
        seed(rt, rows)
        _publish_raw(settings, poison)
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            settle(rt, incident_id, 10, threads)
            wait_for(
                "every poison message to be recorded",
                lambda: len(_poison_reasons(rt.engine)) >= len(poison),
                threads,
                timeout=5,  # the poison came first on its partition: it is already behind us
            )
            assert_running(threads)
        assert_nobody_unreachable(rt.engine, incident_id, 10)
        reasons = _poison_reasons(rt.engine)
    assert_each_notified_once(smtp, [r["email"] for r in rows])
    return reasons


def test_unreadable_jobs_are_dead_lettered_and_the_real_jobs_behind_them_delivered(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    far = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    reasons = _poison_then_a_real_incident(
        sqlite_url,
        kafka_broker,
        smtp_server,
        [
            (b"p0000", b"{not json"),
            (b"p0000", b'["INC-1", "p0000", 1]'),
            (b"p0000", _job(incident_id="INC-1", not_before=far)),
        ],
    )
    assert len(reasons) == 3, reasons
    assert all(r.startswith("not a notice job: ") for r in reasons), reasons
    assert any("not JSON" in r for r in reasons), reasons
    assert any("JSON list" in r for r in reasons), reasons
    assert any("days ahead" in r for r in reasons), reasons


def test_a_job_for_an_unknown_incident_is_dead_lettered(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    reasons = _poison_then_a_real_incident(
        sqlite_url, kafka_broker, smtp_server, [(b"p0000", _job(incident_id="INC-NOPE"))]
    )
    assert len(reasons) == 1 and "INC-NOPE" in reasons[0], reasons


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_job_whose_key_is_not_utf8_is_dead_lettered(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    reasons = _poison_then_a_real_incident(
        sqlite_url, kafka_broker, smtp_server, [(b"\xff\xfe\x00", _job(incident_id="INC-1"))]
    )
    assert len(reasons) == 1 and "key is not UTF-8" in reasons[0], reasons
