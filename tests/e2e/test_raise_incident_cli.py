"""User story: an engineer raises an incident from a file; bad files are refused precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import AuditEvent, Incident, Outbox
from incident.entrypoints.cli import app

GOOD = Path(__file__).parents[2] / "config" / "examples" / "incident.yaml"


@pytest.fixture()
def db_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BREACHNOTICE_LOG_FORMAT", "json")
    return sqlite_url


def stored(url: str) -> tuple[list[Incident], list[Outbox]]:
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as s:
        return list(s.exec(select(Incident))), list(s.exec(select(Outbox)))


def test_a_valid_incident_file_is_stored_as_a_draft_with_its_outbox_row_and_its_id_printed(
    db_env: str,
) -> None:
    """The draft is queued for enrichment; nothing goes to people until a second person
    approves (the enricher and dispatchers hold its notices)."""
    result = CliRunner().invoke(app, ["incident", "raise", str(GOOD), "--by", "riley"])
    assert result.exit_code == 0, result.output
    incidents, outbox = stored(db_env)
    assert [(i.id, i.status, i.reported_by) for i in incidents] == [
        (result.stdout.strip(), "draft", "riley")
    ]
    assert [o.payload["type"] for o in outbox] == ["IncidentRaised"]  # enriched, not sent
    assert "nothing is sent until another person runs" in result.stderr


def test_the_reporter_cannot_approve_and_another_person_queues_the_incident(
    db_env: str,
) -> None:
    runner = CliRunner()
    incident_id = runner.invoke(app, ["incident", "raise", str(GOOD), "--by", "Riley"]).stdout
    incident_id = incident_id.strip()
    same = runner.invoke(app, ["incident", "approve", incident_id, "--by", " riley "])
    assert same.exit_code == 2
    assert "the reporter cannot approve their own incident" in same.stderr
    assert len(stored(db_env)[1]) == 1
    other = runner.invoke(app, ["incident", "approve", incident_id, "--by", "avery", "--json"])
    assert other.exit_code == 0, other.output
    approval = json.loads(other.stdout)
    assert approval["approved_by"] == "avery" and approval["version"] == 1
    assert len(approval["content_sha256"]) == 64
    again = runner.invoke(app, ["incident", "approve", incident_id, "--by", "sam"])
    assert again.exit_code == 2 and "not a draft awaiting approval" in again.stderr
    unknown = runner.invoke(app, ["incident", "approve", "INC-NOPE", "--by", "sam"])
    assert unknown.exit_code == 2 and "no such incident" in unknown.stderr
    incidents, outbox = stored(db_env)
    assert incidents[0].status == "raised"
    assert [o.payload["type"] for o in outbox] == ["IncidentRaised", "IncidentApproved"]
    assert outbox[0].payload == {
        "type": "IncidentRaised",
        "event_id": f"{incidents[0].id}:v1",
        "incident_id": incidents[0].id,
        "notice_version": 1,
    }


def test_a_waived_severity_is_queued_at_once_and_the_waiver_printed_and_audited(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHNOTICE_APPROVAL__WAIVE", '["high"]')
    result = CliRunner().invoke(app, ["incident", "raise", str(GOOD)])
    assert result.exit_code == 0, result.output
    assert "approval waived: [approval] waive includes severity 'high'" in result.stderr
    incidents, outbox = stored(db_env)
    assert incidents[0].status == "raised" and len(outbox) == 1
    engine = make_engine(db_env)
    with Session(engine) as s:
        kinds = [a.kind for a in s.exec(select(AuditEvent))]
    assert "approval_waived" in kinds


def test_an_invalid_incident_file_exits_2_naming_field_value_and_rule_and_writes_nothing(
    db_env: str,
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.read_text()
        .replace("severity: high", "severity: apocalyptic")
        .replace("2026-11-20T09:30:00+01:00", "2026-11-20T09:30:00")
        .replace("[contact, credentials]", "[contact, dna]")
    )
    result = CliRunner().invoke(app, ["incident", "raise", str(bad)])
    assert result.exit_code == 2
    assert "severity: 'apocalyptic' is invalid: Input should be 'low'" in result.stderr
    assert "aware_at: '2026-11-20T09:30:00' is invalid: needs a UTC offset" in result.stderr
    assert "categories[1]: 'dna' is invalid" in result.stderr
    assert stored(db_env) == ([], [])


def test_a_file_that_is_not_yaml_is_refused_with_exit_code_2(db_env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed")
    result = CliRunner().invoke(app, ["incident", "raise", str(bad)])
    assert result.exit_code == 2
    assert "not YAML/JSON" in result.stderr


def test_a_law_enforcement_delay_is_recorded_on_a_stored_incident(db_env: str) -> None:
    runner = CliRunner()
    incident_id = runner.invoke(app, ["incident", "raise", str(GOOD)]).stdout.strip()
    result = runner.invoke(
        app,
        [
            "incident",
            "clock",
            incident_id,
            "law_enforcement_delay_start",
            "--at",
            "2026-11-21T10:00:00+00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "law_enforcement_delay_start = 2026-11-21T10:00:00+00:00" in result.stdout


def test_recording_a_clock_refuses_unknown_names_times_without_offset_and_unknown_incidents(
    db_env: str,
) -> None:
    runner = CliRunner()
    incident_id = runner.invoke(app, ["incident", "raise", str(GOOD)]).stdout.strip()
    bad_name = runner.invoke(app, ["incident", "clock", incident_id, "lunch_at"])
    naive = runner.invoke(
        app, ["incident", "clock", incident_id, "handled_at", "--at", "2026-11-21T10:00:00"]
    )
    unknown = runner.invoke(app, ["incident", "clock", "INC-NOPE", "handled_at"])
    assert (bad_name.exit_code, naive.exit_code, unknown.exit_code) == (2, 2, 2)
    assert "unknown clock" in bad_name.stderr
    assert "needs a UTC offset" in naive.stderr
    assert "'INC-NOPE' is invalid: no such incident" in unknown.stderr
