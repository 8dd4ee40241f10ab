"""A processor's incident: the controller named in the incident is told (GDPR Art. 33(2)) by a
notice filed through the regulator channel, and no authority report is made."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import Notice, RegulatorReport
from incident.domain.model import NoticeJob
from incident.service.obligations import open_obligations
from incident.service.obligations_met import mark_met_obligations
from tests.integration.test_credit_bureau_reports import TOLD_AT, db, dispatcher
from tests.integration.test_substitute_public_notice import stored_incident

__all__ = ["db"]
KEY = "gdpr-processor/notice/EU"
CONTROLLER = {"name": "Shop Example B.V.", "email": "dpo@shop.example", "contact_person": "DPO"}


async def test_a_processor_incident_files_a_controller_notice_and_no_authority_report(
    db: Engine, tmp_path: Path
) -> None:
    incident_id = stored_incident(db, 3, prefix="pr", role="processor", controller=CONTROLLER)
    with Session(db) as session:
        reports = session.exec(
            select(RegulatorReport).where(RegulatorReport.incident_id == incident_id)
        ).all()
        filed = session.exec(
            select(Notice.addressee_id).where(
                Notice.incident_id == incident_id, Notice.addressee_kind == "authority"
            )
        ).all()
        recipients = {r.recipient for r in open_obligations(session, incident_id=incident_id)}
    assert [(r.obligation_key, r.kind, r.status) for r in reports] == [(KEY, "controller", "ready")]
    assert filed == [KEY]
    assert "authority" not in recipients

    result = await dispatcher(db, tmp_path / "reports").handle(
        [NoticeJob(incident_id, KEY, 1, "authority")]
    )
    assert result.sent == 1
    with Session(db) as session:
        mark_met_obligations(session, incident_id, now=TOLD_AT)
        session.commit()
        met = {r.key: r.status for r in open_obligations(session, incident_id=incident_id)}
    assert met[KEY] == "met"
    document = json.loads(
        (tmp_path / "reports" / incident_id / f"{reports[0].name}.json").read_text()
    )
    assert document["report_kind"] == "controller"
    assert document["addressees"] == [{"id": "controller", **CONTROLLER}]
    assert document["authority"]["name"] == "the controller named in the incident"
    items = document["items"]
    assert items["processor_contact"]["email"] == "privacy@example.org"
    assert items["nature_of_breach"] == "An attacker read the accounts table."
    assert items["categories_and_approximate_number_of_data_subjects"]["approximate_number"] == 3
