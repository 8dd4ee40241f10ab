"""`breachnotice letters receipts FILE`: the print house's return file becomes delivery states;
a returned letter moves the person on; bad rows are reported by line and exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from channels.letter import letter_id_for
from incident.adapters.db import create_schema, make_engine
from incident.adapters.kafka_bus import MessageConsumer, MessageProducer, ensure_topics
from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import ContactPoint, DeliveryAttempt, Incident, Notice
from incident.entrypoints.cli import app
from incident.entrypoints.workers import wait_until
from incident.service.compose import message_id_for
from incident.service.directory import save_people
from incident.service.job_outbox import NOTICES
from incident.service.keyed_ids import message_key_of
from incident.service.receipts import history
from incident.service.relay import relay_outbox
from incident.settings import KafkaSettings

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
ADDRESS = {
    "street": "Unter den Linden 1",
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


SECRET = "letters-test-secret-of-at-least-32-chars"
MESSAGE_KEY = message_key_of(SECRET.encode())


def _key(person: str) -> str:
    return f"I1:{person}:letter:1"


def _letter_id(key: str) -> str:
    """The letter id the channel gives the delivery: from its keyed Message-ID."""
    return letter_id_for(message_id_for(key, "example.org", MESSAGE_KEY))


def _seed(engine: Engine, people: list[str]) -> None:
    with Session(engine) as s:
        save_people(
            s, [{"id": p, "name": p, "country": "DE", "postal_address": ADDRESS} for p in people]
        )
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=NOW))
        s.commit()
        for p in people:
            point = s.exec(select(ContactPoint).where(ContactPoint.person_id == p)).one()
            s.add(Notice(incident_id="I1", addressee_id=p, person_id=p, recipient_id=p,
                         status="sent", channel="letter"))  # fmt: skip
            s.add(DeliveryAttempt(idempotency_key=_key(p), incident_id="I1", addressee_id=p,
                                  person_id=p, channel="letter", notice_version=1, status="sent",
                                  message_id=message_id_for(_key(p), "example.org", MESSAGE_KEY),
                                  provider_id=_letter_id(_key(p)),
                                  worker_id="w", claimed_at=NOW,
                                  contact_point_id=point.id))  # fmt: skip
        s.commit()


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Engine]:
    monkeypatch.chdir(tmp_path)  # no ./breachnotice.toml of the developer's
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    monkeypatch.setenv("BREACHNOTICE_CONFIRMATION__SECRET", SECRET)
    monkeypatch.delenv("BREACHNOTICE_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    engine = make_engine(database_url)
    create_schema(engine)
    _seed(engine, ["p1", "p2", "p3"])
    yield engine
    engine.dispose()


def _receipts(tmp_path: Path, text: str) -> Result:
    path = tmp_path / "return.csv"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["letters", "receipts", str(path)])


def _notice(engine: Engine, person: str) -> Notice:
    with Session(engine) as s:
        return s.exec(select(Notice).where(Notice.person_id == person)).one()


def test_mailed_and_returned_letters_are_stored_and_a_bad_row_exits_2(
    db: Engine, tmp_path: Path
) -> None:
    """Mailed: delivered. Returned: bounced, the notice pending again. Bad rows: named by line."""
    result = _receipts(
        tmp_path,
        "letter_id,status,date,reason\n"
        f"{_letter_id(_key('p1'))},mailed,2026-03-09,\n"
        f"{_letter_id(_key('p2'))},returned,2026-03-20,addressee unknown\n"
        f"{_letter_id(_key('p3'))},lost,2026-03-20,\n"
        "LNOSUCHLETTER0000,mailed,,\n"
        f"{_letter_id(_key('p3'))},mailed,20/03/2026,\n",
    )
    assert result.exit_code == 2, result.output
    assert "2 of 5 rows recorded (1 mailed, 1 returned)" in result.stdout
    assert "1 returned person(s) queued for their next channel once `serve` runs" in (result.stdout)
    assert "line 4: status: 'lost' is invalid: one of mailed, returned" in result.stderr
    assert "line 5: letter_id: 'LNOSUCHLETTER0000' is invalid: no such letter" in result.stderr
    assert "line 6: date: '20/03/2026' is invalid: ISO 8601" in result.stderr

    assert [(e.status, e.source) for e in history(db, _key("p1"))] == [("delivered", "print_house")]
    returned = history(db, _key("p2"))
    assert [(e.status, e.detail["reason"]) for e in returned] == [("bounced", "addressee unknown")]
    assert _notice(db, "p1").status == "delivered"
    assert (_notice(db, "p2").status, _notice(db, "p2").channel) == ("pending", None)
    assert history(db, _key("p3")) == [] and _notice(db, "p3").status == "sent"


def test_a_file_without_the_needed_columns_is_refused_whole(db: Engine, tmp_path: Path) -> None:
    result = _receipts(tmp_path, "id,state\nL1,mailed\n")
    assert result.exit_code == 2
    assert "line 1: header: needs the columns letter_id,status" in result.stderr


def test_a_repeated_return_file_changes_nothing_more(db: Engine, tmp_path: Path) -> None:
    text = f"letter_id,status\n{_letter_id(_key('p2'))},returned\n"
    assert _receipts(tmp_path, text).exit_code == 0
    again = _receipts(tmp_path, text)
    assert again.exit_code == 0, again.output
    assert "queued" not in again.stdout  # nobody moves on twice
    assert [e.status for e in history(db, _key("p2"))] == ["bounced", "bounced"]


def test_a_returned_letter_is_queued_through_the_outbox_and_the_relay_publishes_it(
    sqlite_url: str, kafka_broker: LocalBroker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BREACHNOTICE_CONFIRMATION__SECRET", SECRET)
    topic = f"notices-{tmp_path.name}"
    monkeypatch.setenv("BREACHNOTICE_KAFKA__BOOTSTRAP_SERVERS", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("BREACHNOTICE_KAFKA__NOTICES_TOPIC", topic)
    engine = make_engine(sqlite_url)
    create_schema(engine)
    _seed(engine, ["p2"])
    engine.dispose()
    kafka = KafkaSettings(notices_topic=topic)
    ensure_topics(kafka, kafka_broker.bootstrap_servers, {topic: 1})

    result = _receipts(tmp_path, f"letter_id,status\n{_letter_id(_key('p2'))},returned\n")
    assert result.exit_code == 0, result.output
    assert "1 returned person(s) queued for their next channel" in result.stdout
    engine = make_engine(sqlite_url)
    producer = MessageProducer(kafka, kafka_broker.bootstrap_servers)
    try:
        relayed = relay_outbox(engine, producer, now=datetime.now(UTC), topics={NOTICES: topic})
    finally:
        producer.close()
        engine.dispose()
    assert relayed == 1
    reader = MessageConsumer(
        kafka, kafka_broker.bootstrap_servers, group_id=f"r-{tmp_path.name}", topics=[topic]
    )
    got: list[dict[str, object]] = []
    try:
        assert wait_until(
            lambda: got.extend(r.json() for r in reader.poll(max_records=10)) or bool(got),
            timeout=30,
        )
    finally:
        reader.close()
    assert got == [{"incident_id": "I1", "addressee_id": "p2", "notice_version": 1}]
