"""Evidence pack against seeded delivery records on SQLite and PostgreSQL: the CSV and PDF
counts are those of the records, every file is in the manifest, and no contact detail leaks."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import (
    AffectedPerson,
    DeliveryAttempt,
    DeliveryEvent,
    Incident,
    Notice,
    Person,
)
from incident.entrypoints import cli_evidence
from incident.service.evidence import export_evidence

AWARE = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
INC = "INC-EV1"


def _attempt(person: str, channel: str, status: str, at: datetime, **kw: object) -> DeliveryAttempt:
    return DeliveryAttempt(
        idempotency_key=f"{INC}:{person}:{channel}:1",
        incident_id=INC,
        addressee_id=person,
        person_id=person,
        channel=channel,
        notice_version=1,
        status=status,
        message_id=f"m-{person}-{channel}",
        worker_id="w1",
        claimed_at=at,
        sent_at=at if status != "failed" else None,
        **kw,
    )


def _event(person: str, channel: str, status: str, at: datetime, source: str) -> DeliveryEvent:
    return DeliveryEvent(
        idempotency_key=f"{INC}:{person}:{channel}:1",
        status=status,
        source=source,
        at=at,
        detail={"reason": "mailbox ann@example.org"},
    )


def _seed(engine: Engine) -> None:
    t = AWARE + timedelta(hours=2)
    with Session(engine) as s:
        s.add(Incident(id=INC, title="t", severity="high", status="enriched", aware_at=AWARE))
        for pid, country in (("p1", "NL"), ("p2", "NL"), ("p3", "DE")):
            s.add(Person(id=pid, name=f"Name {pid}", country=country))
        s.commit()
        for pid, country in (("p1", "NL"), ("p2", "NL"), ("p3", "DE")):
            s.add(
                AffectedPerson(
                    incident_id=INC, person_id=pid, jurisdiction=country, recipient_id=pid
                )
            )
        s.add(
            Notice(
                incident_id=INC,
                addressee_id="p1",
                person_id="p1",
                recipient_id="p1",
                status="delivered",
                channel="email",
            )
        )
        s.add(
            Notice(
                incident_id=INC,
                addressee_id="p2",
                person_id="p2",
                recipient_id="p2",
                status="sent",
                channel="sms",
            )
        )
        s.add(
            Notice(
                incident_id=INC,
                addressee_id="p3",
                person_id="p3",
                recipient_id="p3",
                status="unreachable",
                reason="no usable contact point",
            )
        )
        s.add(_attempt("p1", "email", "delivered", t))
        s.add(
            _attempt("p2", "email", "bounced", t, error="bounced: ann@example.org +31 20 123 4567")
        )
        s.add(_attempt("p2", "sms", "sent", t + timedelta(hours=1)))
        s.add(_event("p1", "email", "sent", t, "dispatcher"))
        s.add(_event("p1", "email", "delivered", t + timedelta(minutes=5), "dsn"))
        s.add(_event("p2", "email", "sent", t, "dispatcher"))
        s.add(_event("p2", "email", "bounced", t + timedelta(minutes=9), "bounce"))
        s.add(_event("p2", "sms", "sent", t + timedelta(hours=1), "dispatcher"))
        s.add(
            ObligationRecord(
                incident_id=INC,
                key="gdpr_art34/individuals/NL",
                rule_id="gdpr_art34",
                regime="GDPR",
                recipient="individuals",
                recipient_name="data subjects",
                stage="notice",
                jurisdiction="NL",
                persons=2,
                reason="-",
                citation="Art. 34",
                deadline="72h",
                clock_note="-",
                time_zone="Europe/Amsterdam",
                clock_start_kind="aware",
                due=AWARE + timedelta(hours=72),
                law_enforcement_delay="-",
                facts_hash="x",
            )
        )
        s.commit()


def _published(tmp_path: Path) -> tuple[Path, Path]:
    public, reports = tmp_path / "public", tmp_path / "reports"
    page = public / "notices" / INC / "v1" / "en" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<p>notice</p>")
    manifest = {
        "incident": INC,
        "latest": 1,
        "versions": [{"version": 1, "idempotency_key": "k", "files": {"en/index.html": "x"}}],
    }
    (public / "notices" / INC / "manifest.json").write_text(json.dumps(manifest))
    (reports / INC / "nl_ap").mkdir(parents=True)
    (reports / INC / "nl_ap" / "v1-initial.json").write_text("{}")
    filed = {"incident": INC, "filed": [{"name": "nl_ap/v1-initial", "sha256": {"json": "x"}}]}
    (reports / INC / "manifest.json").write_text(json.dumps(filed))
    return public, reports


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_pack_counts_match_the_delivery_records(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    public, reports = _published(tmp_path)

    pack = export_evidence(engine, INC, tmp_path / "pack", public_root=public, reports_root=reports)

    notices = _rows(pack.folder / "notices.csv")
    assert len(notices) == 4  # p1: 1 attempt, p2: 2 attempts, p3: none (one row)
    assert sorted(
        (r["addressee_id"], r["attempt_channel"], r["attempt_status"]) for r in notices
    ) == [
        ("p1", "email", "delivered"),
        ("p2", "email", "bounced"),
        ("p2", "sms", "sent"),
        ("p3", "", ""),
    ]
    p1 = next(r for r in notices if r["addressee_id"] == "p1")
    assert (p1["last_receipt"], p1["last_receipt_source"], p1["jurisdiction"]) == (
        "delivered",
        "dsn",
        "NL",
    )
    assert len(_rows(pack.folder / "events.csv")) == 5
    [ob] = _rows(pack.folder / "obligations.csv")
    assert (ob["first_notice_sent_at"], ob["on_time"]) == (
        (AWARE + timedelta(hours=2)).isoformat(),
        "yes",
    )
    assert pack.counts == {
        ("DE", "-", "unreachable"): 1,
        ("NL", "email", "delivered"): 1,
        ("NL", "sms", "sent"): 1,
    }
    assert {"public/v1/en/index.html", "reports/nl_ap/v1-initial.json"} <= {
        r["file"] for r in _rows(pack.folder / "files.csv")
    }


def test_the_pack_holds_no_contact_details(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    pack = export_evidence(
        engine, INC, tmp_path / "pack", public_root=tmp_path, reports_root=tmp_path
    )

    for name in ("notices.csv", "events.csv", "obligations.csv"):
        text = (pack.folder / name).read_text(encoding="utf-8")
        assert "@" not in text and "123 4567" not in text, name


def test_the_manifest_hashes_every_file(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    public, reports = _published(tmp_path)
    pack = export_evidence(engine, INC, tmp_path / "pack", public_root=public, reports_root=reports)

    manifest = json.loads((pack.folder / "manifest.json").read_text())["files"]
    on_disk = {p.relative_to(pack.folder).as_posix() for p in pack.folder.rglob("*") if p.is_file()}
    assert set(manifest) == on_disk - {"manifest.json"}
    for name, digest in manifest.items():
        assert hashlib.sha256((pack.folder / name).read_bytes()).hexdigest() == digest


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_the_summary_pdf_shows_the_counts_and_the_timeline(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    pack = export_evidence(
        engine, INC, tmp_path / "pack", public_root=tmp_path, reports_root=tmp_path
    )

    text = subprocess.run(
        ["pdftotext", "-layout", str(pack.folder / "summary.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "NL email delivered: 1" in " ".join(text.split())
    assert "NL sms sent: 1" in " ".join(text.split())
    assert "DE - unreachable: 1" in " ".join(text.split())
    assert "Total notices: 3" in text
    assert "GDPR individuals NL (notice)" in text and "on time: yes" in text


def test_the_evidence_command_writes_the_pack_and_refuses_an_unknown_incident(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine)
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    monkeypatch.setenv("BREACHNOTICE_OUT_DIR", str(tmp_path / "out"))
    app = typer.Typer()
    cli_evidence.register(app)
    app.command("noop", hidden=True)(lambda: None)  # two commands: `evidence` stays a subcommand

    done = CliRunner().invoke(app, ["evidence", INC])
    unknown = CliRunner().invoke(app, ["evidence", "INC-NOPE"])

    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "evidence" / INC / "summary.pdf").is_file()
    assert unknown.exit_code == 2 and "INC-NOPE" in unknown.stderr
