"""Deadline alerts through the email channel against a real SMTP server, on SQLite and
PostgreSQL: each owner gets each alert once, however often the check runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from channels.email import EmailSettings
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AlertSent, Incident
from incident.bootstrap import Runtime
from incident.entrypoints.cli import app
from incident.service.alerts import MISSED, check_deadline_alerts
from incident.settings import AlertOwner, AlertSettings, Settings
from tests.support.smtp import RecordingSMTPServer

DUE = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Incident(id="INC-A1", title="t", severity="high", status="enriched",
                       aware_at=DUE - timedelta(hours=72)))  # fmt: skip
        s.commit()
        s.add(ObligationRecord(
            incident_id="INC-A1", key="gdpr_art33/authority/NL", rule_id="gdpr_art33",
            regime="GDPR", recipient="authority", recipient_name="Autoriteit Persoonsgegevens",
            stage="notification", jurisdiction="NL", persons=3, reason="-", citation="Art. 33",
            deadline="72h", clock_note="-", time_zone="Europe/Amsterdam",
            clock_start_kind="aware", due=DUE, law_enforcement_delay="-", facts_hash="x",
        ))  # fmt: skip
        s.commit()


def _runtime(engine: Engine, smtp: RecordingSMTPServer) -> Runtime:
    alerts = AlertSettings(
        owners=[
            AlertOwner(name="Lead", email="lead@example.org"),
            AlertOwner(name="DPO", phone="+31201234567"),  # no email: recorded as failed
        ]
    )
    email = EmailSettings(host=smtp.host, port=smtp.port, username=smtp.username,
                          password=smtp.password, ca_file=smtp.ca_file, timeout=5.0)  # fmt: skip
    return Runtime(Settings(alerts=alerts), engine, "", {"email": email})


def _subjects(smtp: RecordingSMTPServer) -> list[str]:
    return [str(make_header(decode_header(message_from_bytes(m.data)["Subject"])))
            for m in smtp.messages]  # fmt: skip


def test_each_point_reaches_each_owner_once(
    engine: Engine, smtp_server: RecordingSMTPServer
) -> None:
    _seed(engine)
    rt = _runtime(engine, smtp_server)
    for minutes in range(0, 60, 10):  # the sweep runs often: six checks inside the 6h window
        check_deadline_alerts(rt, now=DUE - timedelta(hours=5) + timedelta(minutes=minutes))

    assert _subjects(smtp_server) == [
        "[INC-A1] GDPR deadline for Autoriteit Persoonsgegevens in 5h 00m"
    ]
    assert smtp_server.messages[0].rcpt_tos == ("lead@example.org",)
    with Session(engine) as s:
        rows = {r.owner: r for r in s.exec(select(AlertSent)).all()}
    assert {o: (r.point, r.status) for o, r in rows.items()} == {
        "Lead": ("6h", "sent"), "DPO": ("6h", "failed"),
    }  # fmt: skip
    assert rows["DPO"].error == "owner has no email in [alerts]"


def test_a_missed_deadline_alerts_once_and_a_met_one_not_at_all(
    engine: Engine, smtp_server: RecordingSMTPServer
) -> None:
    _seed(engine)
    rt = _runtime(engine, smtp_server)
    check_deadline_alerts(rt, now=DUE + timedelta(minutes=1))
    check_deadline_alerts(rt, now=DUE + timedelta(hours=3))
    with Session(engine) as s:
        ob = s.exec(select(ObligationRecord)).one()
        ob.status, ob.met_at = "met", DUE + timedelta(hours=4)
        s.add(ob)
        s.commit()
    check_deadline_alerts(rt, now=DUE + timedelta(days=3))

    assert _subjects(smtp_server) == [
        "[INC-A1] MISSED: GDPR deadline for Autoriteit Persoonsgegevens"
    ]
    with Session(engine) as s:
        assert {r.point for r in s.exec(select(AlertSent)).all()} == {MISSED}


def test_a_send_a_dead_worker_left_in_flight_is_resent_with_the_same_message_id(
    engine: Engine, smtp_server: RecordingSMTPServer
) -> None:
    _seed(engine)
    rt = _runtime(engine, smtp_server)
    check_deadline_alerts(rt, now=DUE - timedelta(hours=2))
    first_id = message_from_bytes(smtp_server.messages[0].data)["Message-ID"]
    with Session(engine) as s:  # as if the worker died between the claim and the channel call
        row = s.get(AlertSent, "alert:INC-A1:gdpr_art33/authority/NL:6h:Lead")
        assert row is not None
        row.status = "sending"
        s.add(row)
        s.commit()

    check_deadline_alerts(rt, now=DUE - timedelta(hours=2) + timedelta(seconds=30))  # in lease
    assert len(smtp_server.messages) == 1
    check_deadline_alerts(rt, now=DUE - timedelta(hours=2) + timedelta(minutes=5))  # lease over

    assert [message_from_bytes(m.data)["Message-ID"] for m in smtp_server.messages] == [
        first_id, first_id,
    ]  # fmt: skip


def test_deadlines_shows_the_alerts_sent(
    engine: Engine,
    database_url: str,
    smtp_server: RecordingSMTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed(engine)
    check_deadline_alerts(_runtime(engine, smtp_server), now=DUE - timedelta(hours=20))
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)

    out = CliRunner().invoke(app, ["deadlines", "--json", "--now", "2026-05-04T00:00:00+00:00"])

    assert out.exit_code == 0, out.output
    [row] = json.loads(out.stdout)
    assert sorted((a["point"], a["owner"], a["status"]) for a in row["alerts"]) == [
        ("24h", "DPO", "failed"), ("24h", "Lead", "sent"),
    ]  # fmt: skip
