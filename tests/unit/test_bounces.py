"""Bounce reports (RFC 3464) in Postfix's own shape: parsed into per-recipient verdicts, matched
to the delivery by the returned message's Message-ID, stored as receipts; a hard bounce moves
the person on, a delay report changes nothing; a bounce mailbox is read once."""

from __future__ import annotations

import hashlib
import mailbox
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.local_smtp import LocalMaildirServer
from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import ContactPoint, DeliveryAttempt, Incident, Notice
from incident.domain.model import AttemptStatus, NoticeJob
from incident.entrypoints.cli_email import ingest_maildir
from incident.service.bounces import parse
from incident.service.compose import message_id_for
from incident.service.directory import save_people
from incident.service.keyed_ids import message_key_of
from incident.service.receipts import history

DSN = Path(__file__).resolve().parent.parent / "support" / "dsn"
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
ANNA, BRAM = "I1:p1:email:1", "I1:p2:email:1"  # the samples quote these deliveries' Message-IDs


MESSAGE_KEY = message_key_of(b"test-secret")


def legacy_id(key: str) -> str:
    """The unkeyed Message-ID of before (sha256 of the key): anyone could compute it."""
    return f"{hashlib.sha256(key.encode()).hexdigest()[:40]}@example.org"


def raw_sample(name: str) -> bytes:
    return (DSN / name).read_bytes()


def sample(name: str) -> bytes:
    """The sample, quoting the deliveries' keyed Message-IDs (the files quote the unkeyed)."""
    raw = raw_sample(name)
    for key in (ANNA, BRAM):
        raw = raw.replace(
            legacy_id(key).encode(), message_id_for(key, "example.org", MESSAGE_KEY).encode()
        )
    return raw


def test_a_postfix_hard_bounce_names_the_message_the_status_and_the_reason() -> None:
    """Action failed / 5.1.1 with the whole message returned (message/rfc822)."""
    [report] = parse(sample("postfix_hard_bounce.eml"))
    assert report.message_id == message_id_for(ANNA, "example.org", MESSAGE_KEY)
    assert (report.action, report.status, report.hard) == ("failed", "5.1.1", True)
    assert report.receipt is AttemptStatus.BOUNCED
    assert report.diagnostic.startswith("550 5.1.1") and "User unknown" in report.diagnostic


def test_a_delay_warning_with_headers_only_is_a_delay() -> None:
    """Action delayed / 4.4.1 with the headers returned (text/rfc822-headers)."""
    [report] = parse(sample("postfix_delayed.eml"))
    assert report.message_id == message_id_for(BRAM, "example.org", MESSAGE_KEY)
    assert (report.action, report.status, report.hard) == ("delayed", "4.4.1", False)
    assert report.receipt is AttemptStatus.DELAYED
    assert report.diagnostic == (
        "connect to mail.example.com[198.51.100.7]:25: Connection timed out"
    )


def test_an_out_of_office_reply_is_no_bounce_though_it_quotes_the_message_id() -> None:
    assert parse(sample("vacation_reply.eml")) == []
    assert parse(b"not a message at all") == []


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bn.db'}")
    create_schema(engine)
    with Session(engine) as s:
        save_people(
            s,
            [
                {"id": "p1", "name": "Anna", "email": "anna.jansen@example.net", "country": "NL"},
                {"id": "p2", "name": "Bram", "email": "bram@example.com", "country": "NL"},
            ],
        )
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=NOW))
        s.commit()
        for pid, key in (("p1", ANNA), ("p2", BRAM)):
            s.add(
                Notice(incident_id="I1", addressee_id=pid, person_id=pid, recipient_id=pid,
                       status="sent", channel="email")
            )  # fmt: skip
            point = s.exec(select(ContactPoint).where(ContactPoint.person_id == pid)).one()
            s.add(
                DeliveryAttempt(
                    idempotency_key=key, incident_id="I1", addressee_id=pid, person_id=pid,
                    channel="email", notice_version=1, status="sent",
                    message_id=message_id_for(key, "example.org", MESSAGE_KEY), worker_id="w",
                    claimed_at=NOW, contact_point_id=point.id,
                )
            )  # fmt: skip
        s.commit()
    yield engine
    engine.dispose()


