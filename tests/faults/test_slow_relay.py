"""A relay that takes a second over each message, with a claim lease shorter than a batch
needs: each batch keeps the receipts it got before its deadline, the rest go out later with
the same Message-ID, and nobody gets two different notices."""

from __future__ import annotations

from incident.adapters.local_broker import LocalBroker
from incident.service.dispatch import BatchResult
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_nobody_unreachable,
    assert_running,
    service,
    settle,
)
from tests.support.faulty_smtp import FaultySMTPServer


def test_a_relay_taking_a_second_per_message_yields_one_notice_per_person(
    sqlite_url: str, kafka_broker: LocalBroker, faulty_smtp: FaultySMTPServer
) -> None:
    # 4 connections at 1 s a message: a batch of 20 needs 5 s, its deadline is 0.8 x 3 s, so
    # any batch of more than 8 fresh jobs runs over it (even one thinned out by the sweep's
    # duplicate jobs on a busy machine).
    settings = make_settings(
        sqlite_url, kafka_broker, faulty_smtp, claim_lease_seconds=3.0, batch_size=20
    )
    faulty_smtp.data_delay = 1.0
    rows = people(24)
    batches: list[BatchResult] = []
    with runtime(settings) as rt:
        seed(rt, rows)
        with service(rt, on_batch=batches.append) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            counts = settle(rt, incident_id, 24, threads, timeout=40)
            assert_running(threads)
        assert counts.sent == 24
        assert_nobody_unreachable(rt.engine, incident_id, 24)
    over = [b for b in batches if b.sent and b.retried]
    assert over, [(b.sent, b.retried, b.held, b.skipped) for b in batches]  # kept what it got
    assert_each_notified_once(faulty_smtp, [r["email"] for r in rows])
    resent = len(faulty_smtp.messages) - 24
    print(f"batches (sent, retried): {[(b.sent, b.retried) for b in batches]}; resent {resent}")
