"""Item 3 of issue 23: nobody can write a bounce report or a print-house return file about a
delivery. Message-IDs (and the letter ids derived from them) are keyed with the service's
secret; `breachnotice email bounces` and `letters receipts` accept a receipt only when its id
verifies against the delivery it names. Each forgery below is refused and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from channels.letter import letter_id_for
from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import ContactPoint, DeliveryAttempt, DeliveryEvent, Incident, Notice
from incident.entrypoints.cli import app
from incident.service.compose import message_id_for
from incident.service.confirmation import secret_of
from incident.service.directory import save_people
from incident.service.keyed_ids import message_key_of
from incident.settings import Settings

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
DOMAIN = "example.org"
SAMPLE = Path(__file__).resolve().parent.parent / "support" / "dsn" / "postfix_hard_bounce.eml"
QUOTED = b"a522a4c76d2a43804ed21e4d66c12d9927a72452@example.org"  # the sample's Message-ID
ADDRESS = {"street": "Damrak 1", "postal_code": "1012 LG", "city": "Amsterdam"}
PEOPLE = [f"p{i}" for i in range(5)]


def unkeyed(key: str) -> str:
    """The Message-ID anyone could compute before: sha256 of incident:person:channel:version."""
    return f"{hashlib.sha256(key.encode()).hexdigest()[:40]}@{DOMAIN}"


def dsn(message_id: str) -> bytes:
    """A Postfix hard bounce (5.1.1) returning the message with this Message-ID."""
    return SAMPLE.read_bytes().replace(QUOTED, message_id.encode())


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, bytes]]:
    """Each person: an email, an sms and a letter delivery, sent with the service's own ids."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'bn.db'}"
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", url)
    monkeypatch.setenv(
        "BREACHNOTICE_CONFIRMATION__SECRET", "forged-receipts-test-secret-of-32-chars-or-more"
    )
    monkeypatch.delenv("BREACHNOTICE_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    key = message_key_of(secret_of(Settings(), create=False))
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as s:
        rows = [
            {"id": p, "name": p, "email": f"{p}@example.net", "phone": f"+3161234567{i}",
             "country": "NL", "postal_address": ADDRESS}
            for i, p in enumerate(PEOPLE)
        ]  # fmt: skip
        save_people(s, rows)
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=NOW))
        s.commit()
        for p in PEOPLE:
            s.add(Notice(incident_id="I1", addressee_id=p, person_id=p, recipient_id=p,
                         status="sent", channel="email"))  # fmt: skip
            for channel, kind in (("email", "email"), ("sms", "phone"), ("letter", "postal")):
                point = s.exec(
                    select(ContactPoint).where(
                        ContactPoint.person_id == p, ContactPoint.kind == kind
                    )
                ).one()
                k = f"I1:{p}:{channel}:1"
                mid = message_id_for(k, DOMAIN, key)
                provider = {"email": mid, "sms": f"SM{p}", "letter": letter_id_for(mid)}[channel]
                s.add(DeliveryAttempt(idempotency_key=k, incident_id="I1", addressee_id=p,
                                      person_id=p, channel=channel, notice_version=1,
                                      status="sent", message_id=mid, provider_id=provider,
                                      worker_id="w", claimed_at=NOW,
                                      contact_point_id=point.id))  # fmt: skip
        s.commit()
    yield engine, key
    engine.dispose()


def snapshot(engine: Engine) -> tuple[object, ...]:
    """Everything a receipt could change."""
    with Session(engine) as s:
        return (
            sorted((n.addressee_id, n.status, n.channel) for n in s.exec(select(Notice))),
            sorted((a.idempotency_key, a.status) for a in s.exec(select(DeliveryAttempt))),
            sorted((c.id, c.problem) for c in s.exec(select(ContactPoint))),
            len(s.exec(select(DeliveryEvent)).all()),
        )


def bounces(box: Path, *reports: bytes) -> Result:
    maildir = mailbox.Maildir(box, create=True)
    for report in reports:
        maildir.add(report)
    return CliRunner().invoke(app, ["email", "bounces", str(box)])


def test_forged_bounce_reports_bounce_nobody(db: tuple[Engine, bytes], tmp_path: Path) -> None:
    engine, key = db
    before = snapshot(engine)
    forged = [dsn(unkeyed(f"I1:{p}:email:1")) for p in PEOPLE]  # the attack of the review
    forged.append(dsn(message_id_for("I1:p0:sms:1", DOMAIN, key)))  # a real id, not an email
    result = bounces(tmp_path / "forged", *forged)
    assert result.exit_code == 2, result.output
    assert "5 not matched to a delivery" in result.stdout
    assert "Message-ID names a delivery that is no email" in result.stderr
    assert snapshot(engine) == before

    genuine = bounces(tmp_path / "genuine", dsn(message_id_for("I1:p0:email:1", DOMAIN, key)))
    assert genuine.exit_code == 0, genuine.output
    assert "recorded: 1 bounced" in genuine.stdout


def receipts(tmp_path: Path, *rows: str) -> Result:
    path = tmp_path / "return.csv"
    path.write_text("letter_id,status,date,reason\n" + "".join(f"{r}\n" for r in rows))
    return CliRunner().invoke(app, ["letters", "receipts", str(path)])


def test_a_return_file_naming_another_channels_delivery_or_a_made_up_letter_is_refused(
    db: tuple[Engine, bytes], tmp_path: Path
) -> None:
    engine, key = db
    before = snapshot(engine)
    old_formula = "L" + base64.b32encode(hashlib.sha256(b"I1:p2:letter:1").digest()[:10]).decode()
    result = receipts(
        tmp_path,
        "SMp1,returned,2026-03-20,addressee unknown",  # the sms delivery's Twilio SID
        f"{unkeyed('I1:p2:email:1')},returned,2026-03-20,",  # the email's (unkeyed) id
        f"{old_formula},returned,2026-03-20,",  # the letter id anyone could compute before
    )
    assert result.exit_code == 2, result.output
    assert "0 of 3 rows recorded" in result.stdout
    assert "line 2: letter_id: 'SMp1' is invalid: names a delivery that is no letter" in (
        result.stderr
    )
    assert "line 4: letter_id:" in result.stderr
    assert snapshot(engine) == before

    genuine = letter_id_for(message_id_for("I1:p3:letter:1", DOMAIN, key))
    ok = receipts(tmp_path, f"{genuine},returned,2026-03-20,addressee unknown")
    assert ok.exit_code == 0, ok.output
    assert "1 of 1 rows recorded (0 mailed, 1 returned)" in ok.stdout
