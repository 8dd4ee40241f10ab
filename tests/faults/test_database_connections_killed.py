"""PostgreSQL terminates the service's connections mid-batch (an administrator's
pg_terminate_backend, a failover, a proxy restart): the workers ride it out on fresh
connections and everybody is told exactly once."""

from __future__ import annotations

import secrets
import time

import psycopg
import pytest

from incident.adapters.local_broker import LocalBroker
from tests.conftest import POSTGRES_DSN
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_nobody_unreachable,
    assert_running,
    service,
    settle,
    wait_for,
)
from tests.support.faulty_smtp import FaultySMTPServer


def _terminate(application_name: str) -> int:
    """End every backend of this test's service (found by its application_name)."""
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_database_connections_terminated_mid_batch_cost_nobody_their_notice(
    postgres_url: str, kafka_broker: LocalBroker, faulty_smtp: FaultySMTPServer
) -> None:
    name = f"bn_fault_{secrets.token_hex(4)}"
    url = f"{postgres_url}&application_name={name}"
    settings = make_settings(url, kafka_broker, faulty_smtp, batch_size=10)
    faulty_smtp.data_delay = 0.2  # ~20 messages a second over 4 connections
    rows = people(50)
    with runtime(settings) as rt:
        seed(rt, rows)
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            wait_for("the fan-out to start", lambda: len(faulty_smtp.messages) >= 6, threads)
            terminated = 0
            until = time.monotonic() + 2.0
            while time.monotonic() < until:  # batches are claimed, in flight, being recorded
                terminated += _terminate(name)
                time.sleep(0.05)
            sent_during = len(faulty_smtp.messages)
            counts = settle(rt, incident_id, 50, threads, timeout=40)
            assert_running(threads)
        assert terminated >= 3, terminated
        print(f"terminated {terminated} backends; {sent_during} of 50 sent by then")
        assert sent_during < 50, "the fault came after the fan-out: nothing was tested"
        assert counts.sent == 50
        assert_nobody_unreachable(rt.engine, incident_id, 50)
    assert_each_notified_once(faulty_smtp, [r["email"] for r in rows])
