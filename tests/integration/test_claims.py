"""Claim-before-send on the real databases (PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.tables import DeliveryAttempt, Incident, Notice, Person
from incident.domain.model import AttemptStatus
from incident.service import claims
from incident.service.claims import ClaimRequest, Outcome

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def seed(engine: Engine) -> int:
    with Session(engine) as s:
        s.add(Person(id="p1", name="P", country="NL"))
        s.add(Incident(id="I1", title="t", severity="high", status="raised", aware_at=NOW))
        s.commit()
        notice = Notice(
            incident_id="I1", addressee_id="p1", person_id="p1", recipient_id="p1", status="pending"
        )
        s.add(notice)
        s.commit()
        assert notice.id is not None
        return notice.id


REQ = ClaimRequest("I1:p1:email:1", "I1", "p1", "email", 1, "abc@example.org")


def claim(engine: Engine, worker: str, at: datetime) -> set[str]:
    with Session(engine) as s:
        owned = claims.claim(s, [REQ], worker_id=worker, now=at, lease=LEASE)
        s.commit()
        return owned


def test_only_one_of_two_workers_claims_the_same_key(engine: Engine) -> None:
    seed(engine)
    assert claim(engine, "w1", NOW) == {REQ.key}
    assert claim(engine, "w2", NOW + timedelta(seconds=1)) == set()


def test_a_stale_sending_claim_of_a_dead_worker_is_taken_over_with_the_same_message_id(
    engine: Engine,
) -> None:
    seed(engine)
    claim(engine, "dead", NOW)
    assert claim(engine, "w2", NOW + LEASE + timedelta(seconds=1)) == {REQ.key}
    with Session(engine) as s:
        row = s.get(DeliveryAttempt, REQ.key)
        assert row is not None
        assert (row.worker_id, row.tries, row.message_id) == ("w2", 2, "abc@example.org")


def test_a_sent_notice_is_never_claimed_again(engine: Engine) -> None:
    notice_id = seed(engine)
    claim(engine, "w1", NOW)
    with Session(engine) as s:
        claims.record(
            s,
            [Outcome(REQ.key, notice_id, "email", AttemptStatus.SENT, "250 ok")],
            worker_id="w1",
            now=NOW,
        )
        s.commit()
        notice = s.get(Notice, notice_id)
        assert notice is not None and notice.status == "sent"
    assert claim(engine, "w2", NOW + timedelta(days=1)) == set()


def test_a_transient_failure_can_be_claimed_again_for_a_retry(engine: Engine) -> None:
    notice_id = seed(engine)
    claim(engine, "w1", NOW)
    with Session(engine) as s:
        claims.record(
            s,
            [Outcome(REQ.key, notice_id, "email", AttemptStatus.RETRY, error="451 try later")],
            worker_id="w1",
            now=NOW,
        )
        s.commit()
    assert claim(engine, "w2", NOW + timedelta(seconds=5)) == {REQ.key}
