"""`breachnotice serve` stops on SIGTERM without abandoning work: in-flight notices are finished
and recorded, offsets committed, and a restart completes the rest with no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import DeliveryAttempt
from incident.entrypoints.workers import wait_until
from incident.service.progress import notice_counts
from incident.settings import Settings
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, settings_env
from tests.support.smtp import RecordingSMTPServer


def start_serve(settings: Settings, dispatchers: int, log: Path) -> subprocess.Popen[bytes]:
    """The service's log goes to a file: a pipe nobody reads would fill up and block it."""
    env = {**os.environ, **settings_env(settings), "BREACHNOTICE_LOG_FORMAT": "json"}
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from incident.entrypoints.cli import main; main()",
                "serve",
                "--dispatchers",
                str(dispatchers),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def terminate(proc: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=90)
    return proc.returncode, log.read_text()


@pytest.mark.parametrize("dispatchers", [1, 2], ids=["one-dispatcher", "two-processes"])
def test_sigterm_mid_fan_out_finishes_in_flight_work_and_a_restart_completes_the_rest(
    postgres_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
    dispatchers: int,
    tmp_path: Path,
) -> None:
    settings = make_settings(postgres_url, kafka_broker, smtp_server, batch_size=20)
    rows = people(300)
    with runtime(settings) as rt:
        seed(rt, rows)
        first = start_serve(settings, dispatchers, tmp_path / "first.log")
        time.sleep(1)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        assert wait_until(lambda: len(smtp_server.messages) > 0, timeout=60)
        code, stderr = terminate(first, tmp_path / "first.log")
        assert code == 0, stderr
        assert "stopped: in-flight work finished, offsets committed" in stderr
        with Session(rt.engine) as s:
            claims = s.exec(select(DeliveryAttempt.status)).all()
        assert "sending" not in claims  # nothing left half-done
        assert notice_counts(rt.engine, incident_id).pending > 0  # it stopped mid fan-out
        second = start_serve(settings, dispatchers, tmp_path / "second.log")
        try:
            assert wait_until(lambda: notice_counts(rt.engine, incident_id).done, timeout=90)
        finally:
            code, stderr = terminate(second, tmp_path / "second.log")
        assert code == 0, stderr
    recipients = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert len(recipients) == 300 and set(recipients.values()) == {1}