def notice_status(engine: Engine, pid: str) -> str:
    with Session(engine) as s:
        return s.exec(select(Notice).where(Notice.addressee_id == pid)).one().status


def fill(box: Path, *names: str) -> None:
    maildir = mailbox.Maildir(box, create=True)
    for name in names:
        maildir.add(sample(name))


def test_a_bounce_mailbox_is_recorded_once_and_the_bounced_person_moves_on(
    db: Engine, tmp_path: Path
) -> None:
    box = tmp_path / "bounces"
    fill(box, "postfix_hard_bounce.eml", "postfix_delayed.eml", "vacation_reply.eml")
    tally = ingest_maildir(db, box, message_key=MESSAGE_KEY)
    assert (tally.reports, tally.recorded, tally.other) == (2, {"bounced": 1, "delayed": 1}, 1)
    assert tally.requeue == [NoticeJob("I1", "p1", 1, "person")]
    [bounced] = history(db, ANNA)
    assert (bounced.status, bounced.source, bounced.detail["status"]) == (
        "bounced",
        "bounce_report",
        "5.1.1",
    )
    assert notice_status(db, "p1") == "pending"  # routing picks the next channel
    with Session(db) as s:
        assert s.get(DeliveryAttempt, BRAM).status == "sent"  # a delay changes nothing
    assert [e.status for e in history(db, BRAM)] == ["delayed"]
    assert notice_status(db, "p2") == "sent"
    again = ingest_maildir(
        db, box, message_key=MESSAGE_KEY
    )  # reports read are marked seen: nothing twice
    assert (again.reports, again.recorded, again.other) == (0, {}, 1)
    assert len(history(db, ANNA)) == 1


def test_delete_removes_the_reports_and_an_unknown_message_id_is_counted(
    db: Engine, tmp_path: Path
) -> None:
    box = tmp_path / "bounces"
    stranger = raw_sample("postfix_hard_bounce.eml")  # an unkeyed Message-ID: no delivery
    mailbox.Maildir(box, create=True).add(stranger)
    fill(box, "postfix_hard_bounce.eml")
    tally = ingest_maildir(db, box, message_key=MESSAGE_KEY, delete=True)
    assert (tally.reports, tally.unmatched, tally.recorded) == (2, 1, {"bounced": 1})
    assert list(mailbox.Maildir(box, create=False).iterkeys()) == []


def test_the_embedded_smtp_server_files_null_sender_mail_as_bounces(
    db: Engine, tmp_path: Path
) -> None:
    """A DSN arrives over SMTP with MAIL FROM:<>; it lands in out/bounces, not out/mail."""
    dsn = sample("postfix_hard_bounce.eml").replace(b"\n", b"\r\n")  # SMTP's line ends
    server = LocalMaildirServer(tmp_path / "mail")
    with server, smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        smtp.sendmail("", ["security@example.org"], dsn)
        smtp.sendmail("security@example.org", ["x@example.net"], b"Subject: hi\r\n\r\nhi")
    assert len(list(mailbox.Maildir(tmp_path / "mail", create=False).iterkeys())) == 1
    tally = ingest_maildir(db, tmp_path / "bounces", message_key=MESSAGE_KEY)
    assert tally.recorded == {"bounced": 1}
    assert notice_status(db, "p1") == "pending"


def test_a_report_on_a_delivery_whose_message_id_is_not_keyed_is_refused_and_changes_nothing(
    db: Engine, tmp_path: Path
) -> None:
    """A delivery stored with the unkeyed Message-ID of before: anyone could have written it."""
    with Session(db) as s:
        attempt = s.get(DeliveryAttempt, ANNA)
        assert attempt is not None
        attempt.message_id = legacy_id(ANNA)
        s.add(attempt)
        s.commit()
    box = tmp_path / "bounces"
    mailbox.Maildir(box, create=True).add(raw_sample("postfix_hard_bounce.eml"))
    tally = ingest_maildir(db, box, message_key=MESSAGE_KEY)
    assert (tally.recorded, tally.refused) == ({}, ["is not a Message-ID we made"])
    assert history(db, ANNA) == [] and notice_status(db, "p1") == "sent"
