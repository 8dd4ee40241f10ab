"""Two dispatchers on PostgreSQL finish one incident together: no deadlock between their
batch rows and the incident lock the obligations take, and every obligation met once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import structlog
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AuditEvent
from incident.entrypoints.workers import wait_until
from incident.service.obligations import open_obligations
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, wait_settled, workers
from tests.support.smtp import RecordingSMTPServer


@pytest.mark.slow
def test_two_dispatchers_share_an_incident_without_deadlock_and_meet_each_obligation_once(
    postgres_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    settings = make_settings(
        postgres_url, kafka_broker, smtp_server, batch_size=20,
        fallback_chain=["email", "announcement", "regulator"],
    )  # fmt: skip
    settings.channels["announcement"] = {"web_root": str(tmp_path / "public")}
    settings.channels["regulator"] = {"export_dir": str(tmp_path / "reports")}
    rows = people(300)
    with (
        structlog.testing.capture_logs() as logs,
        runtime(settings) as rt,
        workers(rt, dispatchers=2),
    ):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        counts = wait_settled(rt, incident_id, 300, timeout=180)

        def individuals_met() -> bool:  # met where the incident settles, under its lock
            with Session(rt.engine) as s:
                obs = open_obligations(s, incident_id=incident_id)
            return any(o.status == "met" for o in obs if o.recipient == "individuals")

        assert wait_until(individuals_met, timeout=60)
        with Session(rt.engine) as s:
            obligations = open_obligations(s, incident_id=incident_id)
            met_rows = s.exec(
                select(AuditEvent).where(
                    AuditEvent.incident_id == incident_id, AuditEvent.kind == "obligation_met"
                )
            ).all()
    assert counts.sent == 300
    restarts = [e for e in logs if e["event"] in ("worker_restarting", "worker_gave_up")]
    assert restarts == [], restarts
    met = {o.key for o in obligations if o.status == "met"}
    assert met, [(o.key, o.recipient, o.status) for o in obligations]
    assert Counter(r.detail["key"] for r in met_rows) == Counter(dict.fromkeys(met, 1))
