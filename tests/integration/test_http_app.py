"""The HTTP app serve runs: a personal confirmation link shows a button whose POST confirms the
notice and stops the rest of the person's chain; a forged link is a bare 404; a "YES" reply to
an sms confirms it; one test goes over real HTTP to uvicorn on loopback."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from incident.adapters.tables import DeliveryAttempt, Notice
from incident.domain.model import NoticeJob
from incident.entrypoints.callbacks import INBOUND_PATH
from incident.entrypoints.http_app import create_app
from incident.service.compose import message_id_for
from incident.service.confirmation import token_for
from incident.service.keyed_ids import message_key_of
from incident.service.receipts import history
from incident.settings import CallbackSettings, ConfirmationSettings, Settings
from tests.integration.test_twilio_callbacks import seed
from tests.support.links import follow
from tests.support.smtp import free_port

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32
TOKEN = "test-auth-token"
PUBLIC = "https://hooks.example.org"


def settings(redirect: str = "") -> Settings:
    return Settings(
        channels={"sms": {"auth_token": TOKEN}},
        callbacks=CallbackSettings(public_url=PUBLIC),
        confirmation=ConfirmationSettings(redirect_url=redirect),
    )


def app_for(engine: Engine, published: list[NoticeJob], redirect: str = "") -> TestClient:
    app = create_app(engine, settings(redirect), published.append, clock=lambda: NOW, secret=SECRET)
    return TestClient(app, base_url="http://127.0.0.1")


def seed_with_letter_waiting(engine: Engine) -> tuple[str, str]:
    """An sms notice accepted; a letter attempt of the same notice waiting as a retry."""
    key = seed(engine)
    letter = "I1:p1:letter:1"
    with Session(engine) as s:
        sms = s.get(DeliveryAttempt, key)
        assert sms is not None
        sms.message_id = message_id_for(key, "example.org", message_key_of(SECRET))
        s.add(sms)
        s.add(
            DeliveryAttempt(
                idempotency_key=letter, incident_id="I1", addressee_id="p1", person_id="p1",
                channel="letter", notice_version=1, status="retry", worker_id="w",
                message_id=message_id_for(letter, "example.org", message_key_of(SECRET)),
                claimed_at=NOW, not_before=NOW,
            )
        )  # fmt: skip
        s.commit()
    return key, letter


def test_a_confirmation_link_confirms_and_no_letter_follows(engine: Engine) -> None:
    key, letter = seed_with_letter_waiting(engine)
    published: list[NoticeJob] = []
    with app_for(engine, published, redirect="https://example.org/notices/{incident}") as client:
        url = f"/notices/confirm/{token_for(key, SECRET)}"
        asked = client.get(url)
        assert asked.status_code == 200 and '<form method="post"' in asked.text
        assert history(engine, key) == []  # opening the link changes nothing
        answer = client.post(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "https://example.org/notices/I1"
    assert [(e.status, e.source) for e in history(engine, key)] == [
        ("confirmed", "confirmation_link")
    ]
    with Session(engine) as s:
        assert s.exec(select(Notice)).one().status == "confirmed"
        stopped = s.get(DeliveryAttempt, letter)
        assert stopped is not None
        assert (stopped.status, stopped.error) == ("failed", "confirmed on sms")
    assert published == []


def test_forged_and_malformed_links_are_a_bare_404_and_change_nothing(engine: Engine) -> None:
    key, _ = seed_with_letter_waiting(engine)
    with app_for(engine, []) as client:
        for token in (token_for(key, b"not our secret"), "nope", token_for("I1:p9:sms:1", SECRET)):
            for answer in (
                client.get(f"/notices/confirm/{token}"),
                client.post(f"/notices/confirm/{token}"),
            ):
                assert (answer.status_code, answer.text) == (404, "Not Found")
        thanks = client.post(f"/notices/confirm/{token_for(key, SECRET)}")
        assert thanks.status_code == 200 and "I1" in thanks.text
        assert client.get("/healthz").json()["status"] == "ok"
    assert [e.status for e in history(engine, key)] == ["confirmed"]


def reply(client: TestClient, body: str, sender: str = "+31612345678") -> int:
    form = {"From": sender, "To": "+15005550006", "Body": body, "MessageSid": "SMr"}
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + INBOUND_PATH, form)
    return client.post(INBOUND_PATH, data=form, headers={"X-Twilio-Signature": sig}).status_code


def test_a_yes_reply_confirms_the_latest_sms_to_that_number(engine: Engine) -> None:
    key, letter = seed_with_letter_waiting(engine)
    with app_for(engine, []) as client:
        assert reply(client, "what is this?") == 200
        assert reply(client, "Yes!", sender="+31600000000") == 200  # unknown number
        assert history(engine, key) == []
        assert reply(client, " ja ") == 200
        assert reply(client, "1") == 200  # again: already confirmed, nothing more to record
        unsigned = client.post(INBOUND_PATH, data={"From": "+31612345678", "Body": "1"})
        assert unsigned.status_code == 403
    assert [e.status for e in history(engine, key)] == ["confirmed"]
    with Session(engine) as s:
        assert s.exec(select(Notice)).one().status == "confirmed"
        assert s.get(DeliveryAttempt, letter).status == "failed"  # type: ignore[union-attr]


@pytest.fixture()
def served(engine: Engine) -> Iterator[str]:
    port = free_port()
    app = create_app(engine, settings(), lambda job: None, secret=SECRET, clock=lambda: NOW)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_link_opened_over_real_http_confirms(engine: Engine, served: str) -> None:
    key, _ = seed_with_letter_waiting(engine)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{served}/notices/confirm/{'A' * 38}", timeout=10)
    assert refused.value.code == 404
    refused.value.close()
    status, page = follow(f"{served}/notices/confirm/{token_for(key, SECRET)}")
    assert status == 200 and "Thank you" in page
    assert [e.status for e in history(engine, key)] == ["confirmed"]
