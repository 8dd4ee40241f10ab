"""User story: a reporter raises an incident; it is enriched and its deadlines run, but nothing
reaches anyone until a second person approves it, even when jobs for the draft reach the
dispatcher or the sweep finds its pending notices. The reporter's own approval is refused;
another person's sends the notices. Real broker, database and SMTP server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.operator_tables import IncidentApproval
from incident.adapters.tables import AuditEvent, DeliveryAttempt, Incident, Notice, Outbox
from incident.entrypoints.workers import wait_until
from incident.errors import InvalidInput
from incident.service.approval import approve_incident
from incident.service.obligations import open_obligations
from tests.e2e.harness import (
    REPORTER,
    incident_spec,
    make_settings,
    people,
    raise_draft,
    runtime,
    seed,
    wait_settled,
    workers,
)
from tests.support.smtp import RecordingSMTPServer


def test_a_fan_out_waits_for_a_second_persons_approval(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    assert settings.approval.waive == []  # the default: every severity needs approval
    topic = settings.kafka.incidents_topic
    rows = people(12)
    ids = [r["id"] for r in rows]
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_draft(rt, incident_spec(ids))

        def pending_notices() -> int:
            with Session(rt.engine) as s:
                return len(s.exec(select(Notice).where(Notice.incident_id == incident_id)).all())

        def obligations() -> int:
            with Session(rt.engine) as s:
                return len(open_obligations(s, incident_id=incident_id))

        assert wait_until(lambda: pending_notices() == 12, timeout=30)  # the draft is enriched
        assert wait_until(lambda: obligations() > 0, timeout=10)  # its deadlines run meanwhile
        with Session(rt.engine) as s:
            incident = s.get(Incident, incident_id)
            assert incident is not None and incident.status == "draft"
            # Jobs for the draft reach the dispatchers anyway (a replay, an operator's mistake).
            for pid in ids:
                payload = {"incident_id": incident_id, "person_id": pid, "notice_version": 1}
                s.add(Outbox(topic=settings.kafka.notices_topic, key=pid, payload=payload))
            s.commit()

        def relayed() -> bool:
            with Session(rt.engine) as s:
                unsent = select(Outbox).where(col(Outbox.published_at).is_(None))
                return s.exec(unsent).first() is None

        assert wait_until(relayed, timeout=20)
        time.sleep(5)  # the dispatcher had the jobs, the sweep (3 s) saw the pending notices
        assert smtp_server.messages == []
        with Session(rt.engine) as s:
            assert s.exec(select(DeliveryAttempt)).first() is None

        with pytest.raises(InvalidInput, match="reporter cannot approve"):
            approve_incident(
                rt.engine, incident_id, by=REPORTER.upper(), topic=topic, now=datetime.now(UTC)
            )
        time.sleep(1)
        assert smtp_server.messages == []

        approve_incident(rt.engine, incident_id, by="casey.dpo", topic=topic, now=datetime.now(UTC))
        counts = wait_settled(rt, incident_id, 12)
        with Session(rt.engine) as s:
            approval = s.exec(select(IncidentApproval)).one()
            kinds = [a.kind for a in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    assert counts.sent == 12 and len(smtp_server.messages) == 12
    assert (approval.decided_by, approval.version, approval.waived) == ("casey.dpo", 1, False)
    assert kinds.index("incident_raised") < kinds.index("incident_approved")
