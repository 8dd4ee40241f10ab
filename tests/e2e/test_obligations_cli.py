"""User story: before anything is stored, an engineer asks who must be told, by when and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import AffectedPerson, Incident, Person
from incident.entrypoints.cli_obligations import register

WORLD = """\
aware_at: 2026-03-06T16:00:00+01:00
categories: [contact, credentials, payment]
severity: high
affected: {NL: 1200, FR: 30, GB: 40, CN: 40000, JP: 1500, BR: 80, SG: 600, AU: 70, KR: 1000,
           CA: 90, US-CA: 600, US-NY: 5001, US-TX: 250, US-FL: 500, US-MA: 20, US-WA: 501,
           US-IL: 501}
unreachable: {US-CA: 12}
flags: {encrypted: false, critical_infrastructure: false, public_company: true,
        hipaa_covered: false, nis2_entity: true}
establishment: NL
material_at: 2026-03-06T10:00:00-05:00
"""

EXPECTED_DUE = {
    "gdpr-authority/notification/NL": "2026-03-09T16:00:00+01:00",
    "uk-gdpr-authority/notification/GB": "2026-03-09T15:00:00+00:00",
    "nis2-authority/early_warning/NL": "2026-03-07T16:00:00+01:00",
    "appi-authority/final/JP": "2026-04-06T00:00:00+09:00",
    "lgpd-authority/notification/BR": "2026-03-11T23:59:59-03:00",
    "au-privacy-authority/assessment/AU": "2026-04-06T02:00:00+10:00",
    "kr-pipa-authority/report/KR": "2026-03-10T00:00:00+09:00",
    "us-ca-individuals/notice/US-CA": "2026-04-05T07:00:00-07:00",
    "us-ny-individuals/notice/US-NY": "2026-04-05T10:00:00-04:00",
    "us-tx-authority/report/US-TX": "2026-04-05T09:00:00-05:00",
    "us-fl-authority/report/US-FL": "2026-04-05T10:00:00-04:00",
    "us-wa-authority/report/US-WA": "2026-04-05T07:00:00-07:00",
    "sec-8k/form_8k/US": "2026-03-12T17:30:00-04:00",  # EDGAR cut-off, 17 CFR 232.13(a)(2)
}
NO_FIXED_TIME = [
    "pipl-authority/notice/CN",
    "gdpr-individuals/notice/NL",
    "ca-pipeda-authority/report/CA",
    "us-ma-individuals/notice/US-MA",
    "us-il-authority/report/US-IL",
    # Clocks that run from a notice actually sent: not started, projected from the deadline.
    "nis2-authority/final_report/NL",
    "us-ca-authority/sample_copy/US-CA",
    # Singapore: 30-day assessment is PDPC guidance, so the notification is projected only.
    "sg-pdpa-authority/notification/SG",
    "policy-individuals/notice/JP",
]


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def run(cli: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def facts_file(tmp_path: Path, text: str = WORLD) -> Path:
    path = tmp_path / "facts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_assess_gives_every_regime_its_due_time_across_the_world(
    cli: typer.Typer, tmp_path: Path
) -> None:
    result = run(cli, "obligations", "assess", str(facts_file(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert {r["regime"] for r in rows.values()} == {
        "gdpr", "uk-gdpr", "nis2", "pipl", "appi", "lgpd", "sg-pdpa", "au-privacy", "kr-pipa",
        "ca-pipeda", "us-ca", "us-ny", "us-tx", "us-fl", "us-ma", "us-wa", "us-il", "sec-8k",
        "policy",
    }  # fmt: skip
    assert {k: rows[k]["due"] for k in EXPECTED_DUE} == EXPECTED_DUE
    for key in NO_FIXED_TIME:
        assert rows[key]["due"] is None and rows[key]["target"], key
    for row in rows.values():
        assert {"regime", "recipient", "stage", "due", "clock_start", "reason", "citation"} <= set(
            row
        )
        assert "http" in row["citation"]
    assert rows["us-ca-individuals/notice/US-CA"]["substitute_notice"]["decision"] == "complement"


def test_assess_prints_a_readable_table(cli: typer.Typer, tmp_path: Path) -> None:
    result = run(cli, "obligations", "assess", str(facts_file(tmp_path)))
    assert result.exit_code == 0, result.output
    for word in ("gdpr", "kr-pipa", "sec-8k", "authority", "individuals"):
        assert word in result.stdout


def test_bad_facts_exit_2_naming_field_value_and_rule(cli: typer.Typer, tmp_path: Path) -> None:
    bad = WORLD.replace("categories: [contact,", "categories: [dna,").replace("KR: 1000", "KR: -1")
    bad = bad.replace("2026-03-06T16:00:00+01:00", "2026-03-06T16:00:00")
    result = run(cli, "obligations", "assess", str(facts_file(tmp_path, bad)))
    assert result.exit_code == 2
    assert "categories: 'dna' is invalid: unknown data category" in result.stderr
    assert "affected.KR: -1 is invalid" in result.stderr
    assert (
        "aware_at: '2026-03-06T16:00:00' is invalid: needs a time and a UTC offset" in result.stderr
    )
    assert result.stdout == ""


@pytest.fixture()
def stored_incident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'bn.db'}"
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", url)
    engine = make_engine(url)
    create_schema(engine)
    aware = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    with Session(engine) as s:
        s.add(Incident(id="inc-7", title="Leak", severity="high", status="enriched",
                       categories=["payment"], aware_at=aware))  # fmt: skip
        for i, place in enumerate(["NL", "KR", "US-CA"]):
            country, _, region = place.partition("-")
            s.add(Person(id=f"p{i}", name="x", country=country, region=region or None))
            s.flush()
            s.add(AffectedPerson(incident_id="inc-7", person_id=f"p{i}", jurisdiction=place,
                                 recipient_id=f"p{i}"))  # fmt: skip
        s.commit()
    engine.dispose()
    return "inc-7"


def test_obligations_of_a_stored_incident_and_the_deadlines_list(
    cli: typer.Typer, stored_incident: str
) -> None:
    result = run(cli, "obligations", stored_incident, "--json")
    assert result.exit_code == 0, result.output
    keys = [row["key"] for row in json.loads(result.stdout)]
    assert "kr-pipa-individuals/notice/KR" in keys and "gdpr-authority/notification/NL" in keys

    listed = run(cli, "deadlines", "--now", "2026-03-09T12:00:00+00:00", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    lefts = [r["time_left_seconds"] for r in rows if r["time_left_seconds"] is not None]
    assert lefts == sorted(lefts), "soonest first"
    soonest = {r["key"] for r in rows if r["time_left_seconds"] == lefts[0]}
    assert lefts[0] == 3 * 3600
    assert {"gdpr-authority/notification/NL", "kr-pipa-individuals/notice/KR"} <= soonest

    table = run(cli, "deadlines", "--now", "2026-03-10T12:00:00+00:00")
    assert table.exit_code == 0, table.output
    assert "OVERDUE" in table.stdout and "inc-7" in table.stdout


def test_an_unknown_incident_exits_2(cli: typer.Typer, stored_incident: str) -> None:
    result = run(cli, "obligations", "no-such-incident")
    assert result.exit_code == 2
    assert "no-such-incident" in result.stderr
