"""Regulator reports: one per authority obligation, complete and schema-valid, or blocked with
the missing item named; versions linked by `supersedes`; filed as JSON + PDF."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.announcement import FolderPublisher
from channels.base import RenderedMessage
from channels.errors import RecipientDeferred
from channels.regulator import RegulatorChannel
from incident.adapters.db import create_schema, make_engine
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, Incident, Notice, RegulatorReport, ReportItem
from incident.service.report_filing import prepare_reports, refresh_report
from incident.service.reports import schemas_dir
from tests.integration.test_substitute_public_notice import NOW, stored_incident

GDPR_KEY = "gdpr-authority/notification/NL"


@pytest.fixture()
def db(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def report_of(session: Session, incident_id: str, key: str) -> RegulatorReport:
    return session.exec(
        select(RegulatorReport).where(
            RegulatorReport.incident_id == incident_id, RegulatorReport.obligation_key == key
        )
    ).one()


def message(session: Session, row: RegulatorReport, *, now: datetime) -> RenderedMessage:
    built = refresh_report(session, row, now=now)
    assert built is not None
    report, _ = built
    return RenderedMessage(
        recipient="",
        locale="en",
        subject=None,
        body_text="",
        idempotency_key=f"{row.incident_id}:authority.{row.obligation_key}:regulator:1",
        message_id="m@example.org",
        headers={"X-Incident-Ref": row.incident_id},
        parts={
            "report.json": report.to_json(),
            "name": row.name,
            "missing": ",".join(report.missing),
        },
    )


def test_a_gdpr_report_is_complete_and_valid(db: Engine) -> None:
    """Art. 33(3) items all present, as the rule lists them; the JSON matches its schema."""
    incident_id = stored_incident(db, 3, prefix="g")
    with Session(db) as session:
        row = report_of(session, incident_id, GDPR_KEY)
        notice = session.get(Notice, row.notice_id)
        rule = session.exec(
            select(ObligationRecord).where(ObligationRecord.key == GDPR_KEY)
        ).first()
        built = refresh_report(session, row, now=NOW)
    assert built is not None and rule is not None and notice is not None
    report, _ = built
    assert (row.kind, row.phase, row.version, row.status) == ("gdpr_art33", "initial", 1, "ready")
    assert (notice.status, notice.addressee_kind, notice.reason) == ("pending", "authority", None)
    assert report.complete and report.schema_errors == ()
    assert list(report.document["items"]) == rule.content_items
    schema = json.loads((schemas_dir() / "gdpr_art33.json").read_text())
    jsonschema.validate(json.loads(report.to_json()), schema)
    assert (
        report.document["items"]["categories_and_approximate_number_of_data_subjects"][
            "approximate_number"
        ]
        == 3
    )


async def test_a_missing_item_blocks_submission_and_is_named(db: Engine, tmp_path: Path) -> None:
    """Filed after the 72 hours without reasons: blocked, the notice pending with the item
    named, an AuditEvent; the channel refuses; once the item is given, it is filed."""
    aware = (datetime.now(UTC) - timedelta(hours=100)).isoformat()
    incident_id = stored_incident(db, 2, prefix="h", aware_at=aware)
    now = datetime.now(UTC)
    channel = RegulatorChannel(publisher=FolderPublisher(tmp_path / "reports"))
    with Session(db) as session:
        row = report_of(session, incident_id, GDPR_KEY)
        notice = session.get(Notice, row.notice_id)
        audit = session.exec(select(AuditEvent).where(AuditEvent.kind == "report_blocked")).all()
        assert notice is not None and notice.status == "pending"
        assert notice.reason == "blocked: report incomplete, missing: reasons_for_delay_if_late"
        assert row.status == "blocked" and row.missing == ["reasons_for_delay_if_late"]
        assert [a.detail["missing"] for a in audit] == [["reasons_for_delay_if_late"]]
        with pytest.raises(RecipientDeferred, match="reasons_for_delay_if_late"):
            await channel.deliver(message(session, row, now=now))
        text = "The scope was confirmed only after the forensic review."
        session.add(
            ReportItem(incident_id=incident_id, item="reasons_for_delay_if_late", text=text)
        )
        session.commit()
        msg = message(session, row, now=now)
        session.commit()
        receipt = await channel.deliver(msg)
        assert row.status == "ready" and notice.reason is None
    folder = tmp_path / "reports" / incident_id
    data = (folder / f"{row.name}.json").read_bytes()
    assert json.loads(data)["items"]["reasons_for_delay_if_late"] == text
    assert (folder / f"{row.name}.pdf").read_bytes().startswith(b"%PDF")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["filed"][0]["sha256"]["json"] == hashlib.sha256(data).hexdigest()
    assert receipt.provider_id == f"{incident_id}/{row.name}"


def test_a_new_notice_version_is_a_follow_up_that_supersedes_the_first(db: Engine) -> None:
    """Phased reporting: version 2 of the notices files v2 of the report, linked to v1."""
    incident_id = stored_incident(db, 2, prefix="k")
    with Session(db) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.notice_version = 2
        session.add(incident)
        prepare_reports(session, incident_id, now=NOW + timedelta(hours=1))
        session.commit()
        rows = session.exec(
            select(RegulatorReport)
            .where(
                RegulatorReport.incident_id == incident_id,
                RegulatorReport.chain == "gdpr-authority-NL",
            )
            .order_by(RegulatorReport.version)  # type: ignore[arg-type]
        ).all()
    assert [(r.version, r.phase, r.supersedes) for r in rows] == [
        (1, "initial", None),
        (2, "follow_up", "gdpr-authority-NL/v1-initial"),
    ]
    assert rows[1].name == "gdpr-authority-NL/v2-follow_up"
