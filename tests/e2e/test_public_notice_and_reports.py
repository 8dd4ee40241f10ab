"""User story: most affected people cannot be reached; the public notice is decided, published as
a notice site, and the GDPR authority's report is filed. Real broker, database and SMTP server,
the real workers; the announcement and regulator channels routed as bootstrap will route them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import Notice, RegulatorReport
from incident.entrypoints.cli import app
from incident.entrypoints.workers import wait_until
from incident.service.obligations import open_obligations
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, wait_settled, workers
from tests.support.smtp import RecordingSMTPServer


@pytest.mark.slow
def test_most_people_unreachable_gets_a_published_notice_and_a_filed_report(
    database_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        database_url,
        kafka_broker,
        smtp_server,
        fallback_chain=["email", "announcement", "regulator"],
        sweep_after_seconds=1.0,
    )
    settings.channels["announcement"] = {"web_root": str(tmp_path / "public")}
    settings.channels["regulator"] = {"export_dir": str(tmp_path / "reports")}
    rows = people(3) + people(9, prefix="u", email=False)
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        wait_settled(rt, incident_id, 12, timeout=90)

        def nothing_pending() -> bool:  # people, the public and the authorities alike
            with Session(rt.engine) as s:
                statuses = s.exec(select(Notice.status).where(Notice.incident_id == incident_id))
                kinds = s.exec(
                    select(Notice.addressee_kind).where(Notice.incident_id == incident_id)
                )
                return "pending" not in set(statuses) and {"public", "authority"} <= set(kinds)

        assert wait_until(nothing_pending, timeout=60)

        def filed_obligations_met() -> bool:  # the authority's duty is met once its report is sent
            with Session(rt.engine) as s:
                rows = open_obligations(s, incident_id=incident_id)
            return all(r.status == "met" for r in rows if r.recipient in ("authority", "public"))

        assert wait_until(filed_obligations_met, timeout=30)
        with Session(rt.engine) as s:
            obligations = open_obligations(s, incident_id=incident_id)
        with Session(rt.engine) as s:
            notices = s.exec(select(Notice).where(Notice.incident_id == incident_id)).all()
            reports = s.exec(select(RegulatorReport)).all()
    by_kind = {(n.addressee_kind, n.status) for n in notices}
    persons = [n for n in notices if n.addressee_kind == "person"]
    assert sorted(n.status for n in persons) == ["sent"] * 3 + ["unreachable"] * 9
    assert ("public", "sent") in by_kind
    assert {n.status for n in notices if n.addressee_kind == "authority"} == {"sent"}
    site = tmp_path / "public" / "notices" / incident_id
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["latest"] == 1
    for locale in ("en", "nl", "de", "fr", "es", "pt", "zh", "ja"):
        assert (site / locale / "index.html").is_file()
        assert (site / "v1" / locale / "feed.atom").is_file()
    gdpr = next(r for r in reports if r.kind == "gdpr_art33")
    filed = tmp_path / "reports" / incident_id / f"{gdpr.name}.json"
    contact_point = json.loads(filed.read_text())["items"]["dpo_or_contact_point"]
    assert contact_point["email"] == "privacy@example.org"
    env = {"BREACHNOTICE_DATABASE_URL": database_url, "BREACHNOTICE_OUT_DIR": str(tmp_path)}
    shown = CliRunner().invoke(app, ["public", "show", incident_id, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "policy-public" in shown.output
    listed = CliRunner().invoke(app, ["reports", "list", incident_id, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert {r["submitted"] for r in json.loads(listed.output)} == {"sent"}
    met = [r for r in obligations if r.status == "met"]
    assert met and all(r.met_at is not None for r in met)
    assert {r.recipient for r in met} >= {"authority", "individuals"}
    due = CliRunner().invoke(app, ["deadlines", "--json"], env=env)
    assert due.exit_code == 0, due.output
    assert not {r["key"] for r in json.loads(due.output)} & {r.key for r in met}
    everything = CliRunner().invoke(app, ["deadlines", "--all", "--json"], env=env)
    assert {r["key"] for r in json.loads(everything.output)} >= {r.key for r in met}
