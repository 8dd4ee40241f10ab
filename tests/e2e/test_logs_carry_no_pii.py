"""Operators read the logs; affected people's contact details and notice text never reach them."""

from __future__ import annotations

import io
import json

from incident.adapters.local_broker import LocalBroker
from incident.log import configure_logging
from tests.e2e.harness import (
    incident_spec,
    make_settings,
    people,
    raise_for,
    runtime,
    seed,
    wait_settled,
    workers,
)
from tests.support.smtp import RecordingSMTPServer


def test_a_full_run_with_failures_logs_no_contact_detail_and_no_notice_text(
    sqlite_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
) -> None:
    stream = io.StringIO()
    # Everything at DEBUG, the libraries too: the SMTP server and clients must still log no body.
    configure_logging(fmt="json", level="debug", stream=stream, libraries="debug")
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    rows = people(20) + people(2, prefix="q", email=False)
    smtp_server.refuse("p0003@example.com")
    smtp_server.defer("p0004@example.com", times=1)
    with runtime(settings) as rt, workers(rt):
        seed(rt, rows)
        incident_id = raise_for(rt, [r["id"] for r in rows])
        wait_settled(rt, incident_id, 22)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    events = {line["event"] for line in lines}
    assert {"incident_enriched", "delivery_sent", "delivery_failed", "delivery_retry"} <= events
    assert all(
        line.get("incident_id") == incident_id
        for line in lines
        if line["event"] == "incident_enriched"
    )
    text = stream.getvalue()
    spec = incident_spec(["p0000"])
    secrets = [
        value for row in rows for value in (row["email"], row["phone"], row["name"]) if value
    ] + [spec.description["en"], spec.remedies["en"], spec.impact["en"]]
    leaked = [s for s in secrets if s in text]
    assert leaked == []
