"""Substitute and public notice: the engine's decision creates the public notice, with grounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import AffectedPerson, AuditEvent, Incident, Notice
from incident.domain.events import ChainExhausted, IncidentEnriched, NoticesSettled
from incident.service import bus
from incident.service.directory import save_people
from incident.service.intake import raise_incident
from tests.e2e.harness import incident_spec, people

NOW = datetime.now(UTC)


def stored_incident(
    engine: Engine,
    n: int,
    *,
    unreachable: int = 0,
    prefix: str = "s",
    flags: dict[str, bool] | None = None,
    **spec: Any,
) -> str:
    """An enriched incident of `n` NL persons; the first `unreachable` could not be reached."""
    rows = people(n, prefix=prefix)
    with Session(engine) as session:
        save_people(session, rows)
        session.commit()
    ids = [r["id"] for r in rows]
    incident_id = raise_incident(engine, incident_spec(ids, **spec), topic="incidents", now=NOW)
    with Session(engine) as session:
        for i, pid in enumerate(ids):
            session.add(
                AffectedPerson(
                    incident_id=incident_id,
                    person_id=pid,
                    jurisdiction="NL",
                    categories=["contact", "credentials"],
                    recipient_id=pid,
                )
            )
            status = "unreachable" if i < unreachable else "sent"
            session.add(
                Notice(
                    incident_id=incident_id,
                    addressee_id=pid,
                    person_id=pid,
                    recipient_id=pid,
                    status=status,
                    created_at=NOW,
                )
            )
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.status = "enriched"
        # Set on the row: intake does not accept the engine-only flags (yet).
        incident.flags = {**incident.flags, **(flags or {})}
        session.add(incident)
        session.commit()
        bus.handle(session, [IncidentEnriched(incident_id, n)], now=NOW + timedelta(seconds=1))
        session.commit()
    return incident_id


def public_notices(engine: Engine, incident_id: str) -> list[Notice]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Notice).where(
                    Notice.incident_id == incident_id, Notice.addressee_kind == "public"
                )
            ).all()
        )


def test_everyone_reached_means_no_public_notice(engine: Engine) -> None:
    """All notices sent, no flag: no rule calls for a public communication."""
    incident_id = stored_incident(engine, 3, prefix="a")
    with Session(engine) as session:
        bus.handle(session, [NoticesSettled(incident_id, 3)], now=NOW + timedelta(seconds=2))
        session.commit()
    assert public_notices(engine, incident_id) == []


def test_an_unreachable_person_creates_one_complementing_public_notice(engine: Engine) -> None:
    """A chain exhausted: the GDPR 34(3)(c) and policy rules hold; one pending public notice,
    its grounds (decision, reason, citation) in an AuditEvent."""
    incident_id = stored_incident(engine, 4, unreachable=2, prefix="b")
    with Session(engine) as session:
        events = [ChainExhausted(incident_id, "b0000", "email: email missing")] * 2
        bus.handle(session, events, now=NOW + timedelta(seconds=2))
        session.commit()
        bus.handle(session, [NoticesSettled(incident_id, 0)], now=NOW + timedelta(seconds=3))
        session.commit()
        audit = session.exec(
            select(AuditEvent).where(
                AuditEvent.incident_id == incident_id, AuditEvent.kind == "public_notice_decided"
            )
        ).all()
    (notice,) = public_notices(engine, incident_id)
    assert (notice.status, notice.addressee_id) == ("pending", "public")
    assert notice.reason is not None and notice.reason.startswith("complement:")
    (decided,) = audit
    grounds = {g["obligation"].split("/")[0]: g for g in decided.detail["grounds"]}
    assert decided.detail["mode"] == "complement"
    assert grounds["gdpr-individuals"]["decision"] == "complement"
    assert "34(3)(c)" in grounds["gdpr-individuals"]["reason"]
    assert "GDPR Art. 34" in grounds["gdpr-individuals"]["citation"]
    assert "policy-public" in grounds


def test_disproportionate_effort_decides_at_enrichment(engine: Engine) -> None:
    """The flag holds before anyone is tried: the public notice exists right after
    enrichment (the privacy policy's "hard to inform one by one")."""
    incident_id = stored_incident(engine, 2, prefix="c", flags={"disproportionate_effort": True})
    (notice,) = public_notices(engine, incident_id)
    assert notice.status == "pending"
