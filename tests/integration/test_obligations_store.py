"""Obligations of stored incidents: recomputed from the database, history kept, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Incident, Notice, Person
from incident.errors import NotFound
from incident.service.obligations import (
    mark_met,
    open_obligations,
    recompute_obligations,
    record_clock,
)

AWARE = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def seed(engine: Engine, people: dict[str, int], *, flags: dict[str, bool] | None = None) -> None:
    with session(engine) as s:
        categories = ["contact", "credentials"]
        s.add(Incident(id="inc-1", title="Leak", severity="high", status="enriched",
                       categories=categories, flags=flags or {}, aware_at=AWARE))  # fmt: skip
        s.flush()
        add_people(s, people)
        s.commit()


def add_people(s: Session, people: dict[str, int], start: int = 0) -> None:
    n = start
    for jurisdiction, count in people.items():
        country, _, region = jurisdiction.partition("-")
        for _ in range(count):
            pid = f"p{n}"
            s.add(Person(id=pid, name=pid, country=country, region=region or None))
            s.flush()
            s.add(AffectedPerson(incident_id="inc-1", person_id=pid, jurisdiction=jurisdiction,
                                 recipient_id=pid, categories=["contact"]))  # fmt: skip
            n += 1


def all_rows(engine: Engine) -> list[ObligationRecord]:
    with session(engine) as s:
        return list(s.exec(select(ObligationRecord)).all())


def test_obligations_are_computed_from_the_stored_incident_and_its_people(engine: Engine) -> None:
    seed(engine, {"NL": 3, "US-CA": 2})
    with session(engine) as s:
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
        s.commit()
    gdpr = rows["gdpr-authority/notification/NL"]
    assert gdpr.due == AWARE + timedelta(hours=72)
    assert gdpr.persons == 3 and "Art. 33" in gdpr.citation
    assert rows["us-ca-individuals/notice/US-CA"].due == datetime(2026, 4, 5, 14, 0, tzinfo=UTC)
    assert "us-ca-authority/sample_copy/US-CA" not in rows


def test_recomputing_unchanged_facts_writes_nothing(engine: Engine) -> None:
    seed(engine, {"NL": 3})
    with session(engine) as s:
        first = [r.id for r in recompute_obligations(s, "inc-1", now=NOW)]
        s.commit()
    with session(engine) as s:
        again = [r.id for r in recompute_obligations(s, "inc-1", now=NOW + timedelta(hours=1))]
        s.commit()
    assert first == again
    assert len(all_rows(engine)) == len(first)


def test_new_affected_people_supersede_the_open_set_and_keep_history(engine: Engine) -> None:
    seed(engine, {"US-CA": 500})
    with session(engine) as s:
        before = recompute_obligations(s, "inc-1", now=NOW)
        s.commit()
        assert not any(r.rule_id == "us-ca-authority" for r in before)
        add_people(s, {"US-CA": 1}, start=500)
        s.commit()
        later = NOW + timedelta(hours=2)
        after = recompute_obligations(s, "inc-1", now=later)
        s.commit()
    assert any(r.key == "us-ca-authority/sample_copy/US-CA" for r in after)
    rows = all_rows(engine)
    superseded = [r for r in rows if r.superseded_at is not None]
    assert len(superseded) == len(before)
    assert {r.superseded_at for r in superseded} == {NOW + timedelta(hours=2)}
    with session(engine) as s:
        assert len(open_obligations(s, incident_id="inc-1")) == len(after)


def test_unreachable_people_change_the_substitute_notice_decision(engine: Engine) -> None:
    seed(engine, {"US-CA": 3})
    with session(engine) as s:
        s.add(
            Notice(
                incident_id="inc-1",
                addressee_id="p0",
                person_id="p0",
                recipient_id="p0",
                status="unreachable",
            )
        )
        s.add(
            Notice(
                incident_id="inc-1",
                addressee_id="p1",
                person_id="p1",
                recipient_id="p1",
                status="sent",
            )
        )
        s.commit()
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
    decision = rows["us-ca-individuals/notice/US-CA"].substitute_notice
    assert decision["decision"] == "complement"
    assert "unreachable persons in US-CA: 1" in decision["reason"]
    assert "policy-public/announcement/-" in rows


def test_a_met_obligation_stays_met_across_recomputation(engine: Engine) -> None:
    seed(engine, {"NL": 3})
    with session(engine) as s:
        recompute_obligations(s, "inc-1", now=NOW)
        mark_met(s, "inc-1", "gdpr-authority/notification/NL", at=NOW)
        s.commit()
        add_people(s, {"NL": 1}, start=3)
        s.commit()
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW + timedelta(hours=1))}
        s.commit()
    assert rows["gdpr-authority/notification/NL"].status == "met"
    assert rows["gdpr-authority/notification/NL"].persons == 4


def test_a_recorded_materiality_starts_the_sec_clock(engine: Engine) -> None:
    seed(engine, {"US-NY": 1}, flags={"public_company": True, "unrelated_flag": True})
    with session(engine) as s:
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
        assert rows["sec-8k/form_8k/US"].due is None
        record_clock(s, "inc-1", "material_at", datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
        s.commit()
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
        s.commit()
    # 17:30 ET on the fourth business day (17 CFR 232.13(a)(2)).
    assert rows["sec-8k/form_8k/US"].due == datetime(2026, 12, 2, 22, 30, tzinfo=UTC)


def sent_attempt(person_id: str, at: datetime) -> DeliveryAttempt:
    return DeliveryAttempt(
        idempotency_key=f"k-{person_id}", incident_id="inc-1", addressee_kind="person",
        addressee_id=person_id, person_id=person_id, channel="email", notice_version=1,
        status="sent", message_id=f"m-{person_id}", worker_id="w", claimed_at=at, sent_at=at,
    )  # fmt: skip


def test_the_ca_sample_copy_clock_starts_when_residents_are_first_notified(
    engine: Engine,
) -> None:
    # Civ. Code 1798.82(f): 15 calendar days from notifying residents, taken from delivery rows.
    seed(engine, {"US-CA": 501})
    first = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    with session(engine) as s:
        before = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
        assert before["us-ca-authority/sample_copy/US-CA"].due is None
        s.add(sent_attempt("p1", first + timedelta(hours=3)))
        s.add(sent_attempt("p0", first))
        s.commit()
        rows = {r.key: r for r in recompute_obligations(s, "inc-1", now=NOW)}
        s.commit()
    assert rows["us-ca-authority/sample_copy/US-CA"].due == first + timedelta(days=15)


def test_an_unknown_incident_is_not_found(engine: Engine) -> None:
    with session(engine) as s, pytest.raises(NotFound):
        recompute_obligations(s, "nope", now=NOW)
