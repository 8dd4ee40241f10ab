"""A relay that answers but refuses the session: 421 at the greeting (shedding load) or 530 at
MAIL FROM (it wants another authentication: a misconfiguration). Both are the relay's fault,
not a verdict on anybody: notices are held until the relay takes them, then sent once."""

from __future__ import annotations

from incident.adapters.local_broker import LocalBroker
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_no_tries_spent,
    assert_nobody_unreachable,
    assert_running,
    held_for_the_channel,
    pause,
    service,
    settle,
    wait_for,
)
from tests.support.faulty_smtp import BusyGreeter, FaultySMTPServer
from tests.support.smtp import RecordingSMTPServer


def test_a_relay_answering_421_at_the_greeting_holds_the_notices_until_it_is_healthy(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server, retry_base_seconds=0.01)
    rows = people(30)
    with runtime(settings) as rt:
        seed(rt, rows)
        smtp_server.stop()
        greeter = BusyGreeter(smtp_server.host, smtp_server.port).start()
        try:
            with service(rt) as threads:
                incident_id = raise_for(rt, [r["id"] for r in rows])
                wait_for(
                    "the 421 to hold notices",
                    lambda: held_for_the_channel(rt.engine, incident_id) > 0,
                    threads,
                )
                pause(4.0, threads)
                greeter.stop()
                smtp_server.start()  # the healthy relay, on the same port
                counts = settle(rt, incident_id, 30, threads, timeout=30)
                assert_running(threads)
        finally:
            greeter.stop()
        assert greeter.greeted >= 2  # the first fault and at least one probe
        assert counts.sent == 30
        assert_nobody_unreachable(rt.engine, incident_id, 30)
        assert_no_tries_spent(rt.engine, incident_id)
    assert_each_notified_once(smtp_server, [r["email"] for r in rows])


def test_a_relay_answering_530_at_mail_from_holds_the_notices_until_it_is_fixed(
    sqlite_url: str, kafka_broker: LocalBroker, faulty_smtp: FaultySMTPServer
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, faulty_smtp, retry_base_seconds=0.01)
    rows = people(30)
    faulty_smtp.refuse_mail_for(600)
    with runtime(settings) as rt:
        seed(rt, rows)
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            wait_for(
                "the 530 to hold notices",
                lambda: held_for_the_channel(rt.engine, incident_id) > 0,
                threads,
            )
            pause(4.0, threads)
            assert faulty_smtp.messages == []
            faulty_smtp.refuse_mail_for(0)  # the relay's configuration is fixed
            counts = settle(rt, incident_id, 30, threads, timeout=30)
            assert_running(threads)
        assert faulty_smtp.mail_refusals >= 2
        assert counts.sent == 30
        assert_nobody_unreachable(rt.engine, incident_id, 30)
        assert_no_tries_spent(rt.engine, incident_id)
    assert_each_notified_once(faulty_smtp, [r["email"] for r in rows])
