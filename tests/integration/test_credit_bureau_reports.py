"""Credit-bureau duties end to end: more than 1,000 Floridians told (Fla. Stat. 501.171(5)) →
one report addressed to each nationwide agency of config/credit_bureaus.toml, filed by the real
dispatcher through the regulator channel, and the obligation met by that delivery record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.announcement import FolderPublisher
from channels.regulator import RegulatorChannel
from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import (
    AffectedPerson,
    DeliveryAttempt,
    Incident,
    Notice,
    RegulatorReport,
)
from incident.domain.events import IncidentEnriched
from incident.domain.model import NoticeJob
from incident.rendering import Renderer
from incident.service import bus
from incident.service.addressees import credit_bureaus
from incident.service.directory import save_people
from incident.service.dispatch import Dispatcher, Topics
from incident.service.evidence import export_evidence
from incident.service.intake import raise_incident
from incident.service.obligations import open_obligations
from incident.service.obligations_met import mark_met_obligations
from incident.service.publication import PublicationComposer
from incident.settings import DispatchSettings, templates_dir
from tests.e2e.harness import incident_spec, people
from tests.integration.test_dispatcher import RecordingPublisher
from tests.integration.test_substitute_public_notice import NOW

CRA_KEY = "us-fl-credit-bureaus/notice/US-FL"
TOLD_AT = NOW + timedelta(hours=2)


@pytest.fixture()
def db(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def floridians_told(engine: Engine, n: int) -> str:
    """An enriched incident of `n` Florida residents (card data), each told by email."""
    rows = people(n, prefix="fl")
    with Session(engine) as session:
        save_people(session, rows)
        session.commit()
    ids = [r["id"] for r in rows]
    spec = incident_spec(ids, categories=["contact", "payment"])
    incident_id = raise_incident(engine, spec, topic="incidents", now=NOW)
    with Session(engine) as session:
        for i, pid in enumerate(ids):
            key = f"{incident_id}:{pid}:email:1"
            session.add(
                AffectedPerson(incident_id=incident_id, person_id=pid, jurisdiction="US-FL",
                               categories=["contact", "payment"], recipient_id=pid)
            )  # fmt: skip
            session.add(
                Notice(incident_id=incident_id, addressee_id=pid, person_id=pid,
                       recipient_id=pid, status="sent", channel="email", created_at=NOW)
            )  # fmt: skip
            session.add(
                DeliveryAttempt(
                    idempotency_key=key, incident_id=incident_id, addressee_id=pid,
                    person_id=pid, channel="email", notice_version=1, status="sent",
                    message_id=f"{i}@example.org", worker_id="w", claimed_at=TOLD_AT,
                    sent_at=TOLD_AT + timedelta(seconds=i % 60),
                )
            )  # fmt: skip
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.status = "enriched"
        session.add(incident)
        session.commit()
        bus.handle(session, [IncidentEnriched(incident_id, n)], now=TOLD_AT + timedelta(hours=1))
        session.commit()
    return incident_id


def dispatcher(engine: Engine, reports: Path) -> Dispatcher:
    channel = RegulatorChannel(publisher=FolderPublisher(reports))
    composer = PublicationComposer(
        Renderer(templates_dir()), message_domain="example.org", engine=engine,
        message_key=b"test-message-key",
        clock=lambda: TOLD_AT + timedelta(hours=2),
    )  # fmt: skip
    return Dispatcher(
        engine, {"regulator": channel}, composer,
        settings=DispatchSettings(claim_lease_seconds=60, max_tries=3),
        publisher=RecordingPublisher(), topics=Topics("notices", "notices.retry"),
        worker_id="w-cra", clock=lambda: TOLD_AT + timedelta(hours=2),
    )  # fmt: skip


def obligation(engine: Engine, incident_id: str, key: str) -> tuple[str, object]:
    with Session(engine) as session:
        row = next(r for r in open_obligations(session, incident_id=incident_id) if r.key == key)
    return row.status, row.met_at


async def test_more_than_1000_floridians_get_a_credit_bureau_report_filed_and_the_duty_met(
    db: Engine, tmp_path: Path
) -> None:
    incident_id = floridians_told(db, 1001)
    assert obligation(db, incident_id, CRA_KEY) == ("open", None)
    with Session(db) as session:
        row = session.exec(
            select(RegulatorReport).where(RegulatorReport.obligation_key == CRA_KEY)
        ).one()
        notice = session.get(Notice, row.notice_id)
    assert notice is not None
    assert (row.kind, row.status, notice.addressee_kind) == ("credit_bureau", "ready", "authority")

    result = await dispatcher(db, tmp_path / "reports").handle(
        [NoticeJob(incident_id, CRA_KEY, 1, "authority")]
    )
    assert result.sent == 1
    with Session(db) as session:
        mark_met_obligations(session, incident_id, now=TOLD_AT + timedelta(hours=3))
        session.commit()
        attempt = session.exec(
            select(DeliveryAttempt).where(DeliveryAttempt.addressee_id == CRA_KEY)
        ).one()
    assert (attempt.channel, attempt.status, attempt.addressee_kind) == (
        "regulator", "sent", "authority",
    )  # fmt: skip
    assert obligation(db, incident_id, CRA_KEY) == ("met", attempt.sent_at)

    filed = json.loads((tmp_path / "reports" / incident_id / f"{row.name}.json").read_text())
    assert filed["report_kind"] == "credit_bureau"
    assert [a["name"] for a in filed["addressees"]] == [a.name for a in credit_bureaus()]
    assert {"Equifax", "Experian", "TransUnion"} == {
        a["name"].split()[0] for a in filed["addressees"]
    }
    items = filed["items"]
    assert items["approximate_number_affected"] == 1001
    assert items["timing_of_notices"]["first_sent_at"] == TOLD_AT.isoformat()
    assert items["timing_of_notices"]["still_pending"] == 0
    assert items["distribution_of_notices"]["persons_told_by_channel"] == {"email": 1001}
    assert items["content_of_notices"]["what_happened"] == "An attacker read the accounts table."
    manifest = json.loads((tmp_path / "reports" / incident_id / "manifest.json").read_text())
    assert [f["name"] for f in manifest["filed"]] == [row.name]

    pack = tmp_path / "pack"
    export_evidence(db, incident_id, pack, public_root=tmp_path / "public",
                    reports_root=tmp_path / "reports")  # fmt: skip
    lines = (pack / "obligations.csv").read_text().splitlines()
    cra = next(line for line in lines if line.startswith(CRA_KEY))
    assert attempt.sent_at is not None and attempt.sent_at.isoformat() in cra


def test_1000_floridians_are_no_credit_bureau_duty(db: Engine) -> None:
    """'More than 1,000' (501.171(5)): exactly 1,000 files nothing with the agencies."""
    incident_id = floridians_told(db, 1000)
    with Session(db) as session:
        keys = {r.key for r in open_obligations(session, incident_id=incident_id)}
        reports = session.exec(
            select(RegulatorReport.obligation_key).where(RegulatorReport.incident_id == incident_id)
        ).all()
    assert "us-fl-authority/report/US-FL" in keys and CRA_KEY not in keys
    assert CRA_KEY not in reports
