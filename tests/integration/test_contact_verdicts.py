"""Contact points are checked once, when they are written; enrichment reads the verdict on
record (a check's, or a provider's since) and checks only points never checked. Both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels import REGISTRY
from channels.base import ContactPointData
from incident.adapters.tables import AffectedPerson, ContactPoint, Incident, Notice
from incident.service.directory import save_people
from incident.service.directory_import import import_people
from incident.service.enrich import EnrichContext, enrich_incident
from tests.support.publishers import ListPublisher

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CHECKS = {"email": REGISTRY["email"].check, "phone": REGISTRY["sms"].check}


class CountingChecks(dict[str, Any]):
    """The real checks, counting the points they are asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        super().__init__({kind: self._wrap(check) for kind, check in CHECKS.items()})

    def _wrap(self, check: Any) -> Any:
        def counted(point: ContactPointData) -> str | None:
            self.asked.append(point.value)
            return check(point)  # type: ignore[no-any-return]

        return counted


def point(engine: Engine, value: str) -> ContactPoint:
    with Session(engine) as s:
        found = s.exec(select(ContactPoint).where(ContactPoint.value == value)).one()
        s.expunge(found)
        return found


def enrich(engine: Engine, incident_id: str, people: list[str], checks: Any) -> None:
    with Session(engine) as s:
        s.add(Incident(id=incident_id, title="t", severity="high", status="raised",
                       categories=["contact"], scope={"people": people}, aware_at=NOW))  # fmt: skip
        s.commit()
    ctx = EnrichContext(ListPublisher(), "notices", checks, {"default": 18}, NOW)
    enrich_incident(engine, {"incident_id": incident_id, "event_id": incident_id}, ctx)


def affected(engine: Engine, incident_id: str, person_id: str) -> AffectedPerson:
    with Session(engine) as s:
        query = select(AffectedPerson).where(
            AffectedPerson.incident_id == incident_id, AffectedPerson.person_id == person_id
        )
        row = s.exec(query).one()
        s.expunge(row)
        return row


def test_an_import_records_each_new_points_verdict_as_it_writes_it(
    engine: Engine, tmp_path: Path
) -> None:
    """Given a file with a number that is E.164 in form but no country's, When imported with
    the checks of the channels in use, Then each point carries its verdict and when it was
    made, and enrichment asks no check again."""
    path = tmp_path / "people.csv"
    path.write_text("id,name,country,email,phone\n"
                    "p1,Anna,NL,anna@example.org,+31612345678\n"
                    "p2,Bo,NL,bo@example.org,+999123456789\n")  # fmt: skip
    summary = import_people(engine, path, channels=("email", "sms"), checks=CHECKS)
    assert summary.unusable_points == 1 and summary.clean  # kept with its reason, not rejected
    good, bad = point(engine, "+31612345678"), point(engine, "+999123456789")
    assert good.checked_at is not None and good.problem is None
    assert bad.checked_at is not None and bad.problem is not None
    assert "not a phone number" in bad.problem
    assert point(engine, "anna@example.org").checked_at is not None

    checks = CountingChecks()
    enrich(engine, "inc-1", ["p1", "p2"], checks)
    assert checks.asked == []
    assert affected(engine, "inc-1", "p2").contact_problems["phone"] == bad.problem
    assert "phone" not in affected(engine, "inc-1", "p1").contact_problems


def test_points_never_checked_are_checked_by_enrichment_and_problems_kept(engine: Engine) -> None:
    with Session(engine) as s:
        save_people(s, [{"id": "p1", "name": "A", "country": "NL", "email": "a@example.org",
                         "phone": "+999123456789"}])  # fmt: skip
        s.commit()
    checks = CountingChecks()
    enrich(engine, "inc-1", ["p1"], checks)
    assert sorted(checks.asked) == ["+999123456789", "a@example.org"]
    bad = point(engine, "+999123456789")
    assert bad.problem is not None and bad.checked_at is not None
    enrich(engine, "inc-2", ["p1"], checks := CountingChecks())
    assert checks.asked == ["a@example.org"]  # the valid address: no verdict written for it


@pytest.mark.parametrize("source", ["bounce", "operator"])
def test_a_verdict_a_provider_gave_is_not_undone_by_the_next_incidents_checks(
    engine: Engine, tmp_path: Path, source: str
) -> None:
    """Given an address that bounced (its problem recorded with a time), When a later incident
    is enriched, Then the address stays unusable although its syntax is fine; an operator's
    clearing (problem None with a time) stands too."""
    path = tmp_path / "people.csv"
    path.write_text("id,name,country,email\np1,Anna,NL,anna@example.org\n")
    import_people(engine, path, channels=("email",), checks=CHECKS)
    with Session(engine) as s:
        stored = s.exec(select(ContactPoint).where(ContactPoint.person_id == "p1")).one()
        stored.problem = "bounced: returned" if source == "bounce" else None
        stored.checked_at = NOW
        s.add(stored)
        s.commit()
    enrich(engine, "inc-1", ["p1"], CHECKS)
    problems = affected(engine, "inc-1", "p1").contact_problems
    if source == "bounce":
        assert problems["email"] == "bounced: returned"
        assert point(engine, "anna@example.org").problem == "bounced: returned"
    else:
        assert "email" not in problems


def test_a_failure_while_writing_a_chunk_fails_the_enrichment_and_leaves_it_to_rerun(
    engine: Engine,
) -> None:
    """The writer thread's error reaches the caller (the consumer then retries the event); the
    incident is not marked enriched, and a rerun queues every notice once."""

    class Broken(ListPublisher):
        def publish_all(self, topic: str, items: Any) -> int:
            raise RuntimeError("broker gone")

    with Session(engine) as s:
        save_people(s, [{"id": f"p{i}", "name": "A", "country": "NL",
                         "email": f"a{i}@example.org"} for i in range(5)])  # fmt: skip
        s.add(Incident(id="inc-1", title="t", severity="high", status="raised",
                       categories=["contact"], scope={"people": [f"p{i}" for i in range(5)]},
                       aware_at=NOW))  # fmt: skip
        s.commit()
    event = {"incident_id": "inc-1", "event_id": "e1"}
    with pytest.raises(RuntimeError, match="broker gone"):
        enrich_incident(engine, event, EnrichContext(Broken(), "notices", CHECKS, {}, NOW))
    with Session(engine) as s:
        stored = s.get(Incident, "inc-1")
        assert stored is not None and stored.status == "raised"
    publisher = ListPublisher()
    result = enrich_incident(engine, event, EnrichContext(publisher, "notices", CHECKS, {}, NOW))
    assert result.affected == 5 and len(publisher.sent) == 5
    with Session(engine) as s:
        assert len(s.exec(select(Notice).where(Notice.incident_id == "inc-1")).all()) == 5
