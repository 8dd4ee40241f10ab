"""The broker keeps nothing durable: after it loses every topic and offset, the service resumes
from the database and every person is notified exactly once."""

from __future__ import annotations

import threading
from collections import Counter

from incident.adapters.local_broker import LocalBroker
from incident.entrypoints.workers import run_enricher, run_relay, start_threads, wait_until
from incident.service.progress import notice_counts
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, wait_settled, workers
from tests.support.smtp import RecordingSMTPServer


def test_a_broker_that_lost_everything_is_refilled_from_the_database(
    sqlite_url: str,
    smtp_server: RecordingSMTPServer,
) -> None:
    rows = people(120)
    with LocalBroker() as first_broker:
        settings = make_settings(sqlite_url, first_broker, smtp_server)
        with runtime(settings) as rt:
            seed(rt, rows)
            stop = threading.Event()  # no dispatcher yet: the jobs sit in the doomed broker
            threads = start_threads(rt, stop, [("relay", run_relay), ("enricher", run_enricher)])
            incident_id = raise_for(rt, [r["id"] for r in rows])
            assert wait_until(
                lambda: notice_counts(rt.engine, incident_id).affected == 120, timeout=60
            )
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    with LocalBroker() as second_broker:  # empty: no topics, no offsets, no jobs
        settings = make_settings(sqlite_url, second_broker, smtp_server)
        with runtime(settings) as rt, workers(rt):
            counts = wait_settled(rt, incident_id, 120)
    assert counts.sent == 120
    recipients = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert len(recipients) == 120 and set(recipients.values()) == {1}
