"""The SMTP relay is down far longer than a handful of quick retries would last, then comes
back on the same port: nobody's tries are spent on it and everybody is told once."""

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
from tests.support.smtp import RecordingSMTPServer


def test_a_relay_down_longer_than_the_old_retry_budget_costs_nobody_their_notice(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    # With 5 tries 0.01 s apart, a per-person retry budget would be spent within a second.
    settings = make_settings(sqlite_url, kafka_broker, smtp_server, retry_base_seconds=0.01)
    rows = people(40)
    with runtime(settings) as rt:
        seed(rt, rows)
        smtp_server.stop()
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            wait_for(
                "the relay's fault to hold notices",
                lambda: held_for_the_channel(rt.engine, incident_id) > 0,
                threads,
            )
            pause(8.0, threads)
            assert smtp_server.messages == []
            smtp_server.start()  # the same port
            counts = settle(rt, incident_id, 40, threads, timeout=30)
            assert_running(threads)
        assert counts.sent == 40 and counts.unreachable == 0
        assert_nobody_unreachable(rt.engine, incident_id, 40)
        assert_no_tries_spent(rt.engine, incident_id)
    assert_each_notified_once(smtp_server, [r["email"] for r in rows])
