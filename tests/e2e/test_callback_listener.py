"""`serve`'s callback listener: a signed Twilio status callback over real HTTP becomes a stored
receipt, and an undelivered message's job is back on the real broker for the next channel."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from incident.adapters.kafka_bus import MessageConsumer, MessageProducer
from incident.adapters.local_broker import LocalBroker
from incident.entrypoints.callback_server import start_callback_server
from incident.entrypoints.callbacks import PATH
from incident.service.job_outbox import NOTICES
from incident.service.receipts import history
from incident.service.relay import relay_outbox
from incident.settings import CallbackSettings
from tests.e2e.harness import make_settings, runtime
from tests.integration.test_twilio_callbacks import seed
from tests.support.smtp import RecordingSMTPServer, free_port

TOKEN = "listener-token"


def signature(url: str, form: dict[str, str]) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, form))


def test_a_signed_undelivered_callback_is_stored_and_the_job_requeued(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    port = free_port()
    base = make_settings(sqlite_url, kafka_broker, smtp_server)
    settings = base.model_copy(
        update={
            "callbacks": CallbackSettings(port=port),
            "channels": {**base.channels, "sms": {"auth_token": TOKEN}},
        }
    )
    with runtime(settings) as rt:
        key = seed(rt.engine)
        stop = start_callback_server(rt)
        assert stop is not None
        try:
            url = f"http://127.0.0.1:{port}{PATH}?key={key}"
            form = {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "30003"}
            request = urllib.request.Request(
                url,
                data=urlencode(form).encode(),
                headers={
                    "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)
                },
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        finally:
            stop()
        assert [e.status for e in history(rt.engine, key)] == ["undelivered"]
        # The job was stored in the outbox with the receipt; serve's relay publishes it.
        producer = MessageProducer(settings.kafka, rt.bootstrap_servers)
        try:
            topics = {NOTICES: settings.kafka.notices_topic}
            assert relay_outbox(rt.engine, producer, now=datetime.now(UTC), topics=topics) == 1
        finally:
            producer.close()
        consumer = MessageConsumer(
            settings.kafka,
            rt.bootstrap_servers,
            group_id="check",
            topics=[settings.kafka.notices_topic],
        )
        try:
            got = []
            for _ in range(40):
                got += consumer.poll(max_records=10, timeout_ms=500)
                if got:
                    break
        finally:
            consumer.close()
        assert [r.key for r in got] == ["p1"]
