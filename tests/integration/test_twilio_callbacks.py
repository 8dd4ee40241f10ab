"""Twilio's status callbacks through the ASGI app (FastAPI's TestClient), into a real database:
each signed callback is a stored receipt; a delivery that came back puts the person's job on
the queue. (tests/e2e/test_callback_listener.py sends them over real HTTP to uvicorn.)"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from incident.adapters.tables import ContactPoint, DeliveryAttempt, Incident, Notice
from incident.domain.model import NoticeJob
from incident.entrypoints.callbacks import PATH, make_app
from incident.service.directory import save_people
from incident.service.receipts import history

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
TOKEN = "test-auth-token"
PUBLIC = "https://hooks.example.org"
KEY = "I1:p1:sms:1"


def seed(engine: Engine, channel: str = "sms", sid: str = "SM123") -> str:
    key = f"I1:p1:{channel}:1"
    with Session(engine) as s:
        save_people(s, [{"id": "p1", "name": "Anna", "phone": "+31612345678", "country": "NL"}])
        s.add(Incident(id="I1", title="t", severity="high", status="enriched", aware_at=NOW))
        s.commit()
        s.add(
            Notice(incident_id="I1", addressee_id="p1", person_id="p1", recipient_id="p1",
                   status="sent", channel=channel)
        )  # fmt: skip
        point = s.exec(select(ContactPoint)).one()
        s.add(
            DeliveryAttempt(
                idempotency_key=key, incident_id="I1", addressee_id="p1", person_id="p1",
                channel=channel, notice_version=1, status="sent", message_id="m",
                provider_id=sid, worker_id="w", claimed_at=NOW, contact_point_id=point.id,
            )
        )  # fmt: skip
        s.commit()
    return key


class Twilio:
    """Posts callbacks the way Twilio does: form-encoded, signed over the public URL."""

    def __init__(self, engine: Engine) -> None:
        self.published: list[NoticeJob] = []

        async def publish(job: NoticeJob) -> None:
            self.published.append(job)

        app = make_app(
            engine=engine, auth_token=TOKEN, publish=publish, public_url=PUBLIC, clock=lambda: NOW
        )
        self.client = TestClient(app, base_url="http://127.0.0.1")

    def post(
        self, form: dict[str, str], *, key: str | None = None, token: str = TOKEN
    ) -> httpx.Response:
        path = PATH + (f"?{urlencode({'key': key}, safe=':')}" if key else "")
        signature = RequestValidator(token).compute_signature(PUBLIC + path, form)
        return self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def states(engine: Engine, key: str) -> list[tuple[str, str]]:
    return [(e.status, e.source) for e in history(engine, key)]


def test_a_delivered_message_found_by_its_key_marks_the_notice_delivered(
    engine: Engine,
) -> None:
    key = seed(engine)
    twilio = Twilio(engine)
    with twilio.client:
        answer = twilio.post({"MessageSid": "SM999", "MessageStatus": "delivered"}, key=key)
        assert answer.status_code == 200
        assert "<Response" in answer.text
    assert states(engine, key) == [("delivered", "provider_callback")]
    with Session(engine) as s:
        assert s.exec(select(Notice)).one().status == "delivered"
    assert twilio.published == []


def test_an_undelivered_message_moves_the_person_on_and_publishes_their_job(
    engine: Engine,
) -> None:
    key = seed(engine)
    twilio = Twilio(engine)
    form = {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    with twilio.client:
        assert twilio.post(form).status_code == 200  # found by the SID
    assert twilio.published == [NoticeJob("I1", "p1", 1, "person")]
    [event] = history(engine, key)
    assert (event.status, event.detail["error_code"]) == ("undelivered", "30003")
    with Session(engine) as s:
        assert s.exec(select(ContactPoint)).one().problem == "undelivered: returned"


def test_an_unanswered_call_moves_the_person_on(engine: Engine) -> None:
    key = seed(engine, "voice", "CA123")
    twilio = Twilio(engine)
    with twilio.client:
        answer = twilio.post({"CallSid": "CA123", "CallStatus": "no-answer"}, key=key)
        assert answer.status_code == 200
    assert states(engine, key) == [("undelivered", "provider_callback")]
    assert len(twilio.published) == 1


def test_pressing_1_confirms_and_a_completed_call_is_delivered(engine: Engine) -> None:
    key = seed(engine, "voice", "CA123")
    twilio = Twilio(engine)
    with twilio.client:
        twilio.post({"CallSid": "CA123", "CallStatus": "completed"}, key=key)
        answer = twilio.post({"CallSid": "CA123", "Digits": "1"}, key=key)
        assert answer.status_code == 200 and "xml" in answer.headers["content-type"]
        twilio.post({"CallSid": "CA123", "Digits": "2"}, key=key)  # not a confirmation
    assert states(engine, key) == [
        ("delivered", "provider_callback"),
        ("confirmed", "provider_callback"),
    ]
    with Session(engine) as s:
        assert s.exec(select(Notice)).one().status == "confirmed"


def test_a_callback_not_signed_with_our_token_is_refused_and_changes_nothing(
    engine: Engine,
) -> None:
    key = seed(engine)
    twilio = Twilio(engine)
    form = {"MessageSid": "SM123", "MessageStatus": "undelivered"}
    with twilio.client:
        assert twilio.post(form, key=key, token="someone-else").status_code == 403
        unsigned = twilio.client.post(f"{PATH}?key={key}", data=form)
        assert unsigned.status_code == 403
        # A signature over other form values does not cover this one either.
        signed = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}", {"a": "b"})
        forged = twilio.client.post(PATH, data=form, headers={"X-Twilio-Signature": signed})
        assert forged.status_code == 403
    assert history(engine, key) == [] and twilio.published == []


def test_intermediate_states_record_nothing_and_an_unknown_delivery_is_404(
    engine: Engine,
) -> None:
    key = seed(engine)
    twilio = Twilio(engine)
    with twilio.client:
        for said in ("queued", "sending", "sent"):
            answer = twilio.post({"MessageSid": "SM123", "MessageStatus": said}, key=key)
            assert answer.status_code == 200
        gone = twilio.post({"MessageSid": "SMnope", "MessageStatus": "delivered"})
        assert gone.status_code == 404
    assert history(engine, key) == []
