"""A dispatcher killed mid-fan-out loses no notice: after a restart every person is notified.

The dispatcher runs as a real subprocess (`breachnotice worker dispatcher`) that a failpoint
kills with os._exit, exactly like `kill -9`, at a chosen point of its second batch."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

from incident.adapters.local_broker import LocalBroker
from incident.entrypoints.workers import run_enricher, run_relay, start_threads
from incident.service.failpoints import EXIT_CODE
from incident.settings import Settings
from tests.e2e.harness import (
    make_settings,
    parsed,
    people,
    raise_for,
    runtime,
    seed,
    settings_env,
    wait_settled,
    workers,
)
from tests.support.smtp import RecordingSMTPServer


def crash_dispatcher(settings: Settings, failpoint: str) -> int:
    env = {
        **os.environ,
        **settings_env(settings),
        "BREACHNOTICE_FAILPOINT": failpoint,
        "BREACHNOTICE_LOG_FORMAT": "json",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from incident.entrypoints.cli import main; main()",
            "worker",
            "dispatcher",
        ],
        env=env,
        timeout=120,
        capture_output=True,
    )
    return proc.returncode


def run_until_crash(settings: Settings, failpoint: str, rows: list[dict[str, Any]]) -> str:
    """Relay and enricher in this process, the dispatcher in a subprocess that dies."""
    with runtime(settings) as rt:
        seed(rt, rows)
        stop = threading.Event()
        threads = start_threads(rt, stop, [("relay", run_relay), ("enricher", run_enricher)])
        try:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            assert crash_dispatcher(settings, failpoint) == EXIT_CODE
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    return incident_id


def message_ids_after_crash(
    settings: Settings, smtp: RecordingSMTPServer, failpoint: str, n: int
) -> Counter[str]:
    """Crash a dispatcher at `failpoint`, restart the workers until all `n` people are told,
    and count what the SMTP server received by Message-ID."""
    rows = people(n)
    incident_id = run_until_crash(settings, failpoint, rows)
    with runtime(settings) as rt, workers(rt):
        counts = wait_settled(rt, incident_id, n, timeout=90)
    assert counts.sent == n
    return Counter(m["Message-ID"] for m in parsed(smtp))


def test_a_dispatcher_killed_between_claim_and_send_leaves_no_one_unnotified(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(
        sqlite_url, kafka_broker, smtp_server, batch_size=50, claim_lease_seconds=5.0
    )
    rows = people(200)
    incident_id = run_until_crash(settings, "dispatch.after_claim@2", rows)
    before_restart = len(smtp_server.messages)
    assert 0 < before_restart < 200  # it died mid-fan-out
    with runtime(settings) as rt, workers(rt):
        counts = wait_settled(rt, incident_id, 200, timeout=90)
    assert counts.sent == 200
    recipients = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert len(recipients) == 200 and set(recipients.values()) == {1}


def test_a_dispatcher_killed_after_send_before_record_resends_with_the_same_message_id(
    postgres_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(
        postgres_url,
        kafka_broker,
        smtp_server,
        batch_size=50,
        claim_lease_seconds=5.0,
        record_each_message=True,
    )
    # Killed the moment the relay accepted the 75th message, in the middle of a batch.
    by_message_id = message_ids_after_crash(settings, smtp_server, "dispatch.after_accept@75", 200)
    # Each message is recorded as soon as it is accepted, before its connection sends another:
    # only what was on the wire is sent again, with the same Message-ID so mail systems can
    # fold the duplicate. The bound is the channel's connections (4 here), not the batch (50).
    assert len(by_message_id) == 200
    duplicates = sum(n - 1 for n in by_message_id.values())
    assert 1 <= duplicates <= settings.channels["email"]["concurrency"], duplicates


def test_a_dispatcher_recording_each_message_killed_after_its_batch_resends_nothing(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(
        sqlite_url,
        kafka_broker,
        smtp_server,
        batch_size=50,
        claim_lease_seconds=5.0,
        record_each_message=True,
    )
    by_message_id = message_ids_after_crash(settings, smtp_server, "dispatch.before_record@2", 120)
    assert len(by_message_id) == 120 and set(by_message_id.values()) == {1}


def test_a_dispatcher_recording_per_batch_killed_before_its_record_resends_at_most_a_batch(
    postgres_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    settings = make_settings(
        postgres_url, kafka_broker, smtp_server, batch_size=50, claim_lease_seconds=5.0
    )
    by_message_id = message_ids_after_crash(settings, smtp_server, "dispatch.before_record@2", 200)
    # The default records a batch at its end: the crash window is one batch, resent with the
    # same Message-ID so mail systems can fold the duplicates.
    assert len(by_message_id) == 200
    duplicates = sum(n - 1 for n in by_message_id.values())
    assert 0 < duplicates <= 50
